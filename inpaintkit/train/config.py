"""Training configs: YAML in groups, validated with pydantic (unknown keys and wrong types are errors).

A config file has the groups ``data``, ``masks``, ``model``, ``discriminator``, ``losses``, ``optim``, ``train``
and ``run``. ``model.name`` picks the registered family; the family's own pydantic classes validate the ``model``,
``discriminator`` and ``losses`` groups, the classes below validate the rest. ``--set a.b=value`` overrides one key
(the value parsed as a YAML scalar); a key that does not exist is an error naming it and listing the valid ones.

The resolved config (defaults filled in, overrides applied) is written to the run folder as ``config.yaml``, so a
run reloads from its folder alone.

Detector configs (``inpaintkit forensics train``, ``forensics/train.py``) have other, fixed groups; they load through
``load_grouped`` with the same reading, overrides, checks and error lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from ..errors import InpaintKitError
from ..models.base import MODELS, StrictConfig

GROUPS = ("data", "masks", "model", "discriminator", "losses", "optim", "train", "run")
C = TypeVar("C", bound=BaseModel)


class DataConfig(StrictConfig):
    """Where the photos come from and how training crops are cut."""

    #: An index (``.jsonl`` from ``inpaintkit prepare``) or a folder of images.
    root: Optional[str] = None
    #: Validation photos: an index (its ``val`` split is used; default: ``root`` when that is an index) or a folder.
    val_root: Optional[str] = None
    #: Training crop side in pixels (square).
    size: int = Field(256, ge=8)
    #: Random crops: the crop side before resizing to ``size`` is ``short_side * U(min_scale, max_scale)`` (LaMa
    #: trains at 256² on crops of larger photos, so a crop sees a random share of the photo).
    min_scale: float = Field(0.25, gt=0, le=1)
    max_scale: float = Field(1.0, gt=0, le=1)
    flip: bool = True
    #: Validation images (fixed centre crops of ``size``) and masks per image.
    val_count: int = Field(16, ge=1)
    num_workers: int = Field(0, ge=0)
    #: Photos are decoded once and kept downscaled so their short side is at most this (0: keep full size).
    cache_short_side: int = Field(0, ge=0)


class MasksConfig(StrictConfig):
    """Training masks: a mixture of ``inpaintkit.masks`` generators, or on-demand learning's difficulty bands."""

    #: ``[{kind: ..., p: ..., **params}]`` for ``MaskMixture.from_config``.
    mix: list[dict[str, Any]] = Field(default_factory=lambda: [{"kind": "irregular", "p": 1.0}])
    #: On-demand learning (Gao & Grauman 2017): masks of ``n_bands`` difficulty bands, shares set by running PSNR.
    ondemand: bool = False
    n_bands: int = Field(5, ge=1)
    #: Seed of the fixed validation masks.
    val_seed: int = 1234


class OptimizerConfig(StrictConfig):
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)


