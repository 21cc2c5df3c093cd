"""Attention blocks of TDANet (Zhang et al., "Text-Guided Neural Image Inpainting", ACM MM 2020, arXiv 2004.03212)
and Pluralistic Image Completion's short+long-term attention (Zheng et al., CVPR 2019).

- ``word_region_attention``: for every image region, a softmax over the words of its caption (padded words masked
  out) of the region-word similarity — negated in TDANet's inpainting path, so each region attends to the words
  it explains *least* — and the attention-weighted sum of word features.
- ``DualMultimodalAttention``: the two paths. Inpainting path: negated attention between the words and the
  *visible* regions' features, then a global max-pool over visible regions: a text vector of what the visible
  image does not show. Auxiliary path (training only, it sees the hole's ground truth): positive attention between
  the words and the *hole* regions' features, max-pooled over hole regions: a text vector of what is in the hole.
- ``ShortLongTermAttention``: self-attention on decoder features (short term) plus the same attention applied to
  the encoder's features of the visible image (long term), which fills hole positions with visible content.

Shapes: features (N, C, H, W); words (N, L, D); word masks (N, L) bool, True = a real word; region weights
(N, 1, H, W) in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def word_region_attention(
    regions: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor, negate: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of every region over the words.

    Args:
        regions: (N, C, H, W) region features (already projected to the words' dimension C).
        words: (N, L, C) word features.
        word_mask: (N, L) bool, True = a real word; padded words get zero weight.
        negate: TDANet's inpainting path: softmax of the *negated* similarity.

    Returns:
        ``context`` (N, C, H, W): the attention-weighted sum of word features per region, and ``attn``
        (N, H*W, L): the weights (each row sums to 1; a caption without words gives all-zero rows and context).
    """
    n, c, h, w = regions.shape
    q = regions.flatten(2).transpose(1, 2)  # (N, HW, C)
    scores = torch.bmm(q, words.transpose(1, 2)) / c**0.5  # (N, HW, L)
    if negate:
        scores = -scores
    scores = scores.masked_fill(~word_mask[:, None, :], float("-inf"))
    attn = torch.softmax(scores, dim=-1)
    attn = torch.nan_to_num(attn, nan=0.0)  # all words masked: softmax of all -inf is NaN -> no attention
    context = torch.bmm(attn, words)  # (N, HW, C)
    return context.transpose(1, 2).reshape(n, c, h, w), attn


