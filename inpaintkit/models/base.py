"""The contract between learned inpainting families, the trainer and the inpainter registry.

A *family* (pconv, glcic, deepfill_v2, context_encoder, pix2pix, lama, tdanet, ...) is an ``nn.Module`` that owns

- ``generator``: ``forward(image, mask) -> image`` with ``image`` float32 (N, 3, H, W) in [0, 1] and ``mask``
  float32 (N, 1, H, W), **1 = hole**. The generator sees the image with the hole already zeroed and returns a raw
  prediction for every pixel in [0, 1]; compositing with the known pixels is the caller's job
  (``composite(pred, image, mask)``);
- ``discriminators``: an ``nn.ModuleDict`` (empty for reconstruction-only families);
- its training task: ``prepare_training(captions)`` (once, before the first step: e.g. a vocabulary from the
  training captions), then per step ``generator_step`` and ``discriminator_step``, which return dicts of *weighted*
  named losses whose keys are the loss-config keys (``{"l1_hole": ..., "adv": ...}``: config key = log key, and
  where the term is one function of ``inpaintkit.losses``, its name). The trainer sums them, steps the optimizers
  and logs each key.
  A renamed config key keeps old configs and run folders loading through ``renamed_keys``.

Three pydantic models describe the config groups a family reads: ``ModelConfig`` (group ``model``),
``DiscriminatorConfig`` (group ``discriminator``) and ``LossConfig`` (group ``losses``). They forbid unknown keys.

``@register_model(name, description=...)`` puts the family in ``MODELS`` (the trainer's list) and registers an
inpainter of the same name in the inpainter registry, which loads a trained run (``checkpoint=RUN_DIR``).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Sequence, Union

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from ..losses.pixel import composite  # noqa: F401  (re-exported: the families composite with it)
from ..registry import Registry

#: What ``Family.generator_step`` returns: ``(losses, pred)`` or ``(losses, pred, fakes)``.
GeneratorStep = Union[
    tuple[dict[str, torch.Tensor], torch.Tensor],
    tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]],
]


class StrictConfig(BaseModel):
    """Base of every config group: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=False, validate_assignment=True)


def renamed_keys(data: Any, renamed: dict[str, str], group: str) -> Any:
    """Config migration for a ``mode="before"`` validator: ``old`` keys of a raw group mapping become their ``new``
    name, with one ``FutureWarning`` naming them (old run folders and configs keep loading). Both names at once is
    an error (which one was meant is unknown)."""
    if not isinstance(data, dict) or not any(old in data for old in renamed):
        return data
    data, moved = dict(data), []
    for old, new in renamed.items():
        if old not in data:
            continue
        if new in data:
            raise ValueError(f"{group}.{old} is the old name of {group}.{new}; give only {new}")
        data[new] = data.pop(old)
        moved.append(f"{group}.{old} was renamed {group}.{new}")
    warnings.warn(
        f"old config key(s): {'; '.join(moved)}; read under the new names, write those in new configs",
        FutureWarning,
        stacklevel=2,
    )
    return data


class NoConfig(StrictConfig):
    """A config group a family does not use (it must then be empty)."""


def zero_hole(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The generator's view of the input: hole pixels set to 0. (N,3,H,W), (N,1,H,W) -> (N,3,H,W)"""
    return image * (1.0 - mask)


class InferenceGraph(nn.Module):
    """What inference computes, as a module of its own (what ``inpaintkit.export`` traces): the family's generator on
    the zeroed-hole image, clamped and composited. (N,3,H,W), (N,1,H,W) -> (N,3,H,W) in [0, 1]."""

    def __init__(self, family: Family):
        super().__init__()
        self.generator = family.generator

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pred = self.generator(zero_hole(image, mask), mask)  # (N,3,H,W)
        return composite(pred.clamp(0.0, 1.0), image, mask)


class Family(nn.Module):
    """Base class of a learned family; see the module docstring for the contract."""

    name: ClassVar[str] = ""
    ModelConfig: ClassVar[type[StrictConfig]] = NoConfig
    DiscriminatorConfig: ClassVar[type[StrictConfig]] = NoConfig
    LossConfig: ClassVar[type[StrictConfig]] = NoConfig
    #: Generator input sides must be a multiple of this (used by the inpainter's padding).
    pad_multiple: ClassVar[int] = 8
    #: Generator inputs smaller than this are padded up (context encoder: its fixed input size).
    min_size: ClassVar[int] = 1

    generator: nn.Module
    discriminators: nn.ModuleDict

    def __init__(self, model: StrictConfig, discriminator: StrictConfig, losses: StrictConfig):
        super().__init__()
        self.model_cfg, self.disc_cfg, self.loss_cfg = model, discriminator, losses
        self.discriminators = nn.ModuleDict()

    def prepare_training(self, captions: Sequence[str]) -> None:
        """Called by the trainer once before the first step (also on resume) with every caption of the training
        records, the same on every rank: a family that learns a vocabulary builds it here, never inside a step."""

    def generator_step(self, batch: dict[str, Any], step: int) -> GeneratorStep:
        """Losses for the generator update and the raw prediction (N, 3, H, W): ``(losses, pred)``, or
        ``(losses, pred, fakes)`` when the discriminator step needs more generated images than ``pred``.

        ``batch`` has ``image`` (N,3,H,W) in [0,1], ``mask`` (N,1,H,W) 1 = hole, and optionally ``caption``.
        ``fakes`` (name -> tensor) reach ``discriminator_step`` as keyword arguments, detached by the trainer, so a
        family keeps no state between the two steps.
        """
        raise NotImplementedError

    def discriminator_step(
        self, batch: dict[str, Any], pred: torch.Tensor, step: int, **fakes: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Losses for the discriminator update given the generator's (detached) prediction and the ``fakes`` its
        step returned. Empty: no update."""
        return {}

    def trains_generator(self, step: int) -> bool:
        """Whether the generator is updated at ``step`` (GLCIC's phases switch this)."""
        return True

    def trains_discriminator(self, step: int) -> bool:
        """Whether the discriminators are updated at ``step``."""
        return len(self.discriminators) > 0

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        """Config groups (``{"model": {...}, "discriminator": {...}, "losses": {...}}``) of a tiny variant that runs
        forward/backward at 64x64 in well under a second on CPU; the shared model test and the training tests use it.
        Every family must override this."""
        raise NotImplementedError(f"{cls.__name__} does not define tiny_config()")

    def inference_graph(self) -> InferenceGraph:
        """The inference computation as a module (``predict`` without per-call options), for export."""
        return InferenceGraph(self)

    @torch.no_grad()
    def predict(self, image: torch.Tensor, mask: torch.Tensor, **kw: Any) -> torch.Tensor:
        """Composite fill for inference: (N,3,H,W), (N,1,H,W) -> (N,3,H,W) in [0, 1]."""
        pred = self.generator(zero_hole(image, mask), mask, **kw)
        return composite(pred.clamp(0, 1), image, mask)


MODELS: Registry[type[Family]] = Registry("model")


def create_model(
    name: str, model: dict | None = None, discriminator: dict | None = None, losses: dict | None = None
) -> Family:
    """Build a family from plain dicts of its config groups (validated; unknown keys are errors)."""
    cls = MODELS.get(name).obj
    return cls(
        cls.ModelConfig(**(model or {})),
        cls.DiscriminatorConfig(**(discriminator or {})),
        cls.LossConfig(**(losses or {})),
    )


def list_models(pattern: str | None = None) -> list[str]:
    return MODELS.names(pattern)
