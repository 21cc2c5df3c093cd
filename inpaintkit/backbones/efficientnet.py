"""EfficientNet-B0 feature extractor in plain torch.

M. Tan, Q. V. Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019.
MBConv blocks (inverted residual, depthwise conv, squeeze-and-excitation, SiLU) with the B0 stage table.
``forward(x)`` returns the outputs at strides 4, 8, 16 and 32 (24, 40, 112, 320 channels at ``width=1``).
"""

from __future__ import annotations

import torch
from torch import nn

# (expand ratio, kernel, stride, out channels, repeats) for each of the seven B0 stages
_B0 = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
_FEATURE_STAGES = (1, 2, 4, 6)  # last stage at strides 4, 8, 16, 32


def _ch(c: float, width: float, multiple: int = 8) -> int:
    v = max(multiple, int(c * width + multiple / 2) // multiple * multiple)
    return v + multiple if v < 0.9 * c * width else v


class SqueezeExcite(nn.Module):
    def __init__(self, chans: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(chans, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, chans, 1)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)  # (N, C, 1, 1)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int, drop_path: float = 0.0):
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU(inplace=True)]
        layers += [
            nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False),
            nn.BatchNorm2d(mid),
            nn.SiLU(inplace=True),
            SqueezeExcite(mid, max(1, cin // 4)),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        if not self.residual:
            return y
        if self.training and self.drop_path > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop_path  # stochastic depth
            y = y * keep / (1.0 - self.drop_path)
        return x + y


class EfficientNet(nn.Module):
    """(N, in_chans, H, W) -> [(N, C_i, H/s, W/s) for s in 4, 8, 16, 32]."""

    def __init__(self, *, in_chans: int = 3, width: float = 1.0, drop_path: float = 0.2):
        super().__init__()
        stem = _ch(32, width)
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.SiLU(inplace=True)
        )
        total = sum(r for *_, r in _B0)
        cin, idx = stem, 0
        stages, chans = [], []
        for expand, k, s, c, reps in _B0:
            cout = _ch(c, width)
            blocks = []
            for j in range(reps):
                blocks.append(MBConv(cin, cout, expand, k, s if j == 0 else 1, drop_path * idx / total))
                cin, idx = cout, idx + 1
            stages.append(nn.Sequential(*blocks))
            chans.append(cout)
        self.stages = nn.ModuleList(stages)
        self.feature_channels = tuple(chans[i] for i in _FEATURE_STAGES)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in _FEATURE_STAGES:
                feats.append(x)
        return feats


def efficientnet_b0(in_chans: int = 3, width: float = 1.0) -> EfficientNet:
    """EfficientNet-B0 (width multiplier 1.0, depth 1.0); ``width`` scales the channels further."""
    return EfficientNet(in_chans=in_chans, width=width)
