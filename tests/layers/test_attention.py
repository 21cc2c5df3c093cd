"""Contextual attention copies the matching known patch; self-attention starts as the identity."""

import torch

from inpaintkit.layers.attention import ContextualAttention, SelfAttention


def _shifted_scene():
    g = torch.Generator().manual_seed(0)
    b = torch.randn(1, 4, 32, 32, generator=g)  # background features
    f = torch.roll(b, 16, dims=3)  # foreground: the hole's content equals known content 16 px to the left
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 20:28] = 1
    return f, b, mask


def test_contextual_attention_copies_the_known_patch():
    f, b, mask = _shifted_scene()
    for fuse in (True, False):
        y = ContextualAttention(rate=2, fuse=fuse)(f, b, mask)
        assert y.shape == b.shape
        assert torch.allclose(y[..., 8:24, 20:28], b[..., 8:24, 4:12], atol=1e-4)


def test_contextual_attention_never_copies_from_the_hole():
    f, b, mask = _shifted_scene()
    b2 = b.clone()
    b2[..., 8:24, 20:28] = 100.0  # whatever lies under the hole must not leak into the output
    y = ContextualAttention(rate=2)(f, b2, mask)
    assert y[..., 8:24, 20:28].abs().max() < 50


def test_contextual_attention_batch_and_rate_one():
    f, b, mask = _shifted_scene()
    y = ContextualAttention(rate=1)(torch.cat([f, f]), torch.cat([b, b]), torch.cat([mask, mask]))
    assert y.shape == (2, 4, 32, 32) and torch.allclose(y[0], y[1])
    assert torch.allclose(y[0, :, 10:22, 22:26], b[0, :, 10:22, 6:10], atol=1e-4)


def test_self_attention_identity_at_init_and_learns():
    sa = SelfAttention(16)
    x = torch.randn(2, 16, 6, 5)
    assert torch.equal(sa(x), x)
    with torch.no_grad():
        sa.gamma.fill_(1.0)
    y = sa(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
