"""Gated convolution: separate feature and gate convolutions, y = ELU(feature) * sigmoid(gate)."""

import torch
import torch.nn.functional as F

from inpaintkit.layers.gated import GatedConv2d, GatedDeconv2d


def test_gate_has_its_own_weights_and_the_formula_holds():
    torch.manual_seed(0)
    g = GatedConv2d(3, 4, 3, dilation=2)
    assert g.feature.weight is not g.gate.weight
    assert not torch.equal(g.feature.weight, g.gate.weight)
    x = torch.randn(2, 3, 10, 10)
    f = F.conv2d(x, g.feature.weight, g.feature.bias, padding=2, dilation=2)
    gate = F.conv2d(x, g.gate.weight, g.gate.bias, padding=2, dilation=2)
    assert torch.allclose(g(x), F.elu(f) * torch.sigmoid(gate), atol=1e-6)


def test_a_closed_gate_blocks_the_features():
    g = GatedConv2d(1, 1, 1)
    with torch.no_grad():
        g.feature.weight.fill_(1.0)
        g.feature.bias.fill_(1.0)
        g.gate.weight.zero_()
        g.gate.bias.fill_(-30.0)  # sigmoid(-30) ~ 1e-13
    assert g(torch.rand(1, 1, 4, 4)).abs().max() < 1e-10
    with torch.no_grad():
        g.gate.bias.fill_(30.0)
    x = torch.rand(1, 1, 4, 4)
    assert torch.allclose(g(x), x + 1, atol=1e-6)


def test_gated_deconv_doubles_resolution():
    assert GatedDeconv2d(4, 2)(torch.rand(1, 4, 5, 7)).shape == (1, 2, 10, 14)
