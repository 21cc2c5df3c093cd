"""The training system: configs in groups (``config``), the one loop (``loop.fit``) with its inpainting task
(``trainer.train``; detectors are a task of it too, ``forensics/train.py``), checkpoints and run folders
(``checkpoint``), EMA and multi-process helpers. ``inpaintkit train --config configs/<model>.yaml``.
"""

from .config import Config, load_config, parse_overrides, resolve_config

__all__ = ["Config", "load_config", "parse_overrides", "resolve_config"]
