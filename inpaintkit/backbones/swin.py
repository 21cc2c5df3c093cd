"""Swin Transformer (Swin-T) feature extractor in plain torch.

Z. Liu, Y. Lin, Y. Cao, H. Hu, Y. Wei, Z. Zhang, S. Lin, B. Guo, "Swin Transformer: Hierarchical Vision
Transformer using Shifted Windows", ICCV 2021.

Any input size: each stage pads its token grid to a multiple of the window (as the detection version does) and
the attention mask keeps real tokens from attending to padding. ``forward(x)`` returns the four stage outputs as
(N, C, H/s, W/s) maps at strides 4, 8, 16, 32 (96, 192, 384, 768 channels at ``width=1``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows, with a learned relative position bias."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.window, self.heads = window, heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)  # (w*w, w*w, 2)
        self.register_buffer("rel_index", rel[..., 0] * (2 * window - 1) + rel[..., 1], persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, c = x.shape  # (num_windows * N, w*w, C)
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, heads, n, d)
        bias = self.bias_table[self.rel_index.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)  # (heads, n, n)
        attn_mask = bias[None]
        if mask is not None:  # (num_windows, n, n), 0 or -inf-ish
            nw = mask.shape[0]
            attn_mask = (attn_mask.expand(b // nw, nw, -1, n, n) + mask[None, :, None]).reshape(b, -1, n, n)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask.to(q.dtype), scale=self.scale)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


def _windows(x: torch.Tensor, w: int) -> torch.Tensor:
    n, h, wd, c = x.shape
    x = x.view(n, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, c)


def _unwindows(x: torch.Tensor, w: int, n: int, h: int, wd: int) -> torch.Tensor:
    x = x.view(n, h // w, wd // w, w, w, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h, wd, -1)


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int, drop_path: float):
        super().__init__()
        self.window, self.shift, self.drop_path = window, shift, drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def _mask(self, h: int, w: int, hp: int, wp: int, device: torch.device) -> torch.Tensor | None:
        """Region ids of the (padded, shifted) grid -> additive mask; None when nothing needs masking."""
        if not self.shift and hp == h and wp == w:
            return None
        ids = torch.zeros(hp, wp, device=device)
        ids[h:, :] = -1  # padding is its own region: real tokens never attend to it
        ids[:, w:] = -1
        if self.shift:
            ids = torch.roll(ids, (-self.shift, -self.shift), (0, 1))
            s, win = self.shift, self.window
            cnt = 1
            for hs in (slice(0, -win), slice(-win, -s), slice(-s, None)):
                for ws in (slice(0, -win), slice(-win, -s), slice(-s, None)):
                    region = ids[hs, ws]
                    region[region >= 0] = cnt
                    cnt += 1
        win_ids = _windows(ids[None, :, :, None], self.window)[..., 0]  # (nw, w*w)
        return (win_ids[:, :, None] != win_ids[:, None, :]).float() * -100.0

    def _drop(self, y: torch.Tensor) -> torch.Tensor:
        if self.training and self.drop_path > 0:
            keep = torch.rand(y.shape[0], 1, 1, 1, device=y.device) >= self.drop_path
            return y * keep / (1.0 - self.drop_path)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape  # channels-last token grid
        win = self.window
        hp, wp = -(-h // win) * win, -(-w // win) * win
        y = F.pad(self.norm1(x), (0, 0, 0, wp - w, 0, hp - h))
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), (1, 2))
        y = self.attn(_windows(y, win), self._mask(h, w, hp, wp, x.device))
        y = _unwindows(y, win, n, hp, wp)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), (1, 2))
        x = x + self._drop(y[:, :h, :w])
        return x + self._drop(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhood -> one token with twice the channels: (N, H, W, C) -> (N, H/2, W/2, 2C)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduce = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduce(self.norm(x))


class SwinTransformer(nn.Module):
    """(N, in_chans, H, W) -> [(N, C_i, H/s, W/s) for s in 4, 8, 16, 32]."""

    def __init__(
        self,
        *,
        in_chans: int = 3,
        embed_dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        heads: tuple[int, ...] = (3, 6, 12, 24),
        window: int = 7,
        drop_path: float = 0.2,
    ):
        super().__init__()
        self.patch_embed = nn.Conv2d(in_chans, embed_dim, 4, 4)
        self.embed_norm = nn.LayerNorm(embed_dim)
        rates = torch.linspace(0, drop_path, sum(depths)).tolist()
        self.stages, self.merges, self.norms = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        dim, k, chans = embed_dim, 0, []
        for i, (d, h) in enumerate(zip(depths, heads)):
            self.merges.append(PatchMerging(dim // 2) if i > 0 else nn.Identity())
            self.stages.append(
                nn.ModuleList(
                    SwinBlock(dim, h, window, 0 if j % 2 == 0 else window // 2, rates[k + j]) for j in range(d)
                )
            )
            self.norms.append(nn.LayerNorm(dim))
            chans.append(dim)
            k += d
            dim *= 2
        self.feature_channels = tuple(chans)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pad_h, pad_w = (-x.shape[2]) % 4, (-x.shape[3]) % 4
        x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.embed_norm(self.patch_embed(x).permute(0, 2, 3, 1))  # (N, H/4, W/4, C)
        feats = []
        for merge, blocks, norm in zip(self.merges, self.stages, self.norms):
            x = merge(x)
            for blk in blocks:
                x = blk(x)
            feats.append(norm(x).permute(0, 3, 1, 2).contiguous())
        return feats


def swin_t(in_chans: int = 3, width: float = 1.0) -> SwinTransformer:
    """Swin-T: embed 96 (times ``width``, kept a multiple of 32), depths 2-2-6-2, window 7."""
    embed = max(32, int(round(96 * width / 32)) * 32)
    heads = tuple(max(1, embed // 32) * m for m in (1, 2, 4, 8))
    return SwinTransformer(in_chans=in_chans, embed_dim=embed, heads=heads)