def masked_max_pool(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Global max over the positions where ``weight`` > 0: (N, C, H, W), (N, 1, H, W) -> (N, C).

    A sample with no such position pools over every position.
    """
    keep = weight > 0
    keep = keep | ~keep.flatten(1).any(1).view(-1, 1, 1, 1)
    return x.masked_fill(~keep, float("-inf")).amax(dim=(2, 3))


class DualMultimodalAttention(nn.Module):
    """TDANet's dual multimodal attention (see the module docstring): image features + words -> text vectors.

    Args:
        image_dim: channels of the image features attended over.
        text_dim: dimension of the word features.
        out_dim: dimension of the pooled text vectors (words are projected to it).
    """

    def __init__(self, image_dim: int, text_dim: int, out_dim: int):
        super().__init__()
        self.word_proj = nn.Linear(text_dim, out_dim)
        self.region_proj = nn.Conv2d(image_dim, out_dim, 1)

    def path(
        self,
        feats: torch.Tensor,
        region_weight: torch.Tensor,
        words: torch.Tensor,
        word_mask: torch.Tensor,
        negate: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One path: (N, C_img, H, W) features, (N, 1, H, W) region weights -> ((N, out_dim), attn (N, HW, L))."""
        w = self.word_proj(words) * word_mask.unsqueeze(-1)  # (N, L, out)
        context, attn = word_region_attention(self.region_proj(feats), w, word_mask, negate=negate)
        return masked_max_pool(context, region_weight), attn

    def forward(
        self,
        visible_feats: torch.Tensor,
        hole_fraction: torch.Tensor,
        words: torch.Tensor,
        word_mask: torch.Tensor,
        hole_feats: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Text vectors of the inpainting path and (when ``hole_feats`` is given) of the auxiliary path.

        Args:
            visible_feats: (N, C, H, W) features of the masked image.
            hole_fraction: (N, 1, H, W) share of each region that is hole (the mask area-resized).
            words, word_mask: (N, L, D) and (N, L).
            hole_feats: (N, C, H, W) features of the hole's ground truth (training only).
        """
        text_inp, _ = self.path(visible_feats, 1.0 - hole_fraction, words, word_mask, negate=True)
        text_aux = None
        if hole_feats is not None:
            text_aux, _ = self.path(hole_feats, hole_fraction, words, word_mask, negate=False)
        return text_inp, text_aux


class ShortLongTermAttention(nn.Module):
    """Pluralistic's short+long-term attention on decoder features ``x`` with encoder features ``enc``.

    Short term: ``x + gamma * softmax(QK^T) V`` on the decoder's own features. Long term: the hole positions take
    ``gamma_ctx`` times the attention (restricted to visible keys) applied to the encoder's features, the visible
    positions keep the encoder's features; both are concatenated and fused by a 1x1 convolution.
    """

    def __init__(self, channels: int, enc_channels: int | None = None, key_dim: int | None = None):
        super().__init__()
        enc_channels = enc_channels or channels
        key_dim = key_dim or max(channels // 8, 8)
        self.query = nn.Conv2d(channels, key_dim, 1)
        self.key = nn.Conv2d(channels, key_dim, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))  # starts as identity, as in SAGAN/Pluralistic
        self.gamma_ctx = nn.Parameter(torch.zeros(1))
        self.fuse = nn.Conv2d(channels + enc_channels, channels, 1)

    def forward(self, x: torch.Tensor, enc: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, H, W), enc (N, C_enc, H, W), mask (N, 1, H, W) 1 = hole -> (out (N, C, H, W), attn (N, HW, HW))."""
        n, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (N, HW, K)
        k = self.key(x).flatten(2)  # (N, K, HW)
        scores = torch.bmm(q, k) / q.shape[-1] ** 0.5  # (N, HW, HW)
        attn = torch.softmax(scores, dim=-1)
        v = self.value(x).flatten(2)  # (N, C, HW)
        short = x + self.gamma * torch.bmm(v, attn.transpose(1, 2)).view(n, c, h, w)
        # long term: attend only to visible keys (hole features of the encoder are features of zeros)
        visible = mask.flatten(2) < 0.5  # (N, 1, HW)
        visible = visible | ~visible.any(-1, keepdim=True)
        attn_ctx = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)
        copied = torch.bmm(enc.flatten(2), attn_ctx.transpose(1, 2)).view(n, -1, h, w)
        long = mask * self.gamma_ctx * copied + (1.0 - mask) * enc
        return self.fuse(torch.cat([short, long], dim=1)), attn


def _matching_ce(logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (caption i, image j) similarity logits both ways, diagonal = the right pairs."""
    idx = valid.nonzero().flatten()
    if len(idx) < 2:  # one pair has no negatives to tell it from
        return logits.new_zeros(())
    sub = logits[idx][:, idx]
    labels = torch.arange(len(idx), device=logits.device)
    return F.cross_entropy(sub, labels) + F.cross_entropy(sub.t(), labels)


def damsm_word_loss(
    regions: torch.Tensor,
    words: torch.Tensor,
    word_mask: torch.Tensor,
    gamma1: float = 4.0,
    gamma2: float = 5.0,
    gamma3: float = 10.0,
) -> torch.Tensor:
    """AttnGAN's DAMSM word loss (Xu et al. 2018, eq. 7-11) over the batch.

    For caption i and image j, every word attends over image j's regions (softmax of gamma1 x cosine), its
    region-context is compared with the word by cosine, and the words' scores are pooled as
    ``log(sum exp(gamma2 R)) / gamma2``; gamma3 x that score is a logit of "caption i belongs to image j".
    Cross-entropy both ways (captions -> images, images -> captions); captions without words are left out.

    Args:
        regions: (N, D, h, w) projected image regions. words: (N, L, D). word_mask: (N, L) True = word.
    """
    r = F.normalize(regions.flatten(2), dim=1)  # (N_img, D, R)
    w = F.normalize(words, dim=-1)  # (N_cap, L, D)
    cos = torch.einsum("ild,jdr->ijlr", w, r)  # (N_cap, N_img, L, R)
    attn = torch.softmax(gamma1 * cos, dim=-1)
    context = F.normalize(torch.einsum("ijlr,jdr->ijld", attn, r), dim=-1)  # (N_cap, N_img, L, D)
    score = (context * w[:, None]).sum(-1)  # (N_cap, N_img, L)
    score = (gamma2 * score).masked_fill(~word_mask[:, None, :], float("-inf"))
    sim = torch.logsumexp(score, dim=-1) / gamma2  # (N_cap, N_img)
    valid = word_mask.any(1)
    return _matching_ce(gamma3 * torch.nan_to_num(sim, neginf=0.0), valid)


def damsm_sentence_loss(image_code: torch.Tensor, sentence: torch.Tensor, gamma3: float = 10.0) -> torch.Tensor:
    """DAMSM sentence loss: gamma3 x cosine(image code j, sentence i) as logits, cross-entropy both ways.

    ``image_code`` (N, D), ``sentence`` (N, D); empty captions (a zero sentence) are left out.
    """
    logits = gamma3 * F.normalize(sentence, dim=-1) @ F.normalize(image_code, dim=-1).t()  # (N_cap, N_img)
    return _matching_ce(logits, sentence.abs().sum(-1) > 0)


__all__ = [
    "DualMultimodalAttention",
    "ShortLongTermAttention",
    "damsm_sentence_loss",
    "damsm_word_loss",
    "masked_max_pool",
    "word_region_attention",
]
