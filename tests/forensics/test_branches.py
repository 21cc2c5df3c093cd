"""The fused detector's branches (noise, duplication), calibration, fusion and the probe fills."""

from __future__ import annotations

import numpy as np
import pytest

from inpaintkit.errors import InpaintKitError
from inpaintkit.forensics.cnn import TiledDetector
from inpaintkit.forensics.detector import BUNDLED_DIR, Detection
from inpaintkit.forensics.duplication import (
    DENSE_LEVEL,
    EXACT_LEVEL,
    DuplicationBranch,
    exact_share,
    window_dct,
)
from inpaintkit.forensics.fusion import DEFAULT_SPLIT, FusedDetector, calibrate, fit_platt, looks_jpeg, platt
from inpaintkit.forensics.noise import (
    ANOMALY_NAMES,
    ANOMALY_OF,
    BASE_FEATURES,
    FEATURE_NAMES,
    JPEG_FEATURES,
    LAG_ANISOTROPY,
    LAG_GROUPS,
    NoiseBranch,
    block_features,
    block_labels,
    feature_columns,
    fit_noise_branch,
    tree_feature_names,
    upsample,
)
from inpaintkit.forensics.train import jpeg
from inpaintkit.io import read_image


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """The packaged sample photo (480x768 JPEG): textured ground, a flat sky at the top."""
    from pathlib import Path

    import inpaintkit

    return read_image(Path(inpaintkit.__file__).parent / "assets" / "sample.jpg").rgb


def noisy_scene(seed: int, size: int = 128) -> np.ndarray:
    """A smooth colour gradient with shapes, plus camera-like Gaussian noise (sigma 4)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([80 + 100 * xx, 120 + 60 * yy, 160 - 80 * xx * yy], axis=-1)
    for _ in range(4):
        cy, cx, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(8, 24))]
        base[(yy * size - cy) ** 2 + (xx * size - cx) ** 2 < r * r] += rng.uniform(-60, 60, 3)
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).round().astype(np.uint8)


def smooth_patch(rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The scene with ``box`` replaced by its noise-free blur (what a diffusion fill leaves)."""
    import cv2

    t, l, b, r = box
    out = rgb.copy()
    out[t:b, l:r] = cv2.GaussianBlur(rgb, (0, 0), 3)[t:b, l:r]
    mask = np.zeros(rgb.shape[:2], bool)
    mask[t:b, l:r] = True
    return out, mask


# -- noise branch ------------------------------------------------------------------------------------------------------


def test_block_features_are_finite_and_named():
    f = block_features(noisy_scene(0, 130))  # 130 -> cropped to 128: 16 x 16 blocks
    assert f.shape == (16, 16, len(FEATURE_NAMES)) and np.isfinite(f).all()
    assert block_labels(np.pad(np.ones((8, 16), bool), ((0, 8), (0, 0)))).tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert upsample(np.eye(2, dtype=np.float32), (20, 19)).shape == (20, 19)


def test_anomaly_features_mark_a_region_that_departs_either_way():
    """The two-sided anomaly features are high where the noise differs from the image's own in either direction:
    a noise-free patch and a patch with three times the noise both stand out; an untouched scene has none."""
    scene = noisy_scene(3)
    rms = FEATURE_NAMES.index("anom_rms_3")
    smooth, mask = smooth_patch(scene, (32, 32, 96, 96))
    rng = np.random.default_rng(1)
    loud = scene.astype(np.float64)
    loud[32:96, 32:96] += rng.normal(0, 12, (64, 64, 3))
    loud = np.clip(loud, 0, 255).round().astype(np.uint8)
    inside, outside = block_labels(mask) == 1, block_labels(mask) == 0
    base = block_features(scene)[..., rms]
    for fake in (smooth, loud):
        a = block_features(fake)[..., rms]
        assert a[inside].mean() > 3 * a[outside].mean() and a[inside].mean() > 2 * base.mean()
    # one-sided features cannot tell both apart from the scene the same way: the Laplacian energy goes opposite ways
    lap = FEATURE_NAMES.index("lap")
    smooth_lap, scene_lap, loud_lap = (block_features(x)[..., lap][inside].mean() for x in (smooth, scene, loud))
    assert smooth_lap < scene_lap - 1 and loud_lap > scene_lap + 1
    assert FEATURE_NAMES[:BASE_FEATURES][-1] == "lap_vs_med5" and len(FEATURE_NAMES) == BASE_FEATURES + 2 * len(
        ANOMALY_OF
    ) + 3 + 3 * len(LAG_GROUPS) + 2 * len(LAG_ANISOTROPY)


def test_lag_features_see_a_residual_that_repeats_where_camera_noise_does_not():
    """A patch whose fine detail repeats every 8 pixels (a network's upsampling grid) has residual correlation
    near 1 at lag 8 and stands out in its anomaly; the camera-like noise around it is uncorrelated at lags 2-8."""
    import cv2

    scene = noisy_scene(5)
    rng = np.random.default_rng(2)
    tile = np.tile(rng.normal(0, 6, (8, 8)), (8, 8))[..., None]  # a 64x64 pattern of period 8
    fake = scene.astype(np.float64)
    fake[32:96, 32:96] = cv2.GaussianBlur(scene, (0, 0), 3)[32:96, 32:96] + tile
    fake = np.clip(fake, 0, 255).round().astype(np.uint8)
    mask = np.zeros(scene.shape[:2], bool)
    mask[32:96, 32:96] = True
    inside, outside = block_labels(mask) == 1, block_labels(mask) == 0
    f, g = block_features(fake), block_features(scene)
    lag8, anom8 = FEATURE_NAMES.index("lag8"), FEATURE_NAMES.index("anom_lag8_3")
    assert f[..., lag8][inside].mean() > 0.8 and np.abs(f[..., lag8][outside]).mean() < 0.2
    assert f[..., anom8][inside].mean() > 4 * f[..., anom8][outside].mean()
    for name in ("lag2", "lag4", "lag8", "lag_diag2"):
        assert np.abs(g[..., FEATURE_NAMES.index(name)]).mean() < 0.15


def test_image_score_keeps_the_count_of_blocks_above_it_in_large_images():
    """Up to a 256² image the score is the 98th percentile of the smoothed block map; in a larger one the quantile
    rises so that a fill of the same size scores the same: a 6x6-block fill lifts a 768² image's score as it does a
    256² crop's, where a plain 98th percentile would stay at the background."""
    from inpaintkit.forensics.noise import _box, image_score

    rng = np.random.default_rng(0)
    for side in (32, 96):
        g = rng.uniform(0, 0.2, (side, side)).astype(np.float32)
        g[10:16, 10:16] = 0.95
        plain = float(np.quantile(_box(g, 3), 0.98))
        if side == 32:
            assert image_score(g) == plain
            small = image_score(g)
        else:
            assert plain < 0.3 and image_score(g) > 0.5 and abs(image_score(g) - small) < 0.25
    assert image_score(rng.uniform(0, 0.2, (12, 20)).astype(np.float32)) < 0.2


def test_jpeg_trees_see_the_features_without_anomalies_and_still_flag_a_smooth_patch():
    """The PNG trees take every block feature, the JPEG trees those of JPEG_FEATURES (no anomalies), in a fit and
    in the bundled detector, by name; a JPEG-compressed smooth patch is still flagged through them."""
    samples, jpegs = [], []
    for s in range(10):
        scene = noisy_scene(s)
        fake, mask = smooth_patch(scene, (32, 32, 80, 96))
        samples += [(scene, None), (fake, mask)]
        jpegs += [(jpeg(scene, 90), None), (jpeg(fake, 90), mask)]
    nb = fit_noise_branch(samples, jpegs, rounds=30)
    assert not ANOMALY_NAMES & set(JPEG_FEATURES) and set(FEATURE_NAMES) > set(JPEG_FEATURES)
    for branch in (nb, NoiseBranch.load(BUNDLED_DIR)):
        assert tree_feature_names(branch.trees) == FEATURE_NAMES
        assert tree_feature_names(branch.jpeg_trees) == JPEG_FEATURES
    fake, mask = smooth_patch(noisy_scene(99), (40, 16, 96, 72))
    grid = nb.block_map(jpeg(fake, 90), jpeg=True)
    assert grid[block_labels(mask) == 1].mean() > grid[block_labels(mask) == 0].mean() + 0.4


