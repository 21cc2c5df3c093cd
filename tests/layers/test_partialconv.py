"""Partial convolution: equals a plain conv when all is valid, mask update rule, re-scaling applied once."""

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.layers.partialconv import PartialConv2d


def test_full_valid_mask_equals_a_plain_conv():
    torch.manual_seed(0)
    pc = PartialConv2d(3, 5, 3, padding=0)
    conv = nn.Conv2d(3, 5, 3, padding=0)
    conv.load_state_dict(pc.state_dict())
    x = torch.randn(2, 3, 9, 9)
    y, hole = pc(x, torch.zeros(2, 1, 9, 9))
    assert torch.allclose(y, conv(x), atol=1e-6)
    assert hole.eq(0).all() and hole.shape == (2, 1, 7, 7)


def test_zero_padding_counts_as_invalid_but_the_interior_is_a_plain_conv():
    torch.manual_seed(0)
    pc = PartialConv2d(2, 4, 3, padding=1)
    x = torch.randn(1, 2, 6, 6)
    y, _ = pc(x, torch.zeros(1, 1, 6, 6))
    plain = F.conv2d(x, pc.weight, None, padding=1)
    b = pc.bias.view(1, -1)
    assert torch.allclose(y[..., 1:-1, 1:-1], plain[..., 1:-1, 1:-1] + b[..., None, None], atol=1e-5)
    assert torch.allclose(y[..., 0, 0], plain[..., 0, 0] * 9 / 4 + b, atol=1e-5)  # corner: 4 of 9 inside
    assert torch.allclose(y[..., 0, 3], plain[..., 0, 3] * 9 / 6 + b, atol=1e-5)  # edge: 6 of 9


def test_ratio_scaling_once_and_bias_after_it():
    # x = 1 and all-ones weights: a window with k valid pixels gives raw k, scaled k * 9/k = 9, plus the bias.
    pc = PartialConv2d(1, 1, 3, padding=1)
    with torch.no_grad():
        pc.weight.fill_(1.0)
        pc.bias.fill_(0.5)
    hole = torch.zeros(1, 1, 7, 7)
    hole[..., 2:5, 2:5] = 1
    hole[..., 3, 3] = 1
    y, new_hole = pc(torch.ones(1, 1, 7, 7), hole)
    valid = new_hole == 0
    assert torch.allclose(y[valid], torch.full_like(y[valid], 9.5))  # scaled twice or bias scaled would vary
    assert y[~valid].eq(0).all()


def test_mask_update_rule():
    pc = PartialConv2d(1, 1, 3, padding=1)
    hole = torch.zeros(1, 1, 8, 8)
    hole[..., 1:6, 2:7] = 1  # a 5x5 hole
    _, new_hole = pc(torch.randn(1, 1, 8, 8), hole)
    expected = torch.zeros(1, 1, 8, 8)
    expected[..., 2:5, 3:6] = 1  # a hole pixel stays hole only if its whole 3x3 window was hole
    assert torch.equal(new_hole, expected)
    strided = PartialConv2d(1, 1, 3, stride=2, padding=1)
    _, h2 = strided(torch.randn(1, 1, 8, 8), hole)
    assert h2.shape == (1, 1, 4, 4)


def test_per_channel_masks():
    torch.manual_seed(0)
    pc = PartialConv2d(2, 1, 1, padding=0, bias=False)
    x = torch.randn(1, 2, 3, 3)
    hole = torch.zeros(1, 2, 3, 3)
    hole[:, 1] = 1  # channel 1 entirely hole: the 1x1 conv sees one of two inputs, scaled by 2
    y, new_hole = pc(x, hole)
    assert torch.allclose(y, pc.weight[0, 0, 0, 0] * x[:, :1] * 2, atol=1e-6)
    assert new_hole.eq(0).all()
