"""Pixel losses against hand computations on tiny tensors."""

import pytest
import torch

from inpaintkit.losses import dilate, l1_hole, l1_valid, l2, tv_loss


def _pair():
    pred = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])  # (1, 1, 2, 2)
    target = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])  # left column is hole
    return pred, target, mask


def test_l1_hole_and_valid_are_means_over_all_elements():
    pred, target, mask = _pair()
    # |diff| = [[1, 0], [2, 3]]; hole part 1 + 2, known part 0 + 3; divided by N*C*H*W = 4 (paper's N_Igt)
    assert l1_hole(pred, target, mask).item() == pytest.approx(3 / 4)
    assert l1_valid(pred, target, mask).item() == pytest.approx(3 / 4)
    assert (l1_hole(pred, target, mask) + l1_valid(pred, target, mask)).item() == pytest.approx(
        (pred - target).abs().mean().item()
    )


def test_l1_broadcasts_mask_over_channels():
    pred = torch.ones(1, 3, 2, 2)
    target = torch.zeros(1, 3, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert l1_hole(pred, target, mask).item() == pytest.approx(3 / 12)


def test_l2_plain_and_masked():
    pred, target, mask = _pair()
    assert l2(pred, target).item() == pytest.approx((1 + 0 + 4 + 9) / 4)
    assert l2(pred, target, mask).item() == pytest.approx((1 + 4) / 4)


def test_dilate_is_one_pixel_square():
    m = torch.zeros(1, 1, 5, 5)
    m[0, 0, 2, 2] = 1
    d = dilate(m)
    assert d[0, 0, 1:4, 1:4].eq(1).all() and d.sum() == 9


def _ramp():
    # I[i, j] = 10 i + j^2: horizontal and vertical differences are distinguishable
    i = torch.arange(4.0).view(4, 1)
    j = torch.arange(4.0).view(1, 4)
    return (10 * i + j**2).view(1, 1, 4, 4)


def test_tv_counts_pairs_starting_in_the_dilated_hole():
    image = _ramp()
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, 1, 1] = 1  # P = rows 0-2 x cols 0-2
    # horizontal: rows 0-2, pairs (j, j+1) for j = 0..2: |1-0| + |4-1| + |9-4| = 9 per row -> 27
    # vertical: cols 0-2, pairs (i, i+1) for i = 0..2: 10 each -> 90; total 117 over 16 elements
    assert tv_loss(image, mask).item() == pytest.approx(117 / 16)


def test_tv_at_the_image_border():
    image = _ramp()
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, 3, 3] = 1  # P = rows 2-3 x cols 2-3; pairs leaving the image do not exist
    # horizontal: rows 2, 3 at j = 2: |9-4| each -> 10; vertical: cols 2, 3 at i = 2: 10 each -> 20
    assert tv_loss(image, mask).item() == pytest.approx(30 / 16)


def test_tv_is_zero_without_hole_and_has_gradient_only_near_it():
    image = torch.rand(2, 3, 8, 8, requires_grad=True)
    assert tv_loss(image, torch.zeros(2, 1, 8, 8)).item() == 0
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 3:5, 3:5] = 1
    tv_loss(image, mask).backward()
    g = image.grad.abs().sum(dim=(0, 1))
    assert g[3:5, 3:5].gt(0).all()
    assert g[:1].eq(0).all() and g[:, :1].eq(0).all() and g[7:].eq(0).all()


def test_ssim_equals_the_evaluation_metric():
    """The training loss's SSIM is the metric the evaluation reports (scikit-image's), on photo-like pairs."""
    import numpy as np

    from inpaintkit.losses import ssim
    from inpaintkit.metrics import ssim as metric_ssim

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (40, 52, 3)).astype(np.float64)
    for noise in (4.0, 40.0):
        a = base.astype(np.uint8)
        b = np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
        ta, tb = (torch.from_numpy(x).permute(2, 0, 1)[None].double() / 255 for x in (a, b))
        assert float(ssim(tb, ta)) == pytest.approx(metric_ssim(b, a), abs=1e-9)


def test_ssim_loss_sees_only_the_hole():
    from inpaintkit.losses import ssim_loss

    torch.manual_seed(0)
    img = torch.rand(2, 3, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    mask[..., 4:10, 5:11] = 1
    pred = torch.rand(2, 3, 16, 16, requires_grad=True)
    loss = ssim_loss(pred, img, mask)
    loss.backward()
    assert loss.item() > 0.1
    assert pred.grad[..., 4:10, 5:11].abs().sum() > 0
    assert pred.grad[..., :4, :].abs().sum() == 0  # known pixels come from the target: no gradient
    assert ssim_loss(img, img, mask).item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 7 px"):
        ssim_loss(pred[..., :5, :], img[..., :5, :], mask[..., :5, :])