def test_trees_fitted_before_the_anomaly_features_still_load_and_predict():
    """A detector folder fitted before the anomaly features (trees on the first 40 block features, unnamed) loads
    and scores from those 40; unnamed trees of any other width, or trees naming a feature this version does not
    compute, are refused with a one-line error."""
    import lightgbm as lgb

    samples = []
    for s in range(8):
        scene = noisy_scene(s)
        fake, mask = smooth_patch(scene, (32, 32, 80, 96))
        samples += [(scene, None), (fake, mask)]
    rows = [block_features(rgb).reshape(-1, len(FEATURE_NAMES)) for rgb, _ in samples]
    labels = [np.zeros(len(r)) if m is None else block_labels(m).ravel() > 0.5 for r, (_, m) in zip(rows, samples)]
    x, y = np.concatenate(rows)[:, :BASE_FEATURES], np.concatenate(labels).astype(float)
    old = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 30)
    nb = NoiseBranch(old.model_to_string())
    fake, mask = smooth_patch(noisy_scene(99), (40, 16, 96, 72))
    grid = nb.block_map(fake)
    assert grid[block_labels(mask) == 1].mean() > grid[block_labels(mask) == 0].mean() + 0.5
    wrong = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x[:, :13], y), 5)
    with pytest.raises(InpaintKitError, match="these trees take 13 unnamed block features.*refit the detector"):
        NoiseBranch(wrong.model_to_string())
    alien = lgb.Dataset(x[:, :3], y, feature_name=["lap", "lap_3", "sharpness"])
    with pytest.raises(InpaintKitError, match=r"features this version does not compute \(sharpness\).*refit"):
        NoiseBranch(lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, alien, 5).model_to_string())


def test_trees_get_their_block_features_by_name():
    """Trees are given the features they were fitted on, by the names in their text: the last round's (base and
    anomalies), the JPEG trees' (base and lags), or any order of known names; only the groups they use are
    computed."""
    rgb = noisy_scene(3)
    full = block_features(rgb)
    base = FEATURE_NAMES[:BASE_FEATURES]
    anomalies = [n for n in FEATURE_NAMES if n in ANOMALY_NAMES]
    for names, groups in (
        (base + anomalies, (True, False)),
        (JPEG_FEATURES, (False, True)),
        (["lag8", "lap", "anom_rms"], (True, True)),
        (FEATURE_NAMES, (True, True)),
    ):
        a, lags, cols = feature_columns(names)
        assert (a, lags) == groups
        f = block_features(rgb, a, lags)
        f = f if cols is None else f[..., cols]
        np.testing.assert_array_equal(f, full[..., [FEATURE_NAMES.index(n) for n in names]])
    assert feature_columns(FEATURE_NAMES)[2] is None  # the current trees take the features as computed


def test_noise_branch_learns_a_smooth_patch_and_spares_noisy_flat_ground():
    """A tiny model trained on synthetic scenes flags the noise-free patch, not the rest."""
    samples = []
    for s in range(12):
        scene = noisy_scene(s)
        fake, mask = smooth_patch(scene, (32, 32, 80, 96))
        samples += [(scene, None), (fake, mask)]
    nb = fit_noise_branch(samples, rounds=40)
    fake, mask = smooth_patch(noisy_scene(99), (40, 16, 96, 72))
    grid = nb.block_map(fake)
    inside, outside = grid[block_labels(mask) == 1], grid[block_labels(mask) == 0]
    assert inside.mean() > 0.8 and outside.mean() < 0.2
    assert nb.predict(fake)[0] > nb.predict(noisy_scene(99))[0] + 0.5


def test_bundled_noise_branch_flags_a_smooth_patch_not_a_flat_sky(photo):
    nb = NoiseBranch.load(BUNDLED_DIR)
    ground = photo[-256:, :256]
    fake, mask = smooth_patch(ground, (64, 64, 192, 192))
    grid = nb.block_map(fake)
    assert grid[block_labels(mask) == 1].mean() > grid[block_labels(mask) == 0].mean() + 0.3
    # the flattest part of the photo (sky) is not a fill: its blocks stay low
    sky = photo[:160, 60:316]
    assert nb.block_map(sky).mean() < 0.5
    assert nb.predict(fake)[0] > nb.predict(ground)[0]


def test_noise_branch_names_the_images_own_size_when_too_small(photo):
    nb = NoiseBranch.load(BUNDLED_DIR)
    for h, w in ((9, 13), (15, 400), (400, 12)):
        with pytest.raises(InpaintKitError, match=f"image is {w}x{h}; the noise branch needs at least 16x16"):
            nb.predict(np.ascontiguousarray(photo[:h, :w]))
    assert nb.block_map(np.ascontiguousarray(photo[:16, :23])).shape == (2, 2)


def test_trees_predict_exactly_what_lightgbm_predicts(photo):
    """The noise branch's trees go through lightgbm's C library directly: the same numbers as ``Booster.predict``,
    for the bundled model and for one trained here (float32 features as the branch gives them, and float64)."""
    import lightgbm as lgb

    from inpaintkit.forensics.trees import Trees

    rng = np.random.default_rng(0)
    real = block_features(photo[:256, :256]).reshape(-1, len(FEATURE_NAMES))
    wild = rng.normal(0, 3, (500, len(FEATURE_NAMES))).astype(np.float32)
    nb = NoiseBranch.load(BUNDLED_DIR)
    assert nb.trees._handle is not None  # the library was found: this is the path that skips `import lightgbm`
    booster = lgb.Booster(model_str=(BUNDLED_DIR / "noise_lgbm.txt").read_text())
    for x in (real, wild, wild.astype(np.float64)):
        np.testing.assert_array_equal(nb.trees.predict(x), booster.predict(x, num_threads=1))
    x = rng.normal(0, 1, (400, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
    small = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 20)
    np.testing.assert_array_equal(Trees(small.model_to_string()).predict(x), small.predict(x, num_threads=1))
    with pytest.raises(InpaintKitError, match=rf"expected \(N, {len(FEATURE_NAMES)}\) features"):
        nb.trees.predict(real[:, :5])


def test_saved_noise_branch_round_trips(tmp_path, photo):
    nb = NoiseBranch.load(BUNDLED_DIR)
    assert nb.jpeg_trees is not None  # the bundled detector has trees for each input kind
    nb.save(tmp_path)
    for f in ("noise_lgbm.txt", "noise_lgbm_jpeg.txt"):
        assert (tmp_path / f).read_text() == (BUNDLED_DIR / f).read_text()
    again = NoiseBranch.load(tmp_path)
    for jpg in (False, True):
        np.testing.assert_array_equal(
            again.block_map(photo[:128, :128], jpeg=jpg), nb.block_map(photo[:128, :128], jpeg=jpg)
        )
    # saving trees without JPEG ones removes a stale JPEG file, so the folder loads as what was saved
    NoiseBranch(nb.trees.model).save(tmp_path)
    assert not (tmp_path / "noise_lgbm_jpeg.txt").exists() and NoiseBranch.load(tmp_path).jpeg_trees is None


def test_noise_branch_picks_its_trees_by_input_kind():
    """PNG inputs go to the PNG trees, JPEG ones (said, or seen by ``looks_jpeg``) to the JPEG trees; the two sets
    are trained on their own samples and give different maps."""
    samples = []
    for s in range(8):
        scene = noisy_scene(s)
        fake, mask = smooth_patch(scene, (32, 32, 80, 96))
        samples += [(scene, None), (fake, mask)]
    nb = fit_noise_branch(samples, [(jpeg(rgb, 60), m) for rgb, m in samples], rounds=20, leaves=7)
    scene = noisy_scene(50)
    assert nb.trees_for(scene) is nb.trees and nb.trees_for(jpeg(scene, 60)) is nb.jpeg_trees
    assert nb.trees_for(scene, jpeg=True) is nb.jpeg_trees and nb.trees_for(jpeg(scene, 60), jpeg=False) is nb.trees
    assert not np.array_equal(nb.block_map(scene, jpeg=True), nb.block_map(scene, jpeg=False))
    png_only = NoiseBranch(nb.trees.model)
    assert png_only.trees_for(jpeg(scene, 60)) is png_only.trees  # no JPEG trees: the PNG ones judge both


def test_trees_for_another_feature_set_are_refused():
    import lightgbm as lgb

    x = np.random.default_rng(0).normal(0, 1, (200, 5))
    old = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, (x[:, 0] > 0).astype(float)), 5)
    with pytest.raises(InpaintKitError, match=r"take 5 unnamed block features.*refit the detector"):
        NoiseBranch(old.model_to_string())