class OptimConfig(StrictConfig):
    """Adam(W) for the generator and for the discriminators, one LR schedule for both."""

    generator: OptimizerConfig = Field(default_factory=OptimizerConfig)
    discriminator: OptimizerConfig = Field(default_factory=lambda: OptimizerConfig(lr=1e-4))
    schedule: Literal["constant", "cosine", "step"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    #: ``cosine``: the LR decays to ``lr * min_lr_ratio`` at ``train.steps``.
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    #: ``step``: the LR is multiplied by ``gamma`` every ``step_size`` steps.
    step_size: int = Field(1000, ge=1)
    gamma: float = Field(0.5, gt=0)
    #: Clip the global gradient norm (0: off).
    grad_clip: float = Field(0.0, ge=0)


class TrainConfig(StrictConfig):
    steps: int = Field(1000, ge=1)
    batch_size: int = Field(8, ge=1)
    #: Micro-batches per optimizer step (effective batch: batch_size * grad_accum * world size).
    grad_accum: int = Field(1, ge=1)
    seed: int = 0
    device: str = "auto"
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    compile: bool = False
    #: EMA decay of the generator weights (0: no EMA); validation and the inpainter use the EMA weights.
    ema: float = Field(0.999, ge=0, lt=1)
    log_every: int = Field(10, ge=1)
    val_every: int = Field(100, ge=1)
    ckpt_every: int = Field(100, ge=1)
    image_every: int = Field(500, ge=1)
    #: Torch intra-op threads on CPU (0: torch's default).
    threads: int = Field(0, ge=0)
    #: Which validation score picks the ``best`` checkpoint: ``psnr`` (composite PSNR), or ``psnr_lpips``: PSNR
    #: minus ``select_lpips_weight`` x ``lpips_hed`` (the bundled VGG16 features; a fill that is sharp but a little
    #: off beats a smooth smear with the same PSNR).
    select_by: Literal["psnr", "psnr_lpips"] = "psnr"
    select_lpips_weight: float = Field(10.0, ge=0)
    #: Fine-tune: start from another run's weights instead of random ones — a run folder (its best, else last,
    #: generator, the EMA copy when kept) or a generator ``.safetensors`` file (e.g. the bundled default's); its
    #: ``discriminators.safetensors``, when next to it, too. Steps, optimizers and schedule start fresh. Same family
    #: and model config required.
    init_from: Optional[str] = None


class RunConfig(StrictConfig):
    #: The run folder (config, checkpoints, TensorBoard events).
    dir: str = "runs/default"
    tensorboard: bool = True
    progress: bool = True


class Config(BaseModel):
    """A resolved training config. ``model``/``discriminator``/``losses`` are the family's own config classes."""

    model_config = {"arbitrary_types_allowed": True, "extra": "forbid"}

    family: str
    data: DataConfig
    masks: MasksConfig
    model: StrictConfig
    discriminator: StrictConfig
    losses: StrictConfig
    optim: OptimConfig
    train: TrainConfig
    run: RunConfig

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the YAML layout (``model.name`` first)."""
        out: dict[str, Any] = {}
        for g in GROUPS:
            d = getattr(self, g).model_dump(mode="json")
            out[g] = {"name": self.family, **d} if g == "model" else d
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


_FIXED: dict[str, type[StrictConfig]] = {
    "data": DataConfig,
    "masks": MasksConfig,
    "optim": OptimConfig,
    "train": TrainConfig,
    "run": RunConfig,
}


def _group_classes(family: str) -> dict[str, type[BaseModel]]:
    cls = MODELS.get(family).obj
    return {**_FIXED, "model": cls.ModelConfig, "discriminator": cls.DiscriminatorConfig, "losses": cls.LossConfig}


def _one_line(err: ValidationError, where: str) -> str:
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"])
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{loc}: {msg}" + (f" (got {e['input']!r})" if e["type"] != "extra_forbidden" else ""))
    more = f" (+{len(err.errors()) - 3} more)" if len(err.errors()) > 3 else ""
    return f"{where}: " + "; ".join(parts) + more


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["train.steps=10", "optim.generator.betas=[0.5, 0.9]"]`` -> ``{"train.steps": 10, ...}`` (YAML values)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InpaintKitError(f"--set {pair!r}: expected KEY=VALUE with a dotted key, e.g. train.steps=100")
        try:
            out[key] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise InpaintKitError(f"--set {pair!r}: the value is not valid YAML") from None
    return out


def cli_overrides(set_: list[str] | None, extra: list[str] | None = None) -> dict[str, Any]:
    """The ``--set`` overrides of a training command: ``--set a=1 b=2`` works like ``--set a=1 --set b=2`` (the
    extra ``KEY=VALUE`` words after ``--set`` belong to it); any other stray word is an error."""
    extra = list(extra or [])
    stray = [a for a in extra if "=" not in a or a.startswith("-")]
    if stray:
        raise InpaintKitError(f"unexpected argument(s) {' '.join(stray)}; overrides go after --set as KEY=VALUE")
    if extra and not set_:
        raise InpaintKitError(f"unexpected argument(s) {' '.join(extra)}; put overrides after --set")
    return parse_overrides([*(set_ or []), *extra])


def _check_key(key: str, classes: dict[str, type[BaseModel]], groups: tuple[str, ...] = GROUPS) -> None:
    """An override key must name a field: every dotted part down to a non-config value must exist."""
    parts = key.split(".")
    if parts[0] not in groups:
        raise InpaintKitError(f"--set {key}: unknown group {parts[0]!r}; choose from: {', '.join(groups)}")
    if parts == ["model", "name"] and groups == GROUPS:  # picks the family, checked when the config resolves
        return
    cls: Any = classes[parts[0]]
    for i, p in enumerate(parts[1:], start=1):
        fields = getattr(cls, "model_fields", None)
        if fields is None:  # below a plain dict/list value: free-form
            return
        if p not in fields:
            where = ".".join(parts[:i])
            raise InpaintKitError(
                f"--set {key}: unknown key {p!r} in {where}; valid keys: {', '.join(fields) or '(none)'}"
            )
        ann = fields[p].annotation
        cls = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if cls is None and i < len(parts) - 1:
            return


def apply_overrides(
    raw: dict[str, Any], overrides: dict[str, Any], classes: dict[str, type[BaseModel]] | None = None
) -> dict[str, Any]:
    """Set dotted keys in a raw (YAML) config dict. Keys are checked against ``classes`` (group -> config class;
    default: the inpainting groups of the family that ``model.name`` names)."""
    out = {g: dict(v) if isinstance(v, dict) else v for g, v in raw.items()}
    groups = GROUPS
    if classes is None:
        family = overrides.get("model.name", (out.get("model") or {}).get("name"))
        classes = _group_classes(family) if family in MODELS else None
    else:
        groups = tuple(classes)
    for key, value in overrides.items():
        if classes is not None:
            _check_key(key, classes, groups)
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
            else:
                nxt = dict(nxt)
            node[p] = nxt
            node = nxt
        node[parts[-1]] = value
    return out


def _check_groups(raw: Any, groups: tuple[str, ...], where: str) -> None:
    """A raw config is a mapping of known groups, each a mapping (or empty)."""
    if not isinstance(raw, dict):
        raise InpaintKitError(f"{where}: expected a mapping of groups ({', '.join(groups)})")
    unknown = sorted(set(raw) - set(groups))
    if unknown:
        raise InpaintKitError(f"{where}: unknown group(s) {', '.join(unknown)}; choose from: {', '.join(groups)}")
    for g, v in raw.items():
        if v is not None and not isinstance(v, dict):
            raise InpaintKitError(f"{where}: group {g!r} must be a mapping, got {type(v).__name__}")


def _validate_group(cls: type[BaseModel], data: dict[str, Any], where: str, group: str) -> BaseModel:
    try:
        return cls(**data)
    except ValidationError as e:
        raise InpaintKitError(_one_line(e, f"{where}: {group}")) from None
    except TypeError as e:
        raise InpaintKitError(f"{where}: {group}: {e}") from None


def resolve_config(raw: dict[str, Any], where: str = "config") -> Config:
    """Validate a raw config dict into a ``Config``; any problem is one ``InpaintKitError`` line."""
    _check_groups(raw, GROUPS, where)
    model = dict(raw.get("model") or {})
    family = model.pop("name", None)
    if not family:
        raise InpaintKitError(f"{where}: model.name is missing; choose from: {', '.join(MODELS.names())}")
    if family not in MODELS:
        raise InpaintKitError(f"{where}: unknown model.name {family!r}; choose from: {', '.join(MODELS.names())}")
    classes = _group_classes(family)
    groups = {
        g: _validate_group(classes[g], model if g == "model" else dict(raw.get(g) or {}), where, g) for g in GROUPS
    }
    cfg = Config(family=family, **groups)
    if cfg.data.min_scale > cfg.data.max_scale:
        raise InpaintKitError(
            f"{where}: data.min_scale ({cfg.data.min_scale}) is above data.max_scale ({cfg.data.max_scale})"
        )
    return cfg


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InpaintKitError(f"{p}: no such config file")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise InpaintKitError(f"{p}: not valid YAML ({' '.join(str(e).split())})") from None
    return raw or {}


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> Config:
    """Read a YAML config (or start from ``base``), apply overrides, validate."""
    raw = read_yaml(path) if path is not None else dict(base or {})
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    raw = apply_overrides(raw, overrides or {})
    return resolve_config(raw, str(path) if path is not None else "config")


def load_run_config(path: str | Path) -> Config:
    """The resolved config of a run folder (``config.yaml``)."""
    return load_config(path)


def load_grouped(
    schema: type[C],
    path: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> C:
    """``load_config`` for a config whose groups are fixed classes (``schema``'s fields, e.g. a detector's): the
    same YAML reading, ``--set`` overrides checked key by key, and one-line errors naming the key."""
    classes = {g: f.annotation for g, f in schema.model_fields.items()}
    raw = read_yaml(path) if path is not None else dict(base or {})
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    raw = apply_overrides(raw, overrides or {}, classes)
    where = str(path) if path is not None else "config"
    _check_groups(raw, tuple(classes), where)
    return schema(**{g: _validate_group(cls, dict(raw.get(g) or {}), where, g) for g, cls in classes.items()})


def tiny_config(family: str, **groups: dict[str, Any]) -> dict[str, Any]:
    """A raw config for a tiny model of ``family`` (its ``Family.tiny_config()``), merged with ``groups``."""
    cls = MODELS.get(family).obj
    raw: dict[str, Any] = {g: dict(v) for g, v in cls.tiny_config().items()}
    raw["model"] = {"name": family, **raw.get("model", {})}
    for g, v in groups.items():
        raw[g] = {**raw.get(g, {}), **v}
    return raw
