"""ResNet-34 and ResNeXt-50 (32x4d) feature extractors in plain torch.

K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.
S. Xie, R. Girshick, P. Dollar, Z. Tu, K. He, "Aggregated Residual Transformations for Deep Neural Networks",
CVPR 2017.

``forward(x)`` returns the four stage outputs at strides 4, 8, 16 and 32 (channels in ``feature_channels``), the
layout a segmentation decoder wants. ``width`` scales every channel count (0.5 gives a 4x cheaper network);
``in_chans`` lets a forensic stem feed more than three channels.
"""

from __future__ import annotations

import torch
from torch import nn


def _ch(c: int, width: float, multiple: int = 8) -> int:
    return max(multiple, int(round(c * width / multiple)) * multiple)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module | None:
    """1x1 projection of the identity path when the block changes resolution or width (ResNet option B)."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act = nn.ReLU(inplace=True)
        self.down = _shortcut(cin, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.down is None else self.down(x)
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)) + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64):
        super().__init__()
        mid = max(1, int(planes * (base_width / 64.0))) * groups
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.act = nn.ReLU(inplace=True)
        self.down = _shortcut(cin, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.down is None else self.down(x)
        y = self.act(self.bn1(self.conv1(x)))
        y = self.act(self.bn2(self.conv2(y)))
        return self.act(self.bn3(self.conv3(y)) + idt)


class ResNet(nn.Module):
    """(N, in_chans, H, W) -> [(N, C_i, H/s, W/s) for s in 4, 8, 16, 32]."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, ...],
        *,
        in_chans: int = 3,
        width: float = 1.0,
        groups: int = 1,
        width_per_group: int = 64,
    ):
        super().__init__()
        stem = _ch(64, width)
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, stem, 7, 2, 3, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        cin = stem
        stages, chans = [], []
        for i, n in enumerate(layers):
            planes = _ch(64 * 2**i, width)  # ResNeXt: the bottleneck is planes * width_per_group / 64 * groups
            blocks = []
            for j in range(n):
                blocks.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1, groups, width_per_group))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
            chans.append(cin)
        self.stages = nn.ModuleList(stages)
        self.feature_channels = tuple(chans)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # zero-init the last BN of each residual branch: every block starts as the identity (Goyal et al. 2017)
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def resnet34(in_chans: int = 3, width: float = 1.0) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3]; channels 64..512 times ``width``."""
    return ResNet(BasicBlock, (3, 4, 6, 3), in_chans=in_chans, width=width)


def resnext50_32x4d(in_chans: int = 3, width: float = 1.0) -> ResNet:
    """ResNeXt-50 32x4d: Bottlenecks [3, 4, 6, 3] with 32 groups of width 4 (times ``width``)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), in_chans=in_chans, width=width, groups=32, width_per_group=4)