def test_block_sums_are_numpys_block_sums_to_the_bit():
    """The fast per-block sums keep the float32 result of the plain numpy reduction (the trees see the same
    features as when they were trained)."""
    from inpaintkit.forensics.noise import _block_sums, blocks_of

    x = np.random.default_rng(0).normal(0, 30, (48, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(_block_sums(x), blocks_of(x).sum(axis=(2, 3)))


# -- duplication branch ---------------------------------------------------------------------------------------------


def test_window_dct_matches_a_direct_dct():
    from inpaintkit.forensics.noise import DCT8

    y = np.random.default_rng(0).uniform(0, 255, (20, 24)).astype(np.float32)
    f = window_dct(y)
    assert f.shape[:2] == (13, 17)
    direct = DCT8 @ y[5:13, 7:15] @ DCT8.T
    assert np.allclose(f[5, 7, :3], [direct[0, 0], direct[0, 1], direct[1, 0]], atol=1e-2)


def test_window_dct_at_some_windows_is_those_windows_of_the_grid():
    y = np.random.default_rng(1).uniform(0, 255, (40, 33)).astype(np.float32)
    grid = window_dct(y)  # (33, 26, K)
    at = np.array([0, 5, 26, 300, 33 * 26 - 1])
    np.testing.assert_array_equal(window_dct(y, at=at), grid.reshape(-1, grid.shape[-1])[at].T)


def test_duplication_finds_a_pasted_block_at_its_offset(photo):
    img = np.ascontiguousarray(photo[-256:, 200:456])
    fake = img.copy()
    fake[150:210, 120:190] = img[40:100, 30:100]  # pasted 110 rows down, 90 columns right
    d = DuplicationBranch()
    shifts = [s for s, _, _ in d.matches(fake)]
    assert (110, 90) in shifts
    score, heat = d.predict(fake)
    pasted = np.zeros(heat.shape, bool)
    pasted[150:210, 120:190] = True
    assert score > 0.03 and heat[pasted].mean() > 0.9  # the copy side ...
    assert heat[40:100, 30:100].mean() < 0.1  # ... not the source (its border has no seam)
    assert d.predict(jpeg(fake, 75))[0] > 0.03  # survives re-compression
    assert d.predict(img)[0] == 0.0 and d.predict(photo)[0] == 0.0  # nothing in the untouched photo


def test_duplication_votes_for_smaller_copies_in_jpeg_inputs(photo):
    """A 20x20 copy re-compressed as JPEG q75 has too few matching windows for the lossless vote (60) but enough for
    the JPEG one (``JPEG_VOTE``); folders fitted before it (``jpeg_vote={}``) vote as for lossless inputs, and the
    untouched photo has no copy either way."""
    img = np.ascontiguousarray(photo[-256:, 200:456])
    fake = img.copy()
    fake[150:170, 120:140] = img[40:60, 30:50]  # pasted 110 rows down, 90 columns right
    j = jpeg(fake, 75)
    d, before = DuplicationBranch(), DuplicationBranch(jpeg_vote={})
    assert [s for s, _, _ in d.matches(j, jpeg=True)] == [(110, 90)]
    score, heat = d.predict(j, jpeg=True)
    # one side marked (which one, the seam test decides; on so small a copy it may pick the source)
    assert score > 0.002 and max(heat[150:170, 120:140].mean(), heat[40:60, 30:50].mean()) > 0.4
    assert d.matches(j) == [] and before.matches(j, jpeg=True) == []  # the lossless vote misses it
    for untouched in (img, photo):
        assert d.predict(jpeg(untouched, 75), jpeg=True)[0] == 0.0


def patch_fill(img: np.ndarray, piece: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A PatchMatch-style fill of the square from (96, 96) to 96 + 64 rounded up to whole pieces: ``piece``² pieces
    of the 256² ``img``, each from its own random place outside the square (seed 0); -> (image, the square, the
    pieces' sources) as bool masks."""
    fake = img.copy()
    rng = np.random.default_rng(0)
    end = 96 + -(-64 // piece) * piece
    filled, sources = np.zeros(img.shape[:2], bool), np.zeros(img.shape[:2], bool)
    filled[96:end, 96:end] = True
    for ty in range(96, end, piece):
        for tx in range(96, end, piece):
            sy, sx = rng.integers(0, 256 - piece, 2)
            while 80 <= sy < end + 4 and 80 <= sx < end + 4:  # the source lies outside the filled square
                sy, sx = rng.integers(0, 256 - piece, 2)
            fake[ty : ty + piece, tx : tx + piece] = img[sy : sy + piece, sx : sx + piece]
            sources[sy : sy + piece, sx : sx + piece] = True
    return fake, filled, sources


def test_duplication_finds_many_small_exact_copies_as_a_patch_fill_leaves_them(photo):
    """PatchMatch-style fill: 12x12 pieces of the known region, each from its own place (too few windows per shift
    for the vote), pixel-exact in a PNG; an untouched photo has no textured 5x5 window twice."""
    img = np.ascontiguousarray(photo[-256:, 200:456])
    fake, filled, sources = patch_fill(img, 12)
    d = DuplicationBranch()
    assert d.matches(fake) == []  # no shift has the votes of a copy-move
    exact = d.exact_copies(fake)
    assert exact[filled].mean() > 0.8 and exact[sources & ~filled].mean() > 0.8  # the pieces and their sources ...
    assert exact[~filled & ~sources].mean() < 0.01  # ... and nothing else
    score, heat = d.predict(fake)
    assert score == pytest.approx(exact.mean()) and score > 0.05
    assert set(np.unique(heat)) == {0.0, EXACT_LEVEL}  # both twins, at the level that says "copy or source"
    assert exact_share(heat) == pytest.approx(exact.mean())
    assert not d.exact_copies(img).any() and not d.exact_copies(photo).any()
    assert DuplicationBranch(exact_win=0, flat_win=0).predict(fake)[0] == 0.0  # off in folders fitted before it
    assert d.predict(jpeg(fake, 90))[0] < 0.2 * score  # lossless copies only: JPEG breaks them


def test_duplication_finds_exact_copies_in_weakly_textured_sky(sky_patch_fill):
    """A patch fill of clear sky: its 5x5 windows are too plain for the textured test (luma std ~2.5 < 4), its 9x9
    twins are found; an untouched sky of the same noise has none, and JPEG inputs skip the larger windows."""
    sky, fake, filled = sky_patch_fill
    d = DuplicationBranch()
    assert not DuplicationBranch(flat_win=0).exact_copies(fake).any()  # the 5 px test alone misses it
    exact = d.exact_copies(fake)
    assert exact[filled].mean() > 0.8
    assert not d.exact_copies(sky).any()  # the same noise, untouched: no 9x9 window twice
    assert d.predict(fake)[0] > 0.05
    assert d.predict(fake, jpeg=True)[0] == 0.0 and not d.exact_copies(fake, jpeg=True).any()


def test_dense_test_finds_the_pieces_of_a_patch_fill_in_a_jpeg_and_no_repeating_pattern(photo):
    """The 16x16 pieces of a PatchMatch-style fill, re-compressed at q75: no exact twin left, and the shift vote
    finds some of the pieces only; every piece still matches its source pixel by pixel (``dense_copies``; both
    sides marked, at ``DENSE_LEVEL``). A repeating pattern, which matches at several shifts, is left alone, as is
    the untouched photo; folders fitted before the dense test (``jpeg_dense={}``) and lossless inputs skip it."""
    img = np.ascontiguousarray(photo[-256:, 200:456])
    fake, filled, sources = patch_fill(img, 16)
    j = jpeg(fake, 75)
    d, before = DuplicationBranch(), DuplicationBranch(jpeg_dense={})
    assert not d.exact_copies(j, jpeg=True).any()
    dense = d.dense_copies(j)
    assert dense[filled].mean() > 0.25 and dense[sources & ~filled].mean() > 0.25  # pieces and sources ...
    assert dense[~filled & ~sources].mean() < 0.01  # ... and almost nothing else
    score, heat = d.predict(j, jpeg=True)
    assert score > 1.5 * before.predict(j, jpeg=True)[0]
    assert DENSE_LEVEL in heat and exact_share(heat) == 0.0  # the exact-copy rule does not see them
    assert d.predict(j)[0] == before.predict(j)[0]  # lossless inputs: exact twins and the vote only
    for untouched in (img, photo):
        assert not d.dense_copies(jpeg(untouched, 75)).any()
    # a lattice: one 24x24 tile of the photo, repeated; it matches itself at every multiple of the period
    lattice = jpeg(np.ascontiguousarray(np.tile(img[100:124, 100:124], (8, 8, 1))), 75)
    assert not d.dense_copies(lattice).any()


def test_duplication_on_tiny_and_flat_images():
    d = DuplicationBranch()
    assert d.predict(np.zeros((10, 10, 3), np.uint8))[0] == 0.0
    assert d.predict(np.full((64, 64, 3), 90, np.uint8))[0] == 0.0  # flat: every window alike, none textured


# -- probe fills --------------------------------------------------------------------------------------------------------


def test_shift_and_heat_fills(photo):
    from inpaintkit.inpainters import create_inpainter
    from inpaintkit.inpainters.probes import copy_offset

    img = np.ascontiguousarray(photo[-128:, :128])
    mask = np.zeros((128, 128), bool)
    mask[40:70, 50:80] = True
    off = copy_offset(mask)
    assert off is not None and not mask[40 + off[0], 50 + off[1]]
    out = create_inpainter("shift").inpaint(img, mask)
    assert np.array_equal(out[40:70, 50:80], img[40 + off[0] : 70 + off[0], 50 + off[1] : 80 + off[1]])
    heat = create_inpainter("heat").inpaint(img, mask)
    assert np.array_equal(heat[~mask], img[~mask])
    assert heat[mask].std() < img[mask].std()  # diffusion smooths


# -- calibration and fusion ------------------------------------------------------------------------------------------


def test_platt_is_monotone_and_thresholds_keep_the_fpr_budget():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(400), np.ones(400)].astype(int)
    raw = {
        "png": {
            "noise": np.r_[rng.uniform(0, 0.6, 400), rng.uniform(0.4, 1.0, 400)],
            "cnn": np.r_[rng.normal(-2, 1, 400), rng.normal(2, 1, 400)],
        }
    }
    ab = fit_platt(np.log(raw["png"]["noise"] + 1e-3), y)
    p = platt(ab, np.linspace(-3, 0, 7))
    assert ab[0] > 0 and np.all(np.diff(p) > 0)
    cal = calibrate(raw, {"png": y}, fpr_budget=0.05)
    for b, c in cal["png"].items():
        from inpaintkit.forensics.fusion import raw_feature

        flagged = (platt(c["platt"], raw_feature(b, raw["png"][b][y == 0])) >= c["threshold"]).mean()
        share = DEFAULT_SPLIT[b] / (DEFAULT_SPLIT["noise"] + DEFAULT_SPLIT["cnn"])  # the budget split between them
        assert flagged <= c["budget"] + 1e-9 and c["budget"] == pytest.approx(0.05 * share)


def test_calibration_by_photo_holds_the_budget_when_one_photo_is_smooth():
    """Untouched crops come in photos. One smooth photo (all its crops score high) sets the plain threshold low
    enough to flag other smooth photos; the photo-bootstrap threshold is set above it. The budget is still met on the
    validation crops, and without groups the result is the plain threshold."""
    rng = np.random.default_rng(0)
    photo = np.repeat(np.arange(20), 10)  # 20 photos x 10 untouched crops
    real = rng.uniform(0.0, 0.5, 200)
    real[photo == 7] = rng.uniform(0.55, 0.7, 10)  # one smooth photo: 5 % of the crops
    y = np.r_[np.zeros(200), np.ones(200)].astype(int)
    raw = {"png": {"noise": np.r_[real, rng.uniform(0.4, 1.0, 200)]}}
    groups = {"png": np.r_[photo, np.full(200, -1)]}
    plain = calibrate(raw, {"png": y}, fpr_budget=0.06, split={"noise": 1.0})["png"]["noise"]
    boot = calibrate(raw, {"png": y}, fpr_budget=0.06, split={"noise": 1.0}, groups=groups)["png"]["noise"]
    assert boot["n_photos"] == 20 and plain["n_photos"] == 0
    assert boot["threshold"] > plain["threshold"]
    from inpaintkit.forensics.fusion import raw_feature

    p_smooth = platt(boot["platt"], raw_feature("noise", real[photo == 7]))
    assert (p_smooth >= plain["threshold"]).all()  # the plain threshold flags the whole smooth photo
    assert (p_smooth >= boot["threshold"]).sum() < 10  # the bootstrap one only part of it
    low = calibrate(raw, {"png": y}, fpr_budget=0.06, split={"noise": 1.0}, groups=groups, confidence=0.5)
    assert boot["threshold"] > low["png"]["noise"]["threshold"]  # more confidence, a higher threshold
    again = calibrate(raw, {"png": y}, fpr_budget=0.06, split={"noise": 1.0}, groups=groups)["png"]["noise"]
    assert again == boot  # seeded


def test_map_thresholds_follow_the_useful_map_and_move_the_decision_point_to_half():
    """A branch whose map is right above 0.7 gets threshold 0.7; a branch whose map is noise gets a threshold that
    keeps it out of the heatmap; ``rescale_map`` then puts each threshold at 0.5, so ``combine``'s heatmap at 0.5
    is the OR of the branches' own decisions."""
    from inpaintkit.forensics.fusion import fit_map_thresholds, rescale_map

    rng = np.random.default_rng(0)
    masks = np.zeros((40, 16, 16), bool)
    for i in range(40):
        t, l = rng.integers(0, 8, 2)
        masks[i, t : t + 8, l : l + 8] = True
    good = np.where(masks, rng.uniform(0.72, 1.0, masks.shape), rng.uniform(0.0, 0.68, masks.shape))
    noise = rng.uniform(0.0, 0.9, masks.shape)
    t = fit_map_thresholds({"noise": good.astype(np.float32), "cnn": noise.astype(np.float32)}, masks)
    assert t["noise"] == 0.7 and t["cnn"] >= 0.9
    m = np.array([0.0, 0.35, 0.7, 0.85, 1.0], np.float32)
    np.testing.assert_allclose(rescale_map(m, 0.7), [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-6)
    assert rescale_map(m, 0.5) is m
    cal = {"noise": {"platt": [1.0, 0.0], "threshold": 0.9, "map_threshold": 0.7}}
    heat = _fake_fused(cal).combine({"noise": (0.2, m[None])}, jpeg=False).heatmap
    assert (heat[0] >= 0.5).tolist() == [False, False, True, True, True]


def _fake_fused(cal: dict) -> FusedDetector:
    return FusedDetector({"calibration": {"png": cal, "jpeg": cal}})


def test_exact_copy_rule_lifts_only_images_whose_share_beats_every_untouched_crop():
    cal = {"noise": {"platt": [1.0, 0.0], "threshold": 0.9}, "duplication": {"platt": [1.0, 0.0], "threshold": 0.9}}
    plain = _fake_fused(cal)
    ruled = FusedDetector({"calibration": {"png": cal, "jpeg": cal}, "exact_rule": {"png": {"tau": 0.01}}})
    low = np.full((20, 20), 0.1, np.float32)

    def dup(n_exact: int) -> tuple[float, np.ndarray]:
        m = np.zeros((20, 20), np.float32)
        m.ravel()[:n_exact] = EXACT_LEVEL
        return float((m > 0).mean()), m

    for n, lifted in ((0, False), (2, False), (20, True)):  # shares 0, 0.005 (under tau), 0.05
        raw = {"noise": (0.5, low), "duplication": dup(n)}
        before, after = plain.combine(raw, jpeg=False).score, ruled.combine(raw, jpeg=False).score
        if lifted:
            assert after > 0.5 > before  # flagged, though neither branch passes its threshold
            assert after == pytest.approx(1 / (1 + (0.011 / 0.051)))  # sigmoid(log((0.05 + 0.001) / (tau + 0.001)))
        else:
            assert after == before
    raw = {"noise": (0.5, low), "duplication": dup(20)}
    assert ruled.combine(raw, jpeg=True).score == plain.combine(raw, jpeg=True).score  # no JPEG rule fitted


def test_fusion_flags_when_any_branch_passes_and_heatmap_is_the_max():
    cal = {
        "noise": {"platt": [1.0, 0.0], "threshold": 0.9},
        "cnn": {"platt": [1.0, 0.0], "threshold": 0.9},
        "duplication": {"platt": [10.0, 60.0], "threshold": 0.5},
    }
    det = _fake_fused(cal)
    low, high = np.full((4, 4), 0.1, np.float32), np.full((4, 4), 0.7, np.float32)
    quiet = {"noise": (0.5, low), "duplication": (0.0, np.zeros((4, 4), np.float32)), "cnn": (-3.0, low)}
    res = det.combine(quiet, jpeg=False)
    assert isinstance(res, Detection) and res.verdict == "authentic" and res.score < 0.5
    assert set(res.branches) == {"noise", "duplication", "cnn"}
    loud = {**quiet, "cnn": (5.0, high)}  # only the CNN passes its threshold
    res = det.combine(loud, jpeg=False)
    assert res.verdict == "inpainted" and res.score > 0.5 and res.branches["cnn"] > 0.99
    assert np.allclose(res.heatmap, 0.7)  # max over maps
    assert res.as_dict().keys() == {"score", "verdict", "noise", "duplication", "cnn"}


class _ConstCNN:
    """A CNN branch stand-in whose logit says which network ran."""

    def __init__(self, logit: float):
        self.logit, self.calls, self.views = logit, 0, []

    def predict(self, rgb: np.ndarray, views: int = 1) -> tuple[float, np.ndarray]:
        self.calls += 1
        self.views.append(views)
        return self.logit, np.full(rgb.shape[:2], 0.25, np.float32)

    def predict_with_box(self, rgb: np.ndarray, views: int = 1) -> tuple[float, np.ndarray, tuple[int, int, int, int]]:
        return *self.predict(rgb, views), (0, 0, *rgb.shape[:2])


def test_cnn_branch_runs_the_jpeg_cnn_on_jpeg_inputs_only():
    scene = noisy_scene(4, 64)
    png_cnn, jpeg_cnn = _ConstCNN(-2.0), _ConstCNN(3.0)
    det = FusedDetector({}, cnn=png_cnn, cnn_jpeg=jpeg_cnn)
    assert det.raw(scene, jpeg=False)["cnn"][0] == -2.0
    assert det.raw(scene, jpeg=True)["cnn"][0] == 3.0
    assert det.raw(jpeg(scene, 50))["cnn"][0] == 3.0  # kind not given: looks_jpeg decides
    assert det.raw(scene)["cnn"][0] == -2.0
    assert (png_cnn.calls, jpeg_cnn.calls) == (2, 2)
    # without one for JPEG, the one CNN serves both kinds
    assert FusedDetector({}, cnn=png_cnn).raw(scene, jpeg=True)["cnn"][0] == -2.0


def test_jpeg_inputs_get_the_png_cnns_second_opinion_in_its_views():
    """With ``second_cnn`` a JPEG input's raw outputs also hold the PNG network's (``SECOND_CNN``), each network run
    in its ``views``; a PNG input's do not, and neither does a folder with one CNN for both kinds."""
    from inpaintkit.forensics.fusion import SECOND_CNN

    scene = noisy_scene(4, 64)
    png_cnn, jpeg_cnn = _ConstCNN(-2.0), _ConstCNN(3.0)
    views = {"png": 1, "jpeg": 1, SECOND_CNN: 2}
    det = FusedDetector({}, cnn=png_cnn, cnn_jpeg=jpeg_cnn, second_cnn=True, views=views)
    out = det.raw(scene, jpeg=True)
    assert out["cnn"][0] == 3.0 and out[SECOND_CNN][0] == -2.0 and out[SECOND_CNN][1].shape == scene.shape[:2]
    assert (png_cnn.views, jpeg_cnn.views) == ([2], [1])
    assert SECOND_CNN not in det.raw(scene, jpeg=False) and png_cnn.views == [2, 1]
    assert set(det.branches) == {"cnn"}  # an input of the JPEG stack, not a branch
    assert not FusedDetector({}, cnn=png_cnn, second_cnn=True).second_cnn
    assert SECOND_CNN not in FusedDetector({}, cnn=png_cnn, cnn_jpeg=jpeg_cnn).raw(scene, jpeg=True)


def test_the_jpeg_stack_takes_the_second_opinion_as_a_column():
    """``fit_stack`` given ``SECOND_CNN`` scores records it as the entry's ``extra`` and fits on it: a second
    network whose errors are independent of the first's lifts the stacked ROC-AUC; ``combine`` scores an image as
    the fit did (the raw logit after the margins), and without the second opinion falls back to the max rule."""
    from inpaintkit.forensics.evaluate import roc_auc
    from inpaintkit.forensics.fusion import SECOND_CNN, fit_stack, margins, stacker_of

    rng = np.random.default_rng(3)
    n = 300
    y = np.r_[np.zeros(n), np.ones(n)].astype(int)
    noise = 1 / (1 + np.exp(-(y * 1.2 + rng.normal(0, 1, 2 * n))))
    raw = {"jpeg": {"noise": noise, "cnn": y * 1.2 + rng.normal(0, 1, 2 * n)}}
    photos = {"jpeg": np.arange(2 * n) % 30}
    cal = calibrate(raw, {"jpeg": y}, split={"noise": 0.5, "cnn": 0.5}, groups=photos)
    plain = fit_stack(raw, {"jpeg": y}, cal, groups=photos)["jpeg"]
    raw["jpeg"][SECOND_CNN] = y * 1.2 + rng.normal(0, 1, 2 * n)
    assert set(calibrate(raw, {"jpeg": y}, groups=photos)["jpeg"]) == {"noise", "cnn"}  # not a calibrated branch
    stack = fit_stack(raw, {"jpeg": y}, cal, groups=photos)["jpeg"]
    assert plain["extra"] == [] and stack["extra"] == [SECOND_CNN] and stack["branches"] == ["noise", "cnn"]
    z = margins(cal["jpeg"], {b: raw["jpeg"][b] for b in stack["branches"]})
    s = stacker_of(stack).decision_function(np.hstack([z, raw["jpeg"][SECOND_CNN][:, None]])) - stack["threshold"]
    s_plain = stacker_of(plain).decision_function(z)
    assert roc_auc(y, s) > roc_auc(y, s_plain) + 0.03
    det = FusedDetector({"calibration": cal, "stack": {"jpeg": stack}})
    one = np.zeros((2, 2), np.float32)
    rows = [{k: (raw["jpeg"][k][i], one) for k in ("noise", "cnn", SECOND_CNN)} for i in range(2 * n)]
    scores = [det.combine(r, jpeg=True).score for r in rows]
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-s)), atol=1e-9)
    res = det.combine(rows[0], jpeg=True)
    assert set(res.branches) == {"noise", "cnn"} and set(res.maps) == {"noise", "cnn"}
    without = {k: v for k, v in rows[0].items() if k != SECOND_CNN}
    max_rule = 1 / (1 + np.exp(-margins(cal["jpeg"], {b: raw["jpeg"][b][:1] for b in ("noise", "cnn")}).max()))
    assert det.combine(without, jpeg=True).score == pytest.approx(max_rule)


class _TileCNN(TiledDetector):
    """A tiled CNN stand-in: every tile gets the logit ``logit``; ``tiles`` counts the tiles scored."""

    def __init__(self, logit: float):
        super().__init__(256, 32)
        self.logit, self.tiles = logit, 0

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.tiles += len(batch)
        return np.full(len(batch), self.logit, np.float32), np.zeros((len(batch), *batch.shape[2:]), np.float32)


def test_tile_count_is_the_number_of_tiles_predict_scores():
    cnn = _TileCNN(0.0)
    for (h, w), n in (((64, 40), 1), ((256, 256), 1), ((384, 384), 4), ((512, 768), 12), ((1024, 683), 15)):
        cnn.tiles = 0
        cnn.predict(np.zeros((h, w, 3), np.uint8))
        assert cnn.tiles == cnn.tile_count(h, w) == n


def test_tile_correction_discounts_the_highest_tile_of_large_images_only():
    cal = {"cnn": {"platt": [1.0, 0.0], "threshold": 0.5}}  # margin = the raw logit
    meta = {"calibration": {"png": cal, "jpeg": cal}, "tile_correction": {"jpeg": 1.0}}
    det = FusedDetector(meta, cnn=_TileCNN(1.0), cnn_jpeg=_TileCNN(1.0))
    big, small = np.zeros((512, 768), np.float32), np.zeros((256, 256), np.float32)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    assert det.combine({"cnn": (1.0, big)}, jpeg=True).score == pytest.approx(sig(1.0 - np.log(12)))
    assert det.score({"cnn": (1.0, big)}, jpeg=True) == pytest.approx(sig(1.0 - np.log(12)))
    assert det.combine({"cnn": (1.0, small)}, jpeg=True).score == pytest.approx(sig(1.0))  # one tile: as before
    assert det.combine({"cnn": (1.0, big)}, jpeg=False).score == pytest.approx(sig(1.0))  # no PNG correction
    assert _fake_fused(cal).combine({"cnn": (1.0, big)}, jpeg=True).score == pytest.approx(sig(1.0))  # old folders
    # the PNG network's second opinion on a JPEG input is discounted alike
    from inpaintkit.forensics.fusion import SECOND_CNN

    fixed = det.tile_corrected({"cnn": (1.0, big), SECOND_CNN: (0.5, big)}, "jpeg")
    assert fixed[SECOND_CNN][0] == pytest.approx(0.5 - np.log(12)) and fixed["cnn"][0] == pytest.approx(
        1.0 - np.log(12)
    )
    assert det.tile_corrected({"cnn": (1.0, small), SECOND_CNN: (0.5, small)}, "jpeg")[SECOND_CNN][0] == 0.5


class _MirrorCNN(TiledDetector):
    """Logit: the left half's mean minus the right half's (a mirror image negates it); map: each column's index
    over the width, whatever the image (a mirror image reverses it)."""

    def __init__(self):
        super().__init__(256, 32)

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = batch.shape[-1]
        logit = batch[..., : w // 2].mean(axis=(1, 2, 3)) - batch[..., w // 2 :].mean(axis=(1, 2, 3))
        ramp = np.broadcast_to(np.arange(w, dtype=np.float32) / w, batch.shape[:1] + batch.shape[2:])
        return logit.astype(np.float32), ramp.copy()


def test_two_views_average_each_tile_with_its_mirror_image():
    cnn = _MirrorCNN()
    img = np.zeros((64, 96, 3), np.uint8)
    img[:, :30] = 200  # bright on the left
    one_logit, one_map = cnn.predict(img)
    two_logit, two_map = cnn.predict(img, views=2)
    assert one_logit > 0.3 and two_logit == pytest.approx(0.0, abs=1e-6)  # the mirror view's logit is its negative
    ramp = np.arange(96, dtype=np.float32) / 96
    np.testing.assert_allclose(one_map[0], ramp, atol=1e-6)
    np.testing.assert_allclose(two_map[0], (ramp + ramp[::-1]) / 2, atol=1e-6)  # its map mirrored back, averaged
    big = np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8)  # several tiles
    big[:, :150] = 220
    assert cnn.tile_count(300, 420) > 1 and cnn.predict(big)[0] > 0.3
    big_logit, big_map = cnn.predict(big, views=2)  # each tile's views averaged: every tile's logit is 0
    assert big_logit == pytest.approx(0.0, abs=1e-6) and big_map.shape == (300, 420)
    with pytest.raises(InpaintKitError, match="views must be one of 1, 2"):
        cnn.predict(img, views=3)


def test_fit_tile_correction_takes_the_smallest_discount_that_keeps_the_budget(tmp_path):
    from inpaintkit.forensics.fusion import TILE_ALPHAS, fit_tile_correction, large_crops
    from inpaintkit.io import write_image

    for i in range(2):
        write_image(tmp_path / f"p{i}.png", noisy_scene(10 + i, 640)[:600])
    crops = large_crops(tmp_path)
    assert len(crops) == 2 * 5 and {c.shape[:2] for *_, c in crops} == {(600, 640), (384, 384), (512, 512)}
    assert {(photo, size) for photo, size, _ in crops} >= {("p0", "whole"), ("p1", "whole"), ("p0", "384x384")}
    cal = {"cnn": {"platt": [1.0, 0.0], "threshold": 0.5}}
    # every tile scores 1.0 (JPEG) or -1.0 (PNG); 4 tiles (384²) are the fewest: alpha * log 4 must exceed 1.0
    det = FusedDetector({"calibration": {"png": cal, "jpeg": cal}}, cnn=_TileCNN(-1.0), cnn_jpeg=_TileCNN(1.0))
    fit = fit_tile_correction(det, tmp_path, progress=False)
    assert (
        fit["alpha"]
        == {"png": 0.0, "jpeg": min(a for a in TILE_ALPHAS if a * np.log(4) > 1.0)}
        == {
            "png": 0.0,
            "jpeg": 0.75,
        }
    )
    assert fit["flagged"]["jpeg"]["0.0"] == 1.0 and fit["flagged"]["jpeg"]["0.75"] == 0.0
    assert "tile_correction" not in det.meta  # measured, not set


class _BrightCNN(_TileCNN):
    """Tiles brighter than mid-grey get the logit 1.0, the others -1.0 (batch: (N, 3, H, W) in [0, 1])."""

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logit = np.where(batch.mean(axis=(1, 2, 3)) > 0.5, 1.0, -1.0).astype(np.float32)
        return logit, np.zeros((len(batch), *batch.shape[2:]), np.float32)


def test_fit_tile_correction_keeps_the_budget_on_new_photos(tmp_path):
    """One photo in 40 flagged (2.5 %, inside the 3 % budget on these photos) is not a share to spend: in 95 % of
    resamples of the photos it is more, so the discount that clears it is taken; an all-dark folder keeps none."""
    from inpaintkit.forensics.fusion import fit_tile_correction
    from inpaintkit.io import write_image

    for i in range(40):
        write_image(tmp_path / f"p{i:02d}_a.png", np.full((300, 300, 3), 200 if i == 7 else 60, np.uint8))
    cal = {"cnn": {"platt": [1.0, 0.0], "threshold": 0.5}}
    det = FusedDetector({"calibration": {"png": cal, "jpeg": cal}}, cnn=_BrightCNN(0.0), cnn_jpeg=_BrightCNN(0.0))
    fit = fit_tile_correction(det, tmp_path, progress=False)
    assert fit["flagged"]["png"]["0.0"] == pytest.approx(1 / 40)  # within the budget on these photos
    assert fit["flagged_at_confidence"]["png"]["0.0"] >= 2 / 40
    # a 300² image has 4 tiles: alpha * log 4 must exceed the bright tile's logit 1.0
    assert fit["alpha"]["png"] == 0.75 and fit["flagged"]["png"]["0.75"] == 0.0
    for f in tmp_path.glob("p07_a.png"):
        f.unlink()
    assert fit_tile_correction(det, tmp_path, progress=False)["alpha"]["png"] == 0.0


class _SeenCNN(_TileCNN):
    """Logit: the batch's mean brightness; records the shape and mean of every image ``predict`` is given."""

    def __init__(self):
        super().__init__(0.0)
        self.seen = []

    def predict_with_box(self, rgb, views=1):  # noqa: D102
        self.seen.append((rgb.shape[:2], float(rgb.mean())))
        return super().predict_with_box(rgb, views)

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return batch.mean(axis=(1, 2, 3)).astype(np.float32), np.zeros((len(batch), *batch.shape[2:]), np.float32)


def test_the_second_opinion_looks_at_the_jpeg_networks_highest_tile():
    """On a large JPEG the PNG network sees one tile, the one the JPEG network scored highest (its box from
    ``predict_with_box``), whatever the image's size; on a 256² one, the image."""
    from inpaintkit.forensics.fusion import SECOND_CNN

    img = np.full((512, 768, 3), 40, np.uint8)
    img[300:400, 500:600] = 250  # the brightest tile holds this patch
    jpeg_cnn, png_cnn = _SeenCNN(), _SeenCNN()
    det = FusedDetector({}, cnn=png_cnn, cnn_jpeg=jpeg_cnn, second_cnn=True)
    logit, _, (t, lo, th, tw) = jpeg_cnn.predict_with_box(img)
    _, _, corners = jpeg_cnn._tiling(512, 768)
    means = {(y, x): float(img[y : y + 256, x : x + 256].mean()) for y, x in corners}
    assert len(corners) == 12 and (th, tw) == (256, 256) and (t, lo) == max(means, key=means.get)
    assert logit == pytest.approx(means[t, lo] / 255, abs=1e-6)
    assert SECOND_CNN in det.raw(img, jpeg=True)
    assert png_cnn.seen == [((256, 256), pytest.approx(float(img[t : t + th, lo : lo + tw].mean())))]
    small = img[:200, :250]
    det.raw(small, jpeg=True)
    assert png_cnn.seen[-1][0] == (200, 250)  # one tile: the whole image


def test_a_folders_jpeg_cnn_loads_on_first_use(tmp_path):
    import shutil

    from inpaintkit.forensics.detector import WEIGHTS_FILE
    from inpaintkit.forensics.fusion import JPEG_CNN_DIR, LazyCNN

    folder = tmp_path / "fused"
    shutil.copytree(BUNDLED_DIR, folder, ignore=shutil.ignore_patterns(JPEG_CNN_DIR))
    assert FusedDetector.load(folder).cnn_jpeg is None  # no sub-folder: the one CNN
    shutil.copytree(BUNDLED_DIR, folder / JPEG_CNN_DIR, ignore=shutil.ignore_patterns(JPEG_CNN_DIR, "*.txt", "*.md"))
    det = FusedDetector.load(folder)
    assert isinstance(det.cnn_jpeg, LazyCNN) and det.cnn_jpeg._det is None
    scene = noisy_scene(5, 96)
    det.raw(scene, jpeg=False)
    assert det.cnn_jpeg._det is None  # a PNG input never loads it
    logit, heat = det.raw(scene, jpeg=True)["cnn"]
    assert det.cnn_jpeg._det is not None and heat.shape == scene.shape[:2]
    assert logit == pytest.approx(det.cnn.predict(scene)[0], abs=1e-4)  # the same weights here: the same answer
    (folder / JPEG_CNN_DIR / WEIGHTS_FILE).unlink()
    assert FusedDetector.load(folder).cnn_jpeg is None


def test_a_jpeg_cnn_without_the_cnn_branch_is_refused_before_any_work(tmp_path, cli):
    from inpaintkit.forensics.fusion import fit_detector

    with pytest.raises(InpaintKitError, match="--cnn-jpeg"):
        fit_detector(tmp_path / "missing.jsonl", tmp_path / "out", cnn_jpeg=BUNDLED_DIR)
    code, out, err = cli(
        "forensics",
        "fit-detector",
        "--data",
        tmp_path / "missing.jsonl",
        "--out",
        tmp_path / "out",
        "--cnn-jpeg",
        "default",
    )
    assert code != 0 and "--cnn-jpeg" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_looks_jpeg():
    scene = noisy_scene(3, 128)
    assert not looks_jpeg(scene)
    assert looks_jpeg(jpeg(scene, 50))


def test_recalibrate_from_saved_scores(tmp_path):
    import json

    from inpaintkit.forensics.fusion import FUSION_FILE, SCORES_FILE, recalibrate

    rng = np.random.default_rng(1)
    y = [0] * 100 + [1] * 100
    raw = {
        k: {"noise": rng.uniform(0.01, 0.99, 200).tolist(), "cnn": rng.normal(0, 1, 200).tolist()}
        for k in ("png", "jpeg")
    }
    (tmp_path / SCORES_FILE).write_text(json.dumps({"raw": raw, "labels": {"png": y, "jpeg": y}}))
    (tmp_path / FUSION_FILE).write_text(json.dumps({"fpr_budget": 0.05, "calibration": {}}))
    meta = recalibrate(tmp_path, fpr_budget=0.1, split={"noise": 0.9, "cnn": 0.1})
    assert meta["calibration"]["png"]["noise"]["budget"] == pytest.approx(0.09)
    assert meta["stack"]["png"]["branches"] == ["noise", "cnn"]
    assert json.loads((tmp_path / FUSION_FILE).read_text())["fpr_budget"] == 0.1


def test_untouched_image_at_the_threshold_is_not_flagged():
    """A branch whose untouched validation images all score the same (duplication: nothing found) must not flag
    an untouched image with that score."""
    y = np.r_[np.zeros(50), np.ones(50)].astype(int)
    raw = {"png": {"duplication": np.r_[np.zeros(50), np.zeros(25), np.full(25, 0.05)]}}
    cal = calibrate(raw, {"png": y})
    det = _fake_fused(cal["png"])
    zero = np.zeros((4, 4), np.float32)
    assert det.combine({"duplication": (0.0, zero)}, jpeg=False).verdict == "authentic"
    assert det.combine({"duplication": (0.05, zero + 1)}, jpeg=False).verdict == "inpainted"


def test_stacked_score_adds_up_branches_that_agree():
    """With a stack in the folder, two branches each short of their thresholds flag the image together; the same
    image is authentic under the max rule (no stack)."""
    t = float(1 / (1 + np.exp(-1.0)))  # each branch's threshold: margin = its logit - 1
    cal = {"noise": {"platt": [1.0, 0.0], "threshold": t}, "cnn": {"platt": [1.0, 0.0], "threshold": t}}
    unit = {"kind": "logistic", "mean": [0.0, 0.0], "scale": [1.0, 1.0], "coef": [1.0, 1.0], "intercept": 1.0}
    stack = {"branches": ["noise", "cnn"], "stacker": unit, "threshold": 0.0}
    zero = np.zeros((4, 4), np.float32)
    near = {"noise": (float(1 / (1 + np.exp(-0.6))), zero), "cnn": (0.6, zero)}  # margins -0.4 and -0.4
    plain = _fake_fused(cal).combine(near, jpeg=False)
    assert plain.verdict == "authentic" and plain.score == pytest.approx(1 / (1 + np.exp(0.4)), abs=1e-4)
    stacked = FusedDetector({"calibration": {"png": cal, "jpeg": cal}, "stack": {"png": stack}})
    res = stacked.combine(near, jpeg=False)  # -0.4 - 0.4 + 1 = 0.2
    assert res.verdict == "inpainted" and res.score == pytest.approx(1 / (1 + np.exp(-0.2)), abs=1e-4)
    assert stacked.combine(near, jpeg=True).verdict == "authentic"  # no stack for JPEG inputs here: the max rule
    assert stacked.combine({"noise": near["noise"]}, jpeg=False).verdict == "authentic"  # a stacked branch missing


def test_fit_stack_beats_the_max_rule_and_keeps_the_budget():
    """Two branches with independent errors: the stacked score separates better than the better branch alone, and
    at most the budget of the untouched validation samples pass its threshold."""
    from inpaintkit.forensics.evaluate import roc_auc
    from inpaintkit.forensics.fusion import fit_stack, margins, stacker_of

    rng = np.random.default_rng(0)
    n = 400
    y = np.r_[np.zeros(n), np.ones(n)].astype(int)
    noise_logit = y * 1.5 + rng.normal(0, 1, 2 * n)
    raw = {"png": {"noise": 1 / (1 + np.exp(-noise_logit)), "cnn": y * 1.5 + rng.normal(0, 1, 2 * n)}}
    photos = {"png": np.arange(2 * n) % 40}
    cal = calibrate(raw, {"png": y}, split={"noise": 0.5, "cnn": 0.5}, groups=photos)
    stack = fit_stack(raw, {"png": y}, cal, fpr_budget=0.05, groups=photos)["png"]
    assert stack["branches"] == ["noise", "cnn"] and min(stack["stacker"]["coef"]) > 0
    z = margins(cal["png"], {b: raw["png"][b] for b in stack["branches"]})
    s = stacker_of(stack).decision_function(z) - stack["threshold"]
    best_alone = max(roc_auc(y, z[:, 0]), roc_auc(y, z[:, 1]))
    assert roc_auc(y, s) > best_alone + 0.04
    assert (s[y == 0] > 0).mean() <= 0.05
    det = FusedDetector({"calibration": cal, "stack": {"png": stack}})
    one = np.zeros((2, 2), np.float32)
    scores = [
        det.combine({b: (raw["png"][b][i], one) for b in stack["branches"]}, jpeg=False).score for i in range(2 * n)
    ]
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-s)), atol=1e-9)


