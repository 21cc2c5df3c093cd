"""TDANet: Text-Guided Neural Image Inpainting (Zhang, Chen, Li, Zhang, Wang; ACM MM 2020, arXiv 2004.03212),
built on Pluralistic Image Completion's two-path VAE-GAN (Zheng, Cham, Cai; CVPR 2019).

Generator (``TDANetGenerator``):

- image encoder: ``levels`` (5) residual down-sampling blocks, base width ``width`` (32), shared by both paths. Its
  top level (H/32) gives the high-level features the text attends to, the level below (H/16) the low-level
  features the decoder's long-term attention copies from;
- text encoder (``layers/text.py``): pretrained all-MiniLM-L6-v2, frozen (``minilm``), or a bidirectional GRU
  trained with the model (``bigru``, hidden 256, vocabulary built from the training captions before training,
  ``prepare_training``, and kept in a buffer);
- dual multimodal attention (``layers/multimodal.py``). Inpainting path: *negated* word-region attention on the
  visible regions, max-pooled -> the words the visible image explains least. Auxiliary path (training only; it sees
  the hole's ground truth): positive attention on the hole regions. Each path fuses [image features, pooled text,
  sentence] through its own 5-block residual network with spectral normalisation into a Gaussian (mu, sigma) at
  H/32; a latent drawn from it is *added* to the visible image's top features, so one input gives diverse fills;
- decoder: ``levels`` residual up-sampling blocks, short+long-term attention after the first one, RGB outputs at
  the last ``output_scales`` levels (multi-scale supervision);
- ``prefill: binomial`` (our addition; set in configs/tdanet.yaml): the inpainting path sees the push-pull
  pre-fill of the hole rather than a black hole, and each RGB output corrects the pre-fill's logit — so the network
  only learns what the caption (or the context) adds to a smooth fill, and a small network does not smear real
  photos.

Training (``generator_step``): the auxiliary path decodes a latent from the posterior p(z | hole, text) (the
reconstruction path ``rec``), the inpainting path one from the prior q(z | visible, text) (``g``). Losses (keys of
``configs/tdanet.yaml``'s ``losses``): ``kl_rec`` = KL(p || N(0, I)), ``kl_g`` = KL(sg[p] || q) (ties the paths),
``l1_rec``/``l1_g`` multi-scale L1 against the ground truth (x20; ``hole_weight`` can weight hole pixels up),
``adv`` LSGAN on two residual discriminators
(``g`` judges the inpainting path, ``rec`` the reconstruction path), ``feature_matching`` on their features, and
``match_word``/``match_sentence``: DAMSM-style image-text matching (Xu et al., AttnGAN, 2018) between projected
regions of the completed image and the caption's words/sentence, against the other captions of the batch.
Adam lr 1e-4, betas (0, 0.999) as in the paper. Mask convention: 1 = hole (the reference code used 1 = valid).

Inference: ``create_inpainter("tdanet", checkpoint=RUN)(image, mask, caption="a red bird", seed=3)``; different
seeds give different completions (``inpaintkit run --samples N``), ``diversity=`` (``--opt diversity=4``) scales
how different. An empty caption is allowed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import InpaintKitError
from ..layers.multimodal import (
    DualMultimodalAttention,
    ShortLongTermAttention,
    damsm_sentence_loss,
    damsm_word_loss,
)
from ..layers.prefill import push_pull_fill
from ..layers.text import (
    BiGRUTextEncoder,
    TextFeatures,
    _as_list,
    create_text_encoder,
    tokenize,
)
from ..losses import PerceptualStyle, discriminator_adversarial, feature_matching, generator_adversarial
from .base import Family, GeneratorStep, StrictConfig, composite, zero_hole
from .inpainter import register_model


class TDANetModelConfig(StrictConfig):
    width: int = Field(32, ge=1)
    max_width: int = Field(256, ge=1)
    #: Down-/up-sampling levels (inputs are padded to multiples of 32).
    levels: int = Field(5, ge=2, le=5)
    text_encoder: Literal["minilm", "bigru"] = "minilm"
    #: MiniLM: keep the pretrained weights frozen (not saved with the checkpoint).
    text_frozen: bool = True
    gru_hidden: int = Field(256, ge=1)
    gru_embed: int = Field(300, ge=1)
    vocab_size: int = Field(5000, ge=3)
    max_words: int = Field(48, ge=1)
    #: Dimension of the pooled text vectors the fusion networks and the decoder see.
    text_dim: int = Field(256, ge=1)
    fusion_blocks: int = Field(5, ge=1)
    output_scales: int = Field(4, ge=1)
    #: Short+long-term attention in the decoder.
    attention: bool = True
    #: Training: share of samples whose caption is replaced by "" (so an empty caption still gives a fill).
    caption_dropout: float = Field(0.1, ge=0, le=1)
    #: Inference: the latent is mu + sample_std * sigma * eps (0: always the mean completion).
    sample_std: float = Field(1.0, ge=0)
    #: ``binomial``: the inpainting path sees the push-pull pre-fill of the hole (``layers/prefill.py``) instead of
    #: a black hole, and every output is the pre-fill's logit plus a learned correction, so a network trained on
    #: synthetic scenes and few photos still gives a smooth, colour-true fill where the caption says nothing.
    #: ``none``: the paper's zeroed hole and plain sigmoid outputs — the default here, so that a run saved before
    #: this option existed loads as it was trained; ``configs/tdanet.yaml`` sets ``binomial``.
    prefill: Literal["none", "binomial"] = "none"


class TDANetDiscriminatorConfig(StrictConfig):
    width: int = Field(32, ge=1)
    max_width: int = Field(128, ge=1)
    levels: int = Field(5, ge=1)


class TDANetLossConfig(StrictConfig):
    kl_rec: float = Field(20.0, ge=0)
    kl_g: float = Field(20.0, ge=0)
    l1_rec: float = Field(20.0, ge=0)
    l1_g: float = Field(20.0, ge=0)
    adv: float = Field(1.0, ge=0)
    feature_matching: float = Field(1.0, ge=0)
    match_word: float = Field(0.1, ge=0)
    match_sentence: float = Field(0.1, ge=0)
    #: Per-pixel weight of hole pixels in both L1 terms (known pixels: 1). 1 = the paper's plain L1; more makes
    #: the hole, where the text matters, count more than re-drawing the visible image.
    hole_weight: float = Field(1.0, ge=0)
    #: VGG16 perceptual term (mean |difference| of features, summed over ``perceptual_layers``) on the inpainting
    #: path's output, as LaMa's recipe adds it next to L1 and the adversarial loss. 0 (off) keeps runs made before
    #: it existed as they were; ``configs/tdanet.yaml`` sets it.
    perceptual: float = Field(0.0, ge=0)
    #: A torchvision-format VGG16 state dict for the perceptual term (none: the bundled VGG16 features).
    vgg_weights: Optional[str] = None
    perceptual_layers: list[str] = Field(default_factory=lambda: ["relu1_2", "relu2_2", "pool2"], min_length=1)
    #: Compute the perceptual term on at most this many images of each batch (0: all).
    perceptual_max_images: int = Field(0, ge=0)


# -- blocks --------------------------------------------------------------------------------------------------------
def _sn(module: nn.Module, use: bool) -> nn.Module:
    return spectral_norm(module) if use else module


class ResBlock(nn.Module):
    """Pre-activation residual block (LeakyReLU 0.2): ``resample`` None, "down" (avg-pool) or "up" (nearest)."""

    def __init__(self, cin: int, cout: int, resample: str | None = None, sn: bool = False):
        super().__init__()
        self.resample = resample
        self.conv1 = _sn(nn.Conv2d(cin, cout, 3, padding=1), sn)
        self.conv2 = _sn(nn.Conv2d(cout, cout, 3, padding=1), sn)
        self.skip = _sn(nn.Conv2d(cin, cout, 1), sn) if (cin != cout or resample) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "up":
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = self.conv2(F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)), 0.2))
        out = h + self.skip(x)
        return F.avg_pool2d(out, 2) if self.resample == "down" else out


def level_widths(width: int, max_width: int, levels: int) -> list[int]:
    """Channels of each level, finest first: width, 2 width, ... capped at max_width."""
    return [min(width * 2**i, max_width) for i in range(levels)]


class ImageEncoder(nn.Module):
    """(N, 4, H, W) [image, mask] -> features of every level, finest (H/2) first."""

    def __init__(self, widths: list[int]):
        super().__init__()
        chans = [4, *widths]
        self.blocks = nn.ModuleList(ResBlock(chans[i], chans[i + 1], "down") for i in range(len(widths)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for b in self.blocks:
            x = b(x)
            feats.append(x)
        return feats


class FusionNet(nn.Module):
    """[image features, text vector, sentence] -> Normal(mu, sigma), residual blocks with spectral norm."""

    def __init__(self, cin: int, channels: int, blocks: int):
        super().__init__()
        self.inp = spectral_norm(nn.Conv2d(cin, channels, 1))
        self.blocks = nn.Sequential(*[ResBlock(channels, channels, sn=True) for _ in range(blocks)])
        self.out = spectral_norm(nn.Conv2d(channels, 2 * channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.out(F.leaky_relu(self.blocks(self.inp(x)), 0.2))
        mu, s = h.chunk(2, dim=1)
        return mu, F.softplus(s) + 1e-4


class Decoder(nn.Module):
    """Top features (+ latent) and text -> RGB at the last ``output_scales`` levels (coarsest first)."""

    def __init__(self, widths: list[int], text_dim: int, output_scales: int, attention: bool):
        super().__init__()
        top = widths[-1]
        self.inject = nn.Conv2d(top + 2 * text_dim, top, 1)
        outs = [*reversed(widths[:-1]), widths[0]]  # channels after each up level
        ins = [top, *outs[:-1]]
        self.ups = nn.ModuleList(ResBlock(i, o, "up") for i, o in zip(ins, outs))
        self.attn = ShortLongTermAttention(outs[0], widths[-2]) if attention else None
        self.n_out = min(output_scales, len(outs))
        self.to_rgb = nn.ModuleList(nn.Conv2d(c, 3, 3, padding=1) for c in outs[-self.n_out :])

    def forward(
        self,
        x: torch.Tensor,
        text: torch.Tensor,
        low: torch.Tensor,
        mask: torch.Tensor,
        base: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """x (N, C, h, w), text (N, 2 text_dim), low (N, C', 2h, 2w) encoder features, mask (N, 1, H, W);
        ``base`` (N, 3, H, W) in [0, 1]: each output is sigmoid(logit(base at that scale) + RGB head)."""
        x = self.inject(torch.cat([x, text[:, :, None, None].expand(-1, -1, *x.shape[-2:])], dim=1))
        outs = []
        first_out = len(self.ups) - self.n_out
        for i, up in enumerate(self.ups):
            x = up(x)
            if i == 0 and self.attn is not None:
                x, _ = self.attn(x, low, F.adaptive_avg_pool2d(mask, x.shape[-2:]))
            if i >= first_out:
                logit = self.to_rgb[i - first_out](F.leaky_relu(x, 0.2))
                if base is not None:
                    b = base if base.shape[-2:] == logit.shape[-2:] else F.adaptive_avg_pool2d(base, logit.shape[-2:])
                    logit = logit + torch.logit(b.clamp(1e-3, 1.0 - 1e-3))
                outs.append(torch.sigmoid(logit))
        return outs


class ResDiscriminator(nn.Module):
    """Residual discriminator with spectral norm: (N, 3, H, W) -> (logits (N, 1, h, w), [features])."""

    def __init__(self, cfg: TDANetDiscriminatorConfig):
        super().__init__()
        widths = level_widths(cfg.width, cfg.max_width, cfg.levels)
        chans = [3, *widths]
        self.blocks = nn.ModuleList(ResBlock(chans[i], chans[i + 1], "down", sn=True) for i in range(cfg.levels))
        self.head = spectral_norm(nn.Conv2d(widths[-1], 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        for b in self.blocks:
            x = b(x)
            feats.append(x)
        return self.head(F.leaky_relu(x, 0.2)), feats


# -- generator -----------------------------------------------------------------------------------------------------
class TDANetGenerator(nn.Module):
    """``forward(image_zeroed, mask, caption=None, seed=None) -> (N, 3, H, W)``: the inpainting path."""

    def __init__(self, cfg: TDANetModelConfig):
        super().__init__()
        self.cfg = cfg
        self.widths = level_widths(cfg.width, cfg.max_width, cfg.levels)
        top, low = self.widths[-1], self.widths[-2]
        self.encoder = ImageEncoder(self.widths)
        if cfg.text_encoder == "minilm":
            self.text = create_text_encoder("minilm", frozen=cfg.text_frozen, max_tokens=cfg.max_words + 2)
        else:
            self.text = create_text_encoder(
                "bigru",
                hidden=cfg.gru_hidden,
                embed_dim=cfg.gru_embed,
                vocab_size=cfg.vocab_size,
                max_words=cfg.max_words,
            )
        self.dma = DualMultimodalAttention(top, self.text.dim, cfg.text_dim)
        self.sentence = nn.Linear(self.text.dim, cfg.text_dim)
        fusion_in = top + 2 * cfg.text_dim
        self.prior = FusionNet(fusion_in, top, cfg.fusion_blocks)  # inpainting path: q(z | visible, text)
        self.posterior = FusionNet(fusion_in, top, cfg.fusion_blocks)  # auxiliary path: p(z | hole, text)
        self.decoder = Decoder(self.widths, cfg.text_dim, cfg.output_scales, cfg.attention)
        # DAMSM heads: image regions (low level) and a global image code projected into the word space
        self.match_regions = nn.Conv2d(low, self.text.dim, 1)
        self.match_global = nn.Linear(top, self.text.dim)

    # pieces shared by training and inference
    def encode_text(self, captions: Sequence[str], device: torch.device) -> TextFeatures:
        return self.text(list(captions), device=device)

    def visible_input(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the inpainting path sees of the image (N, 3, H, W): the zeroed hole, or its pre-fill."""
        if self.cfg.prefill == "none":
            return zero_hole(image, mask)
        return push_pull_fill(zero_hole(image, mask), mask, kernel=self.cfg.prefill)

    def _fuse(
        self, net: FusionNet, feats: torch.Tensor, text_vec: torch.Tensor, sent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.cat([text_vec, sent], dim=1)[:, :, None, None].expand(-1, -1, *feats.shape[-2:])
        return net(torch.cat([feats, t], dim=1))

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        caption: str | Sequence[str] | None = None,
        seed: int | None = None,
        target: torch.Tensor | None = None,
        diversity: float | None = None,
    ) -> Any:
        """image (N, 3, H, W) with the hole zeroed, mask (N, 1, H, W) 1 = hole -> raw prediction (N, 3, H, W).

        ``caption``: one string for the whole batch or one per image; ``seed`` picks the latent sample
        (default 0, so a call is reproducible); ``diversity`` scales the latent's noise (default
        ``model.sample_std``; 0 = the mean completion, larger = more varied fills). With ``target`` (the ground
        truth, training) both paths run and a dict of their outputs comes back (``training_forward``); it goes
        through ``forward`` so that a DistributedDataParallel wrapper sees the whole computation.
        """
        n = image.shape[0]
        if target is not None:
            return self.training_forward(image, mask, _as_list(caption, n), target)
        text = self.encode_text(_as_list(caption, n), image.device)
        visible = self.visible_input(image, mask)
        feats = self.encoder(torch.cat([visible, mask], dim=1))
        top, low = feats[-1], feats[-2]
        frac = F.adaptive_avg_pool2d(mask, top.shape[-2:])
        t_inp, _ = self.dma(top, frac, text.words, text.mask)
        sent = self.sentence(text.sentence)
        mu, sigma = self._fuse(self.prior, top, t_inp, sent)
        gen = torch.Generator(device=image.device).manual_seed(0 if seed is None else int(seed))
        eps = torch.randn(mu.shape, generator=gen, device=image.device, dtype=mu.dtype)
        std = self.cfg.sample_std if diversity is None else _diversity(diversity)
        z = mu + std * sigma * eps
        base = None if self.cfg.prefill == "none" else visible
        return self.decoder(top + z, torch.cat([t_inp, sent], dim=1), low, mask, base)[-1]

    def training_forward(
        self, image: torch.Tensor, mask: torch.Tensor, captions: list[str], target: torch.Tensor
    ) -> dict[str, Any]:
        """Both paths: ``rec``/``gen`` multi-scale outputs (coarsest first), the posterior ``p`` and prior ``q``
        (mu, sigma), the text features, and the DAMSM ``regions`` (N, D, h, w) / ``code`` (N, D) of the
        inpainting path's composite."""
        n = image.shape[0]
        text = self.encode_text(captions, image.device)
        visible = self.visible_input(image, mask)
        # both paths through the shared encoder in one batch: [visible image, hole content]
        x = torch.cat([torch.cat([visible, mask], 1), torch.cat([target * mask, 1.0 - mask], 1)])
        feats = self.encoder(x)
        top_m, top_c = feats[-1].chunk(2)
        low_m = feats[-2][:n]
        frac = F.adaptive_avg_pool2d(mask, top_m.shape[-2:])
        t_inp, t_aux = self.dma(top_m, frac, text.words, text.mask, hole_feats=top_c)
        sent = self.sentence(text.sentence)
        q_mu, q_sigma = self._fuse(self.prior, top_m, t_inp, sent)
        p_mu, p_sigma = self._fuse(self.posterior, top_c, t_aux, sent)
        z_p = p_mu + p_sigma * torch.randn_like(p_mu)  # reparameterised samples
        z_q = q_mu + q_sigma * torch.randn_like(q_mu)
        tvec = torch.cat([t_inp, sent], dim=1)
        base = None if self.cfg.prefill == "none" else torch.cat([visible, visible])
        outs = self.decoder(
            torch.cat([top_m + z_p, top_m + z_q]),
            torch.cat([tvec, tvec]),
            torch.cat([low_m, low_m]),
            torch.cat([mask, mask]),
            base,
        )
        gen = [o[n:] for o in outs]
        done = composite(gen[-1], target, mask)
        mf = self.encoder(torch.cat([done, torch.zeros_like(mask)], 1))
        return {
            "rec": [o[:n] for o in outs],
            "gen": gen,
            "p": (p_mu, p_sigma),
            "q": (q_mu, q_sigma),
            "text": text,
            "regions": self.match_regions(mf[-2]),
            "code": self.match_global(mf[-1].mean(dim=(2, 3))),
        }


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = getattr(module, "module", None) or getattr(module, "_orig_mod", None)
        if inner is None:
            return module
        module = inner


def _pyramid(x: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    return [x if tuple(x.shape[-2:]) == s else F.adaptive_avg_pool2d(x, s) for s in sizes]


def _diversity(value: Any) -> float:
    """A per-call ``diversity`` (API, or ``--opt diversity=4``) -> a finite float >= 0, or a one-line user error."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InpaintKitError(f"diversity: expected a number >= 0, got {value!r}") from None
    if not v >= 0 or v == float("inf"):
        raise InpaintKitError(f"diversity: expected a finite number >= 0, got {value!r}")
    return v


@register_model(
    "tdanet",
    description="TDANet (Zhang 2020): text-guided, diverse fills from a caption",
    text_guided=True,
    call_options=("caption", "seed", "diversity"),
    bundled="tdanet",  # inpaintkit/weights/tdanet: the corpus run (configs/tdanet_corpus.yaml), 64x64, 5 MB
)
class TDANet(Family):
    ModelConfig = TDANetModelConfig
    DiscriminatorConfig = TDANetDiscriminatorConfig
    LossConfig = TDANetLossConfig
    pad_multiple = 32

    def __init__(self, model: TDANetModelConfig, discriminator: TDANetDiscriminatorConfig, losses: TDANetLossConfig):
        super().__init__(model, discriminator, losses)
        self.generator = TDANetGenerator(model)
        self.discriminators = nn.ModuleDict(
            {"g": ResDiscriminator(discriminator), "rec": ResDiscriminator(discriminator)}
        )
        self.perceptual = (
            PerceptualStyle(losses.vgg_weights, tuple(losses.perceptual_layers)) if losses.perceptual > 0 else None
        )

    @classmethod
    def tiny_config(cls) -> dict[str, dict[str, Any]]:
        return {
            "model": {
                "width": 4,
                "max_width": 16,
                "text_encoder": "bigru",
                "gru_hidden": 8,
                "gru_embed": 8,
                "vocab_size": 64,
                "text_dim": 8,
                "fusion_blocks": 1,
            },
            "discriminator": {"width": 4, "max_width": 8, "levels": 3},
            "losses": {},
        }

    # -- vocabulary ----------------------------------------------------------------------------------------------
    def prepare_training(self, captions: Sequence[str]) -> None:
        """BiGRU: the training captions' words get free vocabulary slots, most frequent first (ties alphabetical),
        so a full vocabulary keeps the common words. Words a loaded run already has keep their slots (resume,
        ``init_from``). Every rank sees the same captions, so every rank builds the same vocabulary."""
        enc = unwrap(self.generator).text
        if not isinstance(enc, BiGRUTextEncoder):
            return
        counts = Counter(w for c in captions for w in tokenize(c))
        enc.add_words(sorted(counts, key=lambda w: (-counts[w], w)))

    def _captions(self, batch: dict[str, Any], n: int) -> list[str]:
        caps = _as_list(batch.get("caption"), n)
        p = self.model_cfg.caption_dropout
        if self.training and p > 0:
            drop = torch.rand(n) < p  # global torch RNG: seeded and restored on resume by the trainer
            caps = ["" if d else c for c, d in zip(caps, drop.tolist())]
        return caps

    # -- training ------------------------------------------------------------------------------------------------
    def generator_step(self, batch: dict[str, Any], step: int) -> GeneratorStep:
        img, mask = batch["image"], batch["mask"]  # (N,3,H,W), (N,1,H,W)
        c = self.loss_cfg
        captions = self._captions(batch, img.shape[0])
        out = self.generator(zero_hole(img, mask), mask, caption=captions, target=img)
        rec, gen, text = out["rec"], out["gen"], out["text"]
        targets = _pyramid(img, [tuple(o.shape[-2:]) for o in gen])
        p = torch.distributions.Normal(*out["p"])
        q = torch.distributions.Normal(*out["q"])

        losses: dict[str, torch.Tensor] = {}
        if c.kl_rec > 0:
            std = torch.distributions.Normal(torch.zeros_like(p.loc), torch.ones_like(p.scale))
            losses["kl_rec"] = c.kl_rec * torch.distributions.kl_divergence(p, std).mean()
        if c.kl_g > 0:
            p_fixed = torch.distributions.Normal(p.loc.detach(), p.scale.detach())
            losses["kl_g"] = c.kl_g * torch.distributions.kl_divergence(p_fixed, q).mean()
        weights = [1.0 + (c.hole_weight - 1.0) * m for m in _pyramid(mask, [tuple(o.shape[-2:]) for o in gen])]
        if c.l1_rec > 0:
            losses["l1_rec"] = c.l1_rec * sum((w * (o - t).abs()).mean() for o, t, w in zip(rec, targets, weights))
        if c.l1_g > 0:
            losses["l1_g"] = c.l1_g * sum((w * (o - t).abs()).mean() for o, t, w in zip(gen, targets, weights))
        pred, rec_pred = gen[-1], rec[-1]
        if self.perceptual is not None and self.perceptual.available:
            k = c.perceptual_max_images or pred.shape[0]
            losses["perceptual"] = c.perceptual * self.perceptual(pred[:k], img[:k])[0]
        if c.adv > 0 or c.feature_matching > 0:
            adv, fm = img.new_zeros(()), img.new_zeros(())
            for name, fake in (("g", pred), ("rec", rec_pred)):
                disc = self.discriminators[name]
                fake_logits, fake_feats = disc(fake)
                with torch.no_grad():
                    _, real_feats = disc(img)
                adv = adv + generator_adversarial("lsgan", fake_logits)
                fm = fm + feature_matching(fake_feats, real_feats)
            if c.adv > 0:
                losses["adv"] = c.adv * adv
            if c.feature_matching > 0:
                losses["feature_matching"] = c.feature_matching * fm
        if c.match_word > 0:
            losses["match_word"] = c.match_word * damsm_word_loss(out["regions"], text.words, text.mask)
        if c.match_sentence > 0:
            losses["match_sentence"] = c.match_sentence * damsm_sentence_loss(out["code"], text.sentence)
        return losses, pred, {"rec": rec_pred}  # the reconstruction path's output, for the "rec" discriminator

    def discriminator_step(
        self, batch: dict[str, Any], pred: torch.Tensor, step: int, rec: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        if self.loss_cfg.adv <= 0 and self.loss_cfg.feature_matching <= 0:
            return {}
        img = batch["image"]
        fakes = {"g": pred.detach()}
        if rec is not None:
            fakes["rec"] = rec.detach()
        total = img.new_zeros(())
        for name, fake in fakes.items():
            disc = self.discriminators[name]
            real_logits, _ = disc(img)
            fake_logits, _ = disc(fake)
            total = total + discriminator_adversarial("lsgan", real_logits, fake_logits)
        return {"adv": total}

    def trains_discriminator(self, step: int) -> bool:
        return self.loss_cfg.adv > 0 or self.loss_cfg.feature_matching > 0
