"""Caption parsing: CSV/JSONL tables, CUB-style folders, COCO captions JSON; matching captions to images."""

from __future__ import annotations

import json

import pytest

from inpaintkit.data.captions import caption_key, match_captions, read_captions
from inpaintkit.errors import InpaintKitError


def test_caption_key_drops_extension_and_normalises_separators():
    assert caption_key("birds/x.jpg") == "birds/x"
    assert caption_key("./birds\\x.png") == "birds/x"
    assert caption_key("x") == "x"


def test_csv_with_header_collects_several_captions_per_image(tmp_path):
    p = tmp_path / "caps.csv"
    p.write_text(
        'file_name,caption\nbirds/a.jpg,"a red bird,  small"\nbirds/a.jpg,a bird with a red crown\nb.png,a   grey cat\n'
    )
    assert read_captions(p) == {"birds/a": ["a red bird, small", "a bird with a red crown"], "b": ["a grey cat"]}


def test_csv_without_header_two_columns(tmp_path):
    p = tmp_path / "caps.csv"
    p.write_text("a.jpg,first\nb.jpg,second\n")
    assert read_captions(p) == {"a": ["first"], "b": ["second"]}


def test_csv_with_unknown_columns_is_one_clear_error(tmp_path):
    p = tmp_path / "caps.csv"
    p.write_text("x,y,z\n1,2,3\n")
    with pytest.raises(InpaintKitError, match="image column"):
        read_captions(p)


def test_jsonl_accepts_a_string_or_a_list_of_captions(tmp_path):
    p = tmp_path / "caps.jsonl"
    p.write_text(
        json.dumps({"image": "a.jpg", "caption": "one"})
        + "\n\n"
        + json.dumps({"image": "a.jpg", "captions": ["two", " "]})
        + "\n"
        + json.dumps({"path": "sub/b.jpg", "text": "three"})
        + "\n"
    )
    assert read_captions(p) == {"a": ["one", "two"], "sub/b": ["three"]}


def test_jsonl_bad_line_names_the_line(tmp_path):
    p = tmp_path / "caps.jsonl"
    p.write_text(json.dumps({"image": "a.jpg", "caption": "x"}) + "\n{not json\n")
    with pytest.raises(InpaintKitError, match="line 2"):
        read_captions(p)


def test_cub_folder_one_caption_per_line(tmp_path):
    d = tmp_path / "text_c10" / "001.Albatross"
    d.mkdir(parents=True)
    (d / "Albatross_0046_18.txt").write_text("this bird is white\n\nit has a long beak\n")
    (d / "Albatross_0002_55.txt").write_text("a large seabird\n")
    caps = read_captions(tmp_path / "text_c10")
    assert caps == {
        "001.Albatross/Albatross_0002_55": ["a large seabird"],
        "001.Albatross/Albatross_0046_18": ["this bird is white", "it has a long beak"],
    }


def test_coco_captions_json(tmp_path):
    p = tmp_path / "captions_val2017.json"
    p.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "000000000001.jpg"}, {"id": 2, "file_name": "000000000002.jpg"}],
                "annotations": [
                    {"id": 10, "image_id": 1, "caption": "A dog on a couch."},
                    {"id": 11, "image_id": 2, "caption": "Two cats."},
                    {"id": 12, "image_id": 1, "caption": "A sleeping dog.\n"},
                ],
            }
        )
    )
    assert read_captions(p) == {"000000000001": ["A dog on a couch.", "A sleeping dog."], "000000000002": ["Two cats."]}


def test_json_that_is_not_coco_is_refused(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps([{"image": "a.jpg", "caption": "x"}]))
    with pytest.raises(InpaintKitError, match="COCO"):
        read_captions(p)


def test_missing_source_and_unknown_format(tmp_path):
    with pytest.raises(InpaintKitError, match="no such caption file"):
        read_captions(tmp_path / "nope.csv")
    (tmp_path / "caps.xml").write_text("<x/>")
    with pytest.raises(InpaintKitError, match="unknown caption format"):
        read_captions(tmp_path / "caps.xml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InpaintKitError, match="no .txt"):
        read_captions(tmp_path / "empty")


def test_match_by_relative_path_then_by_unique_stem(tmp_path):
    caps = {"birds/a": ["a bird"], "c": ["a cat"], "x/d": ["d one"], "y/d": ["d two"]}
    images = [tmp_path / "birds" / "a.jpg", tmp_path / "other" / "c.png", tmp_path / "z" / "d.jpg", tmp_path / "e.jpg"]
    got = match_captions(images, tmp_path, caps)
    assert got == {str(images[0]): ["a bird"], str(images[1]): ["a cat"]}  # d is ambiguous, e has none
