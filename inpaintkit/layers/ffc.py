"""Fast Fourier Convolution (Chi, Jiang & Mu, NeurIPS 2020) as used by LaMa (Suvorov et al., WACV 2022).

An FFC keeps its channels in two streams: *local* (ordinary convolutions) and *global* (a spectral transform whose
1x1 convolution acts on the real FFT of the feature map, so one layer sees the whole image). Four paths mix them:
local->local and global->local and local->global are convolutions, global->global is the spectral transform. The
share of global channels is ``ratio`` (LaMa: 0.75 in the residual blocks, 0 in the stem and the downsampling).

Tensors are (N, C, H, W); a two-stream activation is a tuple ``(x_local, x_global)`` where either may be the int 0
when its stream has no channels (as in LaMa's reference code).
"""

from __future__ import annotations

from typing import Union

import torch
from torch import nn

Stream = Union[torch.Tensor, int]


class FourierUnit(nn.Module):
    """1x1 conv + BN + ReLU in the frequency domain: rfft2 -> (real, imag) as channels -> conv -> irfft2."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels * 2, out_channels * 2, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels * 2)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        dtype = x.dtype
        # the FFT runs in float32 even under autocast (half-precision FFTs need power-of-two sizes)
        f = torch.fft.rfft2(x.float(), dim=(-2, -1), norm="ortho")  # (N, C, H, W//2+1) complex
        f = torch.stack([f.real, f.imag], dim=2).reshape(n, c * 2, h, w // 2 + 1)  # (N, 2C, H, W//2+1)
        f = self.act(self.bn(self.conv(f.to(dtype))))
        f = f.float().reshape(n, -1, 2, h, w // 2 + 1)
        out = torch.fft.irfft2(torch.complex(f[:, :, 0], f[:, :, 1]), s=(h, w), dim=(-2, -1), norm="ortho")
        return out.to(dtype)  # (N, C_out, H, W)


class SpectralTransform(nn.Module):
    """The global->global path: 1x1 conv to half width, Fourier unit with a residual, 1x1 conv back."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.down = nn.AvgPool2d(2, 2) if stride == 2 else nn.Identity()
        hidden = max(1, out_channels // 2)
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True)
        )
        self.fu = FourierUnit(hidden, hidden)
        self.conv2 = nn.Conv2d(hidden, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.down(x))
        return self.conv2(x + self.fu(x))


class FFC(nn.Module):
    """One Fast Fourier Convolution with ``ratio_gin`` / ``ratio_gout`` of the channels in the global stream."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        ratio_gin: float,
        ratio_gout: float,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        padding_mode: str = "reflect",
    ):
        super().__init__()
        in_g, out_g = int(in_channels * ratio_gin), int(out_channels * ratio_gout)
        in_l, out_l = in_channels - in_g, out_channels - out_g
        self.in_g, self.out_g = in_g, out_g

        def conv(i: int, o: int) -> nn.Module:
            if i == 0 or o == 0:
                return None  # type: ignore[return-value]
            return nn.Conv2d(i, o, kernel_size, stride, padding, dilation, bias=False, padding_mode=padding_mode)

        self.l2l, self.l2g, self.g2l = conv(in_l, out_l), conv(in_l, out_g), conv(in_g, out_l)
        self.g2g = SpectralTransform(in_g, out_g, stride) if in_g and out_g else None

    def forward(self, x: tuple[Stream, Stream]) -> tuple[Stream, Stream]:
        x_l, x_g = x
        out_l: Stream = 0
        out_g: Stream = 0
        if self.l2l is not None:
            out_l = self.l2l(x_l)
        if self.g2l is not None:
            out_l = out_l + self.g2l(x_g)
        if self.l2g is not None:
            out_g = self.l2g(x_l)
        if self.g2g is not None:
            out_g = out_g + self.g2g(x_g)
        return out_l, out_g


class FFCBNAct(nn.Module):
    """FFC followed by BatchNorm and an activation on each non-empty stream."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        ratio_gin: float,
        ratio_gout: float,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        padding_mode: str = "reflect",
        act: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        self.ffc = FFC(
            in_channels, out_channels, kernel_size, ratio_gin, ratio_gout, stride, padding, dilation, padding_mode
        )
        out_g = self.ffc.out_g
        out_l = out_channels - out_g
        self.bn_l = nn.BatchNorm2d(out_l) if out_l else nn.Identity()
        self.bn_g = nn.BatchNorm2d(out_g) if out_g else nn.Identity()
        self.act_l = act(inplace=True) if out_l else nn.Identity()
        self.act_g = act(inplace=True) if out_g else nn.Identity()

    def forward(self, x: tuple[Stream, Stream]) -> tuple[Stream, Stream]:
        x_l, x_g = self.ffc(x)
        if isinstance(x_l, torch.Tensor):
            x_l = self.act_l(self.bn_l(x_l))
        if isinstance(x_g, torch.Tensor):
            x_g = self.act_g(self.bn_g(x_g))
        return x_l, x_g


class FFCResBlock(nn.Module):
    """Two 3x3 FFC-BN-ReLU layers with a residual connection on each stream (LaMa's ``FFCResnetBlock``)."""

    def __init__(self, channels: int, ratio: float = 0.75, dilation: int = 1, padding_mode: str = "reflect"):
        super().__init__()
        self.conv1 = FFCBNAct(
            channels, channels, 3, ratio, ratio, padding=dilation, dilation=dilation, padding_mode=padding_mode
        )
        self.conv2 = FFCBNAct(
            channels, channels, 3, ratio, ratio, padding=dilation, dilation=dilation, padding_mode=padding_mode
        )

    def forward(self, x: tuple[Stream, Stream]) -> tuple[Stream, Stream]:
        x_l, x_g = x
        y_l, y_g = self.conv2(self.conv1((x_l, x_g)))
        return x_l + y_l, x_g + y_g
