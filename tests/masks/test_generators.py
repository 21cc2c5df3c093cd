"""Mask kinds: shape, type, determinism, ratio buckets, per-kind geometry, LaMa statistics, mixtures, file masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from inpaintkit.errors import InpaintKitError, UnknownNameError
from inpaintkit.masks import (
    MASKS,
    ONDEMAND_BANDS,
    MaskGenerator,
    MaskMixture,
    create_mask_generator,
    list_mask_kinds,
    mask_ratio,
    parse_ratio,
)

RANDOM_KINDS = [k for k in list_mask_kinds() if k not in ("file", "center")]
SHAPE = (96, 128)


def test_registry_lists_every_kind():
    assert set(list_mask_kinds()) == {
        "irregular",
        "strokes",
        "freeform",
        "lama-thin",
        "lama-medium",
        "lama-thick",
        "boxes",
        "square",
        "center",
        "ondemand",
        "file",
        "objects",
    }
    for e in MASKS.entries():
        assert issubclass(e.obj, MaskGenerator) and e.obj.kind == e.name and e.description
        assert "ratio" in e.options()


@pytest.mark.parametrize("kind", RANDOM_KINDS + ["center"])
def test_kind_shape_type_nonempty_deterministic(kind):
    gen = create_mask_generator(kind)
    a = gen(3, SHAPE)
    assert a.dtype == bool and a.shape == SHAPE
    assert 0 < mask_ratio(a) < 1
    np.testing.assert_array_equal(a, gen(np.random.default_rng(3), SHAPE))  # int seed == Generator
    np.testing.assert_array_equal(a, create_mask_generator(kind)(3, SHAPE))
    # params() rebuilds the same generator (what the manifest records)
    np.testing.assert_array_equal(a, create_mask_generator(kind, **gen.params())(3, SHAPE))


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_kind_differs_across_seeds(kind):
    gen = create_mask_generator(kind)
    masks = [gen(s, SHAPE) for s in range(4)]
    assert any(not np.array_equal(masks[0], m) for m in masks[1:])


def test_center_is_the_half_size_centre():
    m = create_mask_generator("center")(0, (100, 60))
    expected = np.zeros((100, 60), bool)
    expected[25:75, 15:45] = True
    np.testing.assert_array_equal(m, expected)


@pytest.mark.parametrize(
    "size,side,reference,expected", [(256, 128, 256, 128), (512, 128, 256, 256), (128, 64, 128, 64), (256, 90, 256, 90)]
)
def test_square_side_scales_with_size(size, side, reference, expected):
    for seed in range(5):
        m = create_mask_generator("square", side=side, reference=reference)(seed, (size, size))
        ys, xs = np.nonzero(m)
        assert m.sum() == expected * expected
        assert ys.max() - ys.min() + 1 == expected and xs.max() - xs.min() + 1 == expected


@pytest.mark.parametrize("band", range(5))
@pytest.mark.parametrize("size", [128, 256])
def test_ondemand_band_sides(band, size):
    lo, hi = ONDEMAND_BANDS[band]
    k = size / 128
    gen = create_mask_generator("ondemand", band=band)
    for seed in range(20):
        m = gen(seed, (size, size))
        ys, xs = np.nonzero(m)
        side = ys.max() - ys.min() + 1
        assert side == xs.max() - xs.min() + 1 and m.sum() == side * side  # a filled square
        assert round(lo * k) <= side <= round(hi * k)


def test_ondemand_rejects_bad_band():
    with pytest.raises(InpaintKitError, match="band must be 0-4"):
        create_mask_generator("ondemand", band=5)


def test_boxes_single_box_is_a_rectangle():
    gen = create_mask_generator("boxes", max_boxes=1)
    for seed in range(10):
        m = gen(seed, (64, 80))
        ys, xs = np.nonzero(m)
        assert m.sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)


def test_boxes_count_bounds_components():
    gen = create_mask_generator("boxes", max_boxes=3)
    counts = [ndimage.label(gen(seed, (128, 128)))[1] for seed in range(30)]
    assert 1 <= min(counts) and max(counts) <= 3 and len(set(counts)) > 1


def test_irregular_scales_thickness_option():
    thin = create_mask_generator("irregular", thickness=0.012)  # 3 px strokes at 128x128 only
    thick = create_mask_generator("irregular")
    r_thin = np.mean([mask_ratio(thin(s, (128, 128))) for s in range(30)])
    r_thick = np.mean([mask_ratio(thick(s, (128, 128))) for s in range(30)])
    assert r_thin < r_thick


@pytest.mark.parametrize(
    "kind,bucket",
    [
        ("irregular", (0.01, 0.1)),
        ("irregular", (0.3, 0.4)),
        ("irregular", (0.5, 0.6)),
        ("boxes", (0.1, 0.2)),
        ("freeform", (0.2, 0.3)),
        ("strokes", (0.4, 0.5)),
        ("lama-thick", (0.1, 0.2)),
        ("ondemand", (0.05, 0.1)),
    ],
)
def test_ratio_bucket_in_range(kind, bucket):
    gen = create_mask_generator(kind, ratio=bucket)
    for seed in range(8):
        r = mask_ratio(gen(seed, (128, 128)))
        assert bucket[0] <= r < bucket[1]


def test_ratio_bucket_unreachable_is_a_clear_error():
    gen = create_mask_generator("square", ratio="0.9-1", max_attempts=20)
    with pytest.raises(InpaintKitError, match=r"no mask with hole ratio in \[0.9, 1\) in 20 attempts"):
        gen(0, (64, 64))


@pytest.mark.parametrize("bad", ["0.3", "0.5-0.2", "a-b", (0.1, 1.5), (-0.1, 0.2)])
def test_parse_ratio_rejects(bad):
    with pytest.raises(InpaintKitError, match="ratio"):
        parse_ratio(bad)


def test_parse_ratio_accepts():
    assert parse_ratio("0.1-0.2") == (0.1, 0.2) and parse_ratio([0, 1]) == (0.0, 1.0) and parse_ratio(None) is None


def test_unknown_kind_and_option():
    with pytest.raises(UnknownNameError, match="choose from: boxes, center"):
        create_mask_generator("nope")
    with pytest.raises(InpaintKitError, match="unknown option.*colour.*valid: .*max_objects"):
        create_mask_generator("irregular", colour=1)
    with pytest.raises(InpaintKitError, match=r"\(min_boxes, max_boxes\) must satisfy"):
        create_mask_generator("boxes", min_boxes=4, max_boxes=3)
    with pytest.raises(InpaintKitError, match="count must be a"):
        create_mask_generator("strokes", count=3)


def _mean_half_width(m: np.ndarray) -> float:
    """Mean distance from a hole pixel to the nearest known pixel (~ a quarter of the stroke width)."""
    return float(ndimage.distance_transform_edt(m)[m].mean())


@pytest.mark.slow
def test_lama_statistics_follow_the_published_configs():
    n, shape = 80, (256, 256)
    stats = {}
    for v in ("thin", "medium", "thick"):
        gen = create_mask_generator(f"lama-{v}")
        masks = [gen(s, shape) for s in range(n)]
        ratios = np.array([mask_ratio(m) for m in masks])
        assert ratios.max() <= 0.5  # LaMa's max_tamper_area
        stats[v] = (ratios.mean(), np.mean([_mean_half_width(m) for m in masks]))
    # the names are about stroke width: thin < medium < thick
    assert stats["thin"][1] < stats["medium"][1] < stats["thick"][1]
    # thick covers more than medium (thin, with up to 50 strokes, covers ~0.29: see docs/masks.md)
    assert stats["medium"][0] < stats["thick"][0]
    assert 0.2 < stats["thin"][0] < 0.35


def test_lama_config_chosen_by_size():
    gen = create_mask_generator("lama-thick")
    assert gen.config_size((256, 256)) == 256 and gen.config_size((300, 300)) == 256
    assert gen.config_size((400, 400)) == 512 and gen.config_size((512, 512)) == 512
    assert create_mask_generator("lama-thick", base_size=512).config_size((256, 256)) == 512
    # scaling keeps the look: thin masks cover about the same share at 256 and at 512 (same config family)
    g = create_mask_generator("lama-thin")
    r256 = np.mean([mask_ratio(g(s, (256, 256))) for s in range(40)])
    r512 = np.mean([mask_ratio(g(s, (512, 512))) for s in range(40)])
    assert abs(r256 - r512) < 0.08


def test_mixture_honours_probabilities():
    mix = MaskMixture.from_config(
        [
            {"kind": "center", "p": 0.5},
            {"kind": "square", "p": 0.3, "side": 8},
            {"kind": "boxes", "p": 0.2, "max_boxes": 3},
        ]
    )
    rng = np.random.default_rng(0)
    n = 4000
    kinds = [mix.sample(rng, (32, 32))[1].kind for _ in range(n)]
    freq = {k: kinds.count(k) / n for k in ("center", "square", "boxes")}
    assert freq == pytest.approx({"center": 0.5, "square": 0.3, "boxes": 0.2}, abs=0.03)
    m = mix(np.random.default_rng(1), (32, 32))
    assert m.dtype == bool and m.shape == (32, 32)
    np.testing.assert_array_equal(m, mix(np.random.default_rng(1), (32, 32)))
    assert [c["kind"] for c in mix.config()] == ["center", "square", "boxes"]


def test_mixture_weights_are_normalised_and_validated():
    mix = MaskMixture.from_config([{"kind": "center", "p": 2}, {"kind": "square", "p": 6}])
    np.testing.assert_allclose(mix.probs, [0.25, 0.75])
    with pytest.raises(InpaintKitError, match="probabilities must be >= 0"):
        MaskMixture.from_config([{"kind": "center", "p": -1}, {"kind": "square", "p": 1}])
    with pytest.raises(InpaintKitError, match="'kind'"):
        MaskMixture.from_config([{"p": 1}])
    with pytest.raises(InpaintKitError, match="empty"):
        MaskMixture.from_config([])


# ---------------------------------------------------------------------------------------------------------
# file masks
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def mask_dir(tmp_path):
    d = tmp_path / "masks"
    d.mkdir()
    a = np.zeros((60, 80), np.uint8)
    a[10:30, 20:50] = 255
    b = np.zeros((120, 90), np.uint8)
    b[:, 40:50] = 255
    c = np.zeros((40, 40), np.uint8)
    c[5:35, 5:15] = 255
    for name, arr in (("a", a), ("b", b), ("c", c)):
        Image.fromarray(arr, "L").save(d / f"{name}.png")
    (d / "notes.txt").write_text("not a mask")
    return d


def test_file_masks_plain_resize_equals_the_file(mask_dir):
    gen = create_mask_generator("file", root=mask_dir / "a.png", crop=False)
    m = gen(0, (60, 80))
    expected = np.zeros((60, 80), bool)
    expected[10:30, 20:50] = True
    np.testing.assert_array_equal(m, expected)
    m2 = gen(0, (120, 160))  # nearest-neighbour x2
    np.testing.assert_array_equal(m2, np.repeat(np.repeat(expected, 2, 0), 2, 1))


def test_file_masks_dilate_grows_the_hole(mask_dir):
    base = create_mask_generator("file", root=mask_dir / "a.png", crop=False)(0, (60, 80))
    grown = [
        create_mask_generator("file", root=mask_dir / "a.png", crop=False, dilate=4)(s, (60, 80)) for s in range(10)
    ]
    assert all((g | base).sum() == g.sum() for g in grown)  # superset
    assert any(g.sum() > base.sum() for g in grown)


def test_file_masks_with_augmentation(mask_dir):
    gen = create_mask_generator("file", root=mask_dir, rotate=30, scale=(0.8, 1.25), dilate=2, crop=True, flip=True)
    assert len(gen.files) == 3  # notes.txt is not a mask
    np.testing.assert_array_equal(gen(2, (48, 48)), create_mask_generator("file", **gen.params())(2, (48, 48)))
    masks = [gen(s, (48, 48)) for s in range(12)]
    for m in masks:
        assert m.dtype == bool and m.shape == (48, 48) and m.any()
    np.testing.assert_array_equal(masks[5], gen(5, (48, 48)))
    assert len({m.tobytes() for m in masks}) > 6
    # rotation actually rotates: a vertical bar rotated by up to 30 degrees is no longer axis-aligned
    bar = create_mask_generator("file", root=mask_dir / "b.png", rotate=30, crop=False)
    tilted = [bar(s, (120, 90)) for s in range(6)]
    assert any(np.unique(np.nonzero(t)[1]).size > 14 for t in tilted)


def test_file_masks_errors(tmp_path):
    with pytest.raises(InpaintKitError, match="give root="):
        create_mask_generator("file")
    with pytest.raises(InpaintKitError, match="no mask images"):
        create_mask_generator("file", root=tmp_path)
    with pytest.raises(InpaintKitError, match="no such file"):
        create_mask_generator("file", root=tmp_path / "missing")


def test_objects_are_solid_smooth_blobs_of_the_asked_size():
    """Object-removal holes: each component is one solid blob (no holes inside, convex-ish), not thin strokes."""
    import cv2

    gen = create_mask_generator("objects", min_objects=1, max_objects=1, min_size=0.3, max_size=0.3)
    for seed in range(10):
        m = gen(seed, (256, 256))
        n, labels = cv2.connectedComponents(m.astype(np.uint8))
        assert n - 1 >= 1
        area = m.sum()
        filled = np.zeros_like(m, np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(filled, contours, -1, 1, thickness=-1)
        assert filled.sum() == area  # no holes inside the silhouette
        hull = sum(cv2.contourArea(cv2.convexHull(c)) for c in contours)
        assert area / max(hull, 1) > 0.75  # lumpy but solid, unlike strokes
        # mean radius 0.15 of 256 px (+ dilation), clipped at borders: between a few % and ~25 % of the image
        assert 0.01 < area / m.size < 0.3
    with pytest.raises(InpaintKitError, match="min_size <= max_size"):
        create_mask_generator("objects", min_size=0.5, max_size=2.0)