def test_fit_stack_needs_two_branches():
    from inpaintkit.forensics.fusion import fit_stack

    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    raw = {"png": {"cnn": np.r_[np.zeros(20), np.ones(20)] + np.linspace(0, 0.5, 40)}}
    cal = calibrate(raw, {"png": y})
    assert fit_stack(raw, {"png": y}, cal) == {}


def test_map_features_see_where_the_evidence_lies():
    """The statistics follow the maps: a compact hot blob gives a large connected area and high upper quantiles, the
    same number of hot cells scattered gives a small connected area; any map size is shrunk to the same features."""
    from inpaintkit.forensics.fusion import map_feature_names, map_features

    blob = np.zeros((64, 64), np.float32)
    blob[10:30, 10:30] = 0.9
    scattered = np.zeros((64, 64), np.float32)
    scattered.ravel()[np.random.default_rng(0).choice(4096, 400, replace=False)] = 0.9
    flat = np.full((64, 64), 0.2, np.float32)
    branches = ["noise", "cnn"]
    fb = map_features({"noise": blob, "cnn": blob}, branches)
    fs = map_features({"noise": scattered, "cnn": flat}, branches)
    assert fb.shape == fs.shape and np.isfinite(fb).all() and np.isfinite(fs).all()
    per = 12  # features per branch (then the noise x cnn block of 5); the largest connected area is the last
    assert len(fb) == 2 * per + 5
    largest = per - 1
    assert fb[largest] == pytest.approx(400 / 4096) and fs[largest] < 0.01
    assert fb[per + largest] == pytest.approx(400 / 4096) and fs[per + largest] == 0.0  # the flat CNN map
    big = map_features({"noise": np.kron(blob, np.ones((4, 4), np.float32)), "cnn": blob}, branches)
    np.testing.assert_allclose(big, fb, atol=1e-6)
    assert (
        len(map_features({"noise": blob, "duplication": blob, "cnn": blob}, ["noise", "duplication", "cnn"]))
        == 3 * per + 5 + 2
    )
    for bs in (["noise"], ["noise", "cnn"], ["noise", "duplication", "cnn"], ["duplication", "cnn"]):
        names = map_feature_names(bs)
        assert len(names) == len(set(names)) == len(map_features({b: blob for b in bs}, bs))
    assert map_feature_names(["noise", "cnn"])[largest] == "noise.largest"
    assert map_feature_names(["noise", "cnn"])[-1] == "noise&cnn.corr"


