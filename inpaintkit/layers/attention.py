"""Attention layers for inpainting refinement networks.

- ``ContextualAttention``: Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018 (§4):
  every foreground (hole) location is matched against 3×3 background patches from *outside* the hole by cosine
  similarity (background patches L2-normalised), scores are smoothed along the diagonal ("attention propagation",
  ``fuse``), softmax-ed with a scale, and the hole is rebuilt by a transposed convolution with the raw
  (full-resolution) background patches. Matching runs at 1/``rate`` resolution for speed, as in the paper.
- ``SelfAttention``: SAGAN (Zhang et al., ICML 2019) non-local block, the self-attention option of DeepFill v2's
  refinement stage.

Masks are (N, 1, H, W) with 1 = hole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one dimension."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _patches(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, L, C, k, k): 'SAME'-padded sliding patches, L in row-major order of positions."""
    n, c, h, w = x.shape
    pt, pb = _same_pad(h, kernel, stride)
    pl, pr = _same_pad(w, kernel, stride)
    cols = F.unfold(F.pad(x, (pl, pr, pt, pb)), kernel, stride=stride)  # (N, C*k*k, L)
    return cols.view(n, c, kernel, kernel, -1).permute(0, 4, 1, 2, 3)


class ContextualAttention(nn.Module):
    """``forward(foreground, background, mask) -> (N, C, H, W)``.

    Args:
        ksize: side of the matching patches (3).
        stride: stride between background patches at the matching resolution (1).
        rate: matching resolution is 1/rate; the reconstruction uses raw 2·rate patches (2).
        fuse_k: side of the identity kernel for attention propagation (3); ``fuse=False`` turns it off.
        softmax_scale: sharpness of the softmax over background patches (10).
    """

    def __init__(
        self,
        ksize: int = 3,
        stride: int = 1,
        rate: int = 2,
        fuse_k: int = 3,
        softmax_scale: float = 10.0,
        fuse: bool = True,
    ):
        super().__init__()
        self.ksize, self.stride, self.rate = ksize, stride, rate
        self.fuse_k, self.softmax_scale, self.fuse = fuse_k, softmax_scale, fuse

    def _propagate(self, y: torch.Tensor, fh: int, fw: int, bh: int, bw: int) -> torch.Tensor:
        """Diagonal smoothing of the score matrix (Lf, Lb): a foreground neighbour's score for the matching
        background neighbour is added, first along rows, then along columns. y: (Lb, fh, fw) -> same."""
        k = self.fuse_k
        eye = torch.eye(k, dtype=y.dtype, device=y.device).view(1, 1, k, k)
        s = y.permute(1, 2, 0).reshape(1, 1, fh * fw, bh * bw)  # (1, 1, Lf, Lb), both row-major
        s = F.conv2d(s, eye, padding=k // 2)
        s = s.view(fh, fw, bh, bw).permute(1, 0, 3, 2).reshape(1, 1, fw * fh, bw * bh)  # column-major order
        s = F.conv2d(s, eye, padding=k // 2)
        s = s.view(fw, fh, bw, bh).permute(1, 0, 3, 2).reshape(fh * fw, bh * bw)  # back to row-major
        return s.t().reshape(bh * bw, fh, fw)

    def forward(self, f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, c, h, w = b.shape
        r, kraw = self.rate, 2 * self.rate
        raw = _patches(b, kraw, r * self.stride)  # (N, Lb, C, 2r, 2r): what gets pasted
        fs = F.interpolate(f, scale_factor=1 / r, mode="nearest") if r > 1 else f  # (N, C, h/r, w/r)
        bs = F.interpolate(b, scale_factor=1 / r, mode="nearest") if r > 1 else b
        ms = F.interpolate(mask, size=bs.shape[-2:], mode="nearest")
        fh, fw = fs.shape[-2:]
        bh, bw = -(-bs.shape[-2] // self.stride), -(-bs.shape[-1] // self.stride)
        wpat = _patches(bs, self.ksize, self.stride)  # (N, Lb, C, k, k): what gets matched
        # a background patch may be used only if it lies entirely outside the hole
        usable = (_patches(ms, self.ksize, self.stride).mean(dim=(2, 3, 4)) == 0).to(f.dtype)  # (N, Lb)
        pf, pb_ = _same_pad(fh, self.ksize, 1), _same_pad(fw, self.ksize, 1)
        out = []
        for i in range(n):
            wi = wpat[i]
            wi = wi / wi.flatten(1).norm(dim=1).clamp(min=1e-4).view(-1, 1, 1, 1)  # cosine on the background side
            y = F.conv2d(F.pad(fs[i : i + 1], (pb_[0], pb_[1], pf[0], pf[1])), wi)[0]  # (Lb, fh, fw)
            if self.fuse:
                y = self._propagate(y, fh, fw, bh, bw)
            mm = usable[i].view(-1, 1, 1)
            y = F.softmax(y * mm * self.softmax_scale, dim=0) * mm  # (Lb, fh, fw)
            # paste raw patches: each output pixel is covered by (2r / r)^2 = 4 patches
            rec = F.conv_transpose2d(y[None], raw[i], stride=r * self.stride) / 4.0  # (1, C, ~H + r, ~W + r)
            pt, _ = _same_pad(h, kraw, r * self.stride)
            pl, _ = _same_pad(w, kraw, r * self.stride)
            out.append(rec[..., pt : pt + h, pl : pl + w])
        return torch.cat(out, dim=0)


class SelfAttention(nn.Module):
    """SAGAN self-attention: ``x + γ · softmax(QᵀK) V`` with 1×1 projections (C/8 for Q, K) and γ initialised to 0."""

    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.q = nn.Conv2d(channels, inner, 1)
        self.k = nn.Conv2d(channels, inner, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # (N, HW, C')
        k = self.k(x).flatten(2)  # (N, C', HW)
        attn = F.softmax(torch.bmm(q, k), dim=-1)  # (N, HW, HW)
        v = self.v(x).flatten(2)  # (N, C, HW)
        out = torch.bmm(v, attn.transpose(1, 2)).view(n, c, h, w)
        return x + self.gamma * out
