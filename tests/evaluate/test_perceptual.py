"""FID and LPIPS maths with synthetic (random, seeded) weights saved to files in the real formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaintkit.backbones.inception import load_fid_inception
from inpaintkit.backbones.vgg import VGG16Features
from inpaintkit.errors import InpaintKitError
from inpaintkit.evaluate.perceptual import LPIPS, LPIPS_TAPS, FIDFeatures, to_tensor
from inpaintkit.metrics import fid_from_features


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
    # smooth them a little so the set looks like a distribution, not white noise
    base = ((base.astype(np.float32) + np.roll(base, 1, axis=1) + np.roll(base, 1, axis=2)) / 3).astype(np.uint8)
    return list(base)


@pytest.mark.slow
def test_fid_of_a_set_against_itself_is_zero_and_a_shift_is_positive(fid_weights, images):
    fid = FIDFeatures(fid_weights)
    feats = fid(images)
    assert feats.shape == (2, 2048) and feats.dtype == np.float32 and np.isfinite(feats).all()
    assert feats.std() > 1e-3  # the synthetic network is not degenerate
    brighter = fid([np.clip(im.astype(np.int16) + 60, 0, 255).astype(np.uint8) for im in images])
    self_fid = fid_from_features(feats, feats)
    shifted_fid = fid_from_features(feats, brighter)
    assert abs(self_fid) < 1e-3 * max(1.0, shifted_fid)
    assert shifted_fid > 100 * max(self_fid, 1e-9)
    # features are per image: a batch equals the images one by one
    np.testing.assert_allclose(fid([images[1]])[0], feats[1], rtol=1e-4, atol=1e-5)


def test_fid_weights_in_the_wrong_format_are_refused(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3)}, bad)
    with pytest.raises(InpaintKitError, match="not pytorch-fid Inception weights .*missing"):
        load_fid_inception(bad)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InpaintKitError, match="junk.pth"):
        load_fid_inception(junk)


@pytest.mark.slow
def test_lpips_matches_a_direct_computation(lpips_files, images):
    metric = LPIPS(lpips_files / "vgg.pth", lpips_files / "vgg16.pth")
    a, b = images[0], images[1]
    ours = metric.score(a, b)
    # direct: lpips' scaling layer, taps, unit-normalised channels, weighted squared diff, spatial mean, sum
    vgg = VGG16Features(lpips_files / "vgg16.pth", taps=LPIPS_TAPS, normalize=False)
    lins = torch.load(lpips_files / "vgg.pth", weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    fa, fb = (vgg(((2 * to_tensor([x]) - 1) - shift) / scale) for x in (a, b))
    total = 0.0
    for i, (x, y) in enumerate(zip(fa, fb)):
        x = x / (x.norm(dim=1, keepdim=True) + 1e-10)
        y = y / (y.norm(dim=1, keepdim=True) + 1e-10)
        w = lins[f"lin{i}.model.1.weight"].view(1, -1, 1, 1)
        total += float(((x - y) ** 2 * w).sum(dim=1).mean())
    assert ours == pytest.approx(total, rel=1e-4)
    assert ours > 0
    assert metric.score(a, a) == pytest.approx(0.0, abs=1e-7)
    assert metric.score(b, a) == pytest.approx(ours, rel=1e-5)
    # a backbone inside the lin file works without --vgg-weights and gives the same value
    assert LPIPS(lpips_files / "merged.pth").score(a, b) == pytest.approx(ours, rel=1e-6)


def test_lpips_bad_files_are_refused(lpips_files, tmp_path):
    with pytest.raises(InpaintKitError, match="no VGG16 backbone; pass --vgg-weights"):
        LPIPS(lpips_files / "vgg.pth")
    torch.save({"lin0.model.1.weight": torch.rand(1, 64, 1, 1)}, tmp_path / "partial.pth")
    with pytest.raises(InpaintKitError, match="missing lin1.model.1.weight"):
        LPIPS(tmp_path / "partial.pth", lpips_files / "vgg16.pth")


# ---- lpips_hed and kid_hed on the bundled features ----------------------------------------------------------------
@pytest.fixture(scope="module")
def hed():
    from inpaintkit.backbones.vgg import HEDPerceptual

    return HEDPerceptual()


def _real_photos() -> list[np.ndarray]:
    import skimage.data

    return [
        np.ascontiguousarray(skimage.data.astronaut()[100:228, 150:278]),
        np.ascontiguousarray(skimage.data.coffee()[150:278, 200:328]),
    ]


@pytest.mark.slow
def test_lpips_hed_zero_on_identity_and_grows_with_blur_and_noise(hed):
    import cv2

    for photo in _real_photos():
        assert hed.score(photo, photo) == 0.0
        blur = [hed.score(cv2.GaussianBlur(photo, (0, 0), s), photo) for s in (0.7, 1.5, 3.0)]
        rng = np.random.default_rng(0)
        noise = [
            hed.score(np.clip(photo + rng.normal(0, sd, photo.shape), 0, 255).astype(np.uint8), photo)
            for sd in (3, 10, 30)
        ]
        assert 0 < blur[0] < blur[1] < blur[2], blur
        assert 0 < noise[0] < noise[1] < noise[2], noise


@pytest.mark.slow
def test_lpips_hed_ranks_a_blurry_fill_below_a_sharp_one_that_psnr_prefers(hed):
    """The property that makes LPIPS better than PSNR at ranking fills: a blur of the hole can have the higher PSNR
    and still be the worse fill; a sharp texture with a small shift is perceptually closer."""
    import cv2

    from inpaintkit.metrics import psnr

    for photo in _real_photos():
        blurred = photo.copy()
        blurred[32:96, 32:96] = cv2.GaussianBlur(photo, (0, 0), 2)[32:96, 32:96]
        shifted = photo.copy()
        shifted[32:96, 32:96] = np.roll(photo, 3, axis=1)[32:96, 32:96]
        assert psnr(blurred, photo) > psnr(shifted, photo) + 2
        assert hed.score(shifted, photo) < 0.75 * hed.score(blurred, photo)


def test_kid_zero_for_one_set_positive_for_different_sets():
    from inpaintkit.metrics import kid_from_features

    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, 1.0, (60, 32))
    same, _ = kid_from_features(a, a.copy())
    assert abs(same) < 1e-9  # paired and identical: exactly zero, not a large negative value
    b = rng.gamma(2.0, 1.0, (60, 32))  # the same distribution, other samples
    c = rng.gamma(2.0, 1.0, (60, 32)) * np.linspace(0.2, 3, 32)  # another distribution
    near, far = kid_from_features(a, b)[0], kid_from_features(a, c)[0]
    assert abs(near) < far and far > 0
    assert kid_from_features(a * 1000, c)[0] == pytest.approx(far)  # scale of the features does not matter
    big = kid_from_features(
        rng.gamma(2.0, 1.0, (300, 8)), rng.gamma(2.0, 1.0, (300, 8)) * 2, subset_size=100, subsets=10
    )
    assert big[0] > 0 and np.isfinite(big[1])
    with pytest.raises(ValueError):
        kid_from_features(a[:1], b[:1])