def _blob_samples(seed: int, evidence: str, scatter_untouched: bool) -> dict:
    """Synthetic validation samples for the stack: 120 untouched and 120 inpainted, image scores that cannot tell
    them apart, and ``evidence``'s map ("noise" or "cnn") holding a compact hot blob in the inpainted ones (with
    ``scatter_untouched``, as many hot cells scattered in the untouched ones); the other map is noise. Returns the
    raw scores, labels, maps, their ``map_features`` over noise and CNN, photo groups and the calibration."""
    from inpaintkit.forensics.fusion import map_features

    rng = np.random.default_rng(seed)
    n = 120
    y = np.r_[np.zeros(n), np.ones(n)].astype(int)
    raw = {"png": {"noise": rng.uniform(0.3, 0.7, 2 * n), "cnn": rng.normal(0, 1, 2 * n)}}
    other = "cnn" if evidence == "noise" else "noise"
    maps = []
    for label in y:
        m = rng.uniform(0, 0.6, (32, 32)).astype(np.float32)
        if label:
            r, c = rng.integers(0, 20, 2)
            m[r : r + 12, c : c + 12] = 0.95
        elif scatter_untouched:
            m[rng.integers(0, 32, 144), rng.integers(0, 32, 144)] = 0.95
        maps.append({evidence: m, other: rng.uniform(0, 1, (32, 32)).astype(np.float32)})
    photos = {"png": np.arange(2 * n) % 30}
    return {
        "raw": raw,
        "y": y,
        "maps": maps,
        "feats": {"png": np.stack([map_features(m, ["noise", "cnn"]) for m in maps])},
        "photos": photos,
        "cal": calibrate(raw, {"png": y}, split={"noise": 0.5, "cnn": 0.5}, groups=photos),
    }


