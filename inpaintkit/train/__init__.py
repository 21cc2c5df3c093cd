"""The training system: configs in groups (``config``), the loop (``trainer.train``), checkpoints and run folders
(``checkpoint``), EMA and multi-process helpers. ``inpaintkit train --config configs/<model>.yaml``.
"""

from .config import Config, load_config, parse_overrides, resolve_config

__all__ = ["Config", "load_config", "parse_overrides", "resolve_config"]