def _stack_scores(d: dict, stack: dict) -> np.ndarray:
    """Each sample's fused score under the PNG stack entry ``stack`` (``combine`` on its raw scores and maps)."""
    det = FusedDetector({"calibration": d["cal"], "stack": {"png": stack}})
    raw, maps = d["raw"]["png"], d["maps"]
    return np.array(
        [
            det.combine({b: (raw[b][i], maps[i][b]) for b in ("noise", "cnn")}, jpeg=False).score
            for i in range(len(maps))
        ]
    )


def test_stack_on_map_features_uses_what_the_margins_miss():
    """Image scores that cannot tell untouched from inpainted samples, maps that can (a compact blob in the
    inpainted ones' noise maps): the stack with ``map_features`` separates them, keeps the budget on the validation
    samples, and ``combine`` computes the same features from the maps it is given."""
    from inpaintkit.forensics.evaluate import roc_auc
    from inpaintkit.forensics.fusion import fit_stack

    d = _blob_samples(1, "noise", scatter_untouched=True)
    raw, y, cal, photos = d["raw"], d["y"], d["cal"], d["photos"]
    plain = fit_stack(raw, {"png": y}, cal, fpr_budget=0.05, groups=photos)["png"]
    stack = fit_stack(raw, {"png": y}, cal, fpr_budget=0.05, groups=photos, features=d["feats"])["png"]
    assert stack["map_features"] and not plain["map_features"]
    s_plain, s_maps = _stack_scores(d, plain), _stack_scores(d, stack)
    assert roc_auc(y, s_plain) < 0.7 < 0.95 < roc_auc(y, s_maps)
    assert (s_maps[y == 0] >= 0.5).mean() <= 0.05
    assert stack["map_branches"] == ["noise"]  # STACK_MAP_BRANCHES["png"]: the noise map's statistics only


def test_stack_takes_the_map_statistics_of_its_map_branches_only():
    """The evidence only in the CNN's maps: the default PNG stack (the noise map's statistics,
    ``STACK_MAP_BRANCHES``) does not see it, one fitted with the CNN's maps does (and a JPEG one by default);
    ``combine`` computes each entry's own columns, and an entry fitted before ``map_branches`` existed (none
    recorded) takes every branch's maps, as it was fitted."""
    from inpaintkit.forensics.evaluate import roc_auc
    from inpaintkit.forensics.fusion import STACK_MAP_BRANCHES, fit_stack

    assert STACK_MAP_BRANCHES == {"png": ("noise",), "jpeg": ("noise", "duplication", "cnn")}
    d = _blob_samples(2, "cnn", scatter_untouched=False)
    raw, y, cal, photos, feats = d["raw"], d["y"], d["cal"], d["photos"], d["feats"]
    noise_only = fit_stack(raw, {"png": y}, cal, fpr_budget=0.05, groups=photos, features=feats)["png"]
    both = fit_stack(
        raw, {"png": y}, cal, fpr_budget=0.05, groups=photos, features=feats, map_branches={"png": ("noise", "cnn")}
    )["png"]
    as_jpeg = fit_stack(  # the same samples as JPEG inputs: every branch's maps by default
        {"jpeg": raw["png"]},
        {"jpeg": y},
        {"jpeg": cal["png"]},
        fpr_budget=0.05,
        groups={"jpeg": photos["png"]},
        features={"jpeg": feats["png"]},
    )["jpeg"]
    assert as_jpeg["map_branches"] == ["noise", "cnn"]
    assert noise_only["map_branches"] == ["noise"] and both["map_branches"] == ["noise", "cnn"]
    assert roc_auc(y, _stack_scores(d, noise_only)) < 0.7 < 0.95 < roc_auc(y, _stack_scores(d, both))
    old = {k: v for k, v in both.items() if k != "map_branches"}  # as a folder fitted before map_branches
    np.testing.assert_allclose(_stack_scores(d, old), _stack_scores(d, both))


def _agreeing_maps(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A hole where the noise and CNN maps both run hot, and a false blob of each elsewhere where only one does."""
    hole = np.zeros((64, 64), bool)
    t, l = rng.integers(4, 36, 2)
    hole[t : t + 20, l : l + 20] = True
    maps = {}
    for b in ("noise", "cnn"):
        m = np.clip(0.25 + 0.5 * hole + rng.normal(0, 0.08, hole.shape), 0.01, 0.99).astype(np.float32)
        ft, fl = rng.integers(0, 52, 2)
        blob = np.zeros_like(hole)
        blob[ft : ft + 12, fl : fl + 12] = True
        m[blob & ~hole] = 0.8  # this branch's own false alarm
        maps[b] = m
    return maps, hole


def test_pixel_stack_beats_the_max_of_the_maps_and_drives_the_heatmap():
    """Two branch maps that each have a false blob of their own: the maximum flags both blobs, the per-pixel stack
    learns that the hole is where they agree; a fused detector with a pixel stack draws its heatmap from it."""
    from inpaintkit.forensics.fusion import MAP_SIDE, fit_pixel_stack, mean_f1, pixel_features

    rng = np.random.default_rng(0)
    branches = ["noise", "cnn"]
    probs = {"noise": 0.9, "cnn": 0.9}

    train = [_agreeing_maps(rng) for _ in range(40)]
    pixel = fit_pixel_stack([pixel_features(m, probs, branches) for m, _ in train], [h for _, h in train])
    assert 0.2 <= pixel["threshold"] <= 0.8
    det = FusedDetector(
        {
            "calibration": {k: {b: {"platt": [1.0, 0.0], "threshold": 0.5} for b in branches} for k in ("png", "jpeg")},
            "pixel_stack": {"png": {"branches": branches, **pixel}},
        }
    )
    stacked, maxed, holes = [], [], []
    for _ in range(10):
        maps, hole = _agreeing_maps(rng)
        big = {b: np.kron(m, np.ones((2, 2), np.float32)) for b, m in maps.items()}  # any image size: 128² here
        # raw scores that calibrate to p = 0.9, as in training (the noise branch's raw score is a probability)
        raw = {"noise": (0.9, big["noise"]), "cnn": (float(np.log(9.0)), big["cnn"])}
        heat = det.combine(raw, jpeg=False).heatmap
        assert heat.shape == (2 * MAP_SIDE, 2 * MAP_SIDE)
        stacked.append(heat[::2, ::2] >= 0.5)
        maxed.append(np.maximum(maps["noise"], maps["cnn"]) >= 0.5)
        holes.append(hole)
        # JPEG inputs have no pixel stack in this folder: the maximum of the maps, as before
        assert np.array_equal(det.combine(raw, jpeg=True).heatmap, np.maximum(big["noise"], big["cnn"]))
    assert mean_f1(np.stack(stacked), np.stack(holes)) > mean_f1(np.stack(maxed), np.stack(holes)) + 0.15


def _flat_alarm(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """A textured 128² image with one flat square, a hole elsewhere, and a noise map that flags both (a smooth
    photo region looks like a smooth fill to the noise branch): only the image tells them apart."""
    from inpaintkit.forensics.fusion import MAP_SIDE

    img = np.clip(128 + rng.normal(0, 25, (2 * MAP_SIDE, 2 * MAP_SIDE, 3)), 0, 255).astype(np.uint8)
    hole, flat = np.zeros((MAP_SIDE, MAP_SIDE), bool), np.zeros((MAP_SIDE, MAP_SIDE), bool)
    c_hole, c_flat = rng.integers(4, 40), rng.integers(4, 40)
    hole[4:24, c_hole : c_hole + 20] = True
    flat[40:60, c_flat : c_flat + 20] = True
    img[np.kron(flat, np.ones((2, 2), bool))] = 90
    m = np.clip(0.25 + 0.5 * (hole | flat) + rng.normal(0, 0.08, hole.shape), 0.01, 0.99).astype(np.float32)
    return img, {"noise": m}, hole


def test_pixel_stack_image_features_tell_a_flat_photo_region_from_a_hole():
    from inpaintkit.forensics.fusion import fit_pixel_stack, image_cells, mean_f1, pixel_features, stacker_of

    rng = np.random.default_rng(1)
    probs, branches = {"noise": 0.9}, ["noise"]
    train = [_flat_alarm(rng) for _ in range(30)]
    test = [_flat_alarm(rng) for _ in range(8)]
    f1 = {}
    for use in (False, True):
        feats = [pixel_features(m, probs, branches, image_cells(img) if use else None) for img, m, _ in train]
        pixel = fit_pixel_stack(feats, [h for _, _, h in train])
        st = stacker_of(pixel)
        pred = [
            st.predict_proba(pixel_features(m, probs, branches, image_cells(img) if use else None))
            >= pixel["threshold"]
            for img, m, _ in test
        ]
        f1[use] = mean_f1(np.stack(pred), np.stack([h.ravel() for _, _, h in test]))
    assert f1[True] > 0.9 and f1[True] > f1[False] + 0.2

    det = FusedDetector(
        {
            "calibration": {k: {"noise": {"platt": [1.0, 0.0], "threshold": 0.5}} for k in ("png", "jpeg")},
            "pixel_stack": {"png": {"branches": branches, "image_features": True, **pixel}},
        }
    )
    img, maps, hole = test[0]
    raw = {"noise": (0.9, np.kron(maps["noise"], np.ones((2, 2), np.float32)))}
    heat = det.combine(raw, jpeg=False, rgb=img).heatmap
    assert mean_f1((heat[::2, ::2] >= 0.5)[None], hole[None]) > 0.9
    with pytest.raises(InpaintKitError, match="needs the image"):
        det.combine(raw, jpeg=False)
