"""IOPaint's API on inpaintkit's server: the requests IOPaint 1.6.0's web app sends, replayed field for field, the
response schemas checked against IOPaint's own ``schema.py`` / ``api.py`` (read with ``ast`` from its wheel,
fetched by the ``iopaint_dist`` fixture; never imported), and the file routes' confinement to their folders."""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from inpaintkit.server.iopaint_api import IOPaintSettings, find_web_dir
from inpaintkit.server.iopaint_schemas import IMPLEMENTED_FIELDS, IOPaintInpaintFields
from inpaintkit.server.schemas import InpaintParams

NEGATIVE = (
    "out of frame, lowres, error, cropped, worst quality, low quality, jpeg artifacts, ugly, duplicate, morbid, "
    "mutilated, out of frame, mutation, deformed, blurry, dehydrated, bad anatomy, bad proportions, extra limbs, "
    "disfigured, gross proportions, malformed limbs, watermark, signature"
)


def frontend_body(image: str, mask: str, **changes) -> dict:
    """The JSON body IOPaint 1.6.0's web app posts to /api/v1/inpaint, with its default settings, in its order
    (two of its keys are misspelt in IOPaint itself: ``hd_strategy_crop_triger_size``, ``hd_trategy_resize_imit``)."""
    body = {
        "image": image,
        "mask": mask,
        "ldm_steps": 30,
        "ldm_sampler": "ddim",
        "zits_wireframe": True,
        "cv2_flag": "INPAINT_NS",
        "cv2_radius": 5,
        "hd_strategy": "Crop",
        "hd_strategy_crop_triger_size": 640,
        "hd_strategy_crop_margin": 128,
        "hd_trategy_resize_imit": 2048,
        "prompt": "",
        "negative_prompt": NEGATIVE,
        "use_croper": False,
        "croper_x": 128,
        "croper_y": -16,
        "croper_height": 512,
        "croper_width": 512,
        "use_extender": False,
        "extender_x": 0,
        "extender_y": 0,
        "extender_height": 480,
        "extender_width": 768,
        "sd_mask_blur": 12,
        "sd_strength": 1,
        "sd_steps": 50,
        "sd_guidance_scale": 7.5,
        "sd_sampler": "DPM++ 2M",
        "sd_seed": -1,
        "sd_match_histograms": False,
        "sd_lcm_lora": False,
        "paint_by_example_example_image": None,
        "p2p_image_guidance_scale": 1.5,
        "enable_controlnet": False,
        "controlnet_conditioning_scale": 0.4,
        "controlnet_method": "lllyasviel/control_v11p_sd15_canny",
        "enable_brushnet": False,
        "brushnet_method": "random_mask",
        "brushnet_conditioning_scale": 1,
        "enable_powerpaint_v2": False,
        "powerpaint_task": "text-guided",
    }
    body.update(changes)
    return body


def data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


@pytest.fixture
def dataurls(image_png, hole_png):
    return data_url(image_png), data_url(hole_png)


def _error_shape(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"detail", "error", "body", "errors"} and body["errors"] == body["detail"]
    return body


# -- what the web app asks for when it loads --------------------------------------------------------------------------
def test_server_config_lists_usable_models_as_erase_models(client):
    r = client.get("/api/v1/server-config")
    assert r.status_code == 200
    cfg = r.json()
    names = [m["name"] for m in cfg["modelInfos"]]
    usable = [m["name"] for m in client.get("/api/v1/models").json() if m["available"]]
    assert names == usable and "telea" in names and "default" in names
    for m in cfg["modelInfos"]:
        assert m["model_type"] == "inpaint" and m["path"] == m["name"] and not m["is_single_file_diffusers"]
        assert m["need_prompt"] == m["text_guided"]
        assert m["support_outpainting"] and not (
            m["support_strength"]
            or m["support_controlnet"]
            or m["support_brushnet"]
            or m["support_lcm_lora"]
            or m["support_powerpaint_v2"]
        )
        assert m["controlnets"] == [] and m["brushnets"] == []
    assert cfg["plugins"] == [] and cfg["samplers"] == [] and not cfg["isDesktop"]
    assert not cfg["enableFileManager"] and not cfg["enableAutoSaving"]
    assert cfg["disableModelSwitch"]  # POST /api/v1/model is opt-in (issue 19) ...
    extras = cfg["inpaintkit"]
    assert set(extras["implemented_fields"]) | set(extras["ignored_fields"]) >= set(IOPaintInpaintFields.model_fields)
    assert "sd_mask_blur" in extras["ignored_fields"] and "use_croper" in extras["implemented_fields"]
    assert client.get("/api/v1/samplers").json() == []


def test_model_is_iopaint_model_info_with_our_fields(make_client):
    client = make_client(allow_model_switch=True)
    assert not client.get("/api/v1/server-config").json()["disableModelSwitch"]  # ... with --allow-model-switch
    m = client.get("/api/v1/model").json()
    assert m["name"] == "telea" and m["model_type"] == "inpaint" and m["need_prompt"] is False
    assert m["kind"] == "classical" and m["default"] is True  # ours, kept
    r = client.post("/api/v1/model", json={"name": "patchmatch"})  # what the settings dialog sends
    assert r.status_code == 200 and r.json()["name"] == "patchmatch" and r.json()["model_type"] == "inpaint"
    assert client.get("/api/v1/model").json()["name"] == "patchmatch"
    body = _error_shape(client.post("/api/v1/model", json={"name": "sd1.5"}), 404)
    assert "sd1.5" in body["errors"]


def test_text_guided_model_needs_a_prompt(client):
    from inpaintkit.server.iopaint_api import model_info

    info = model_info(client.app.state.models, "tdanet")
    assert info["need_prompt"] is True and info["model_type"] == "inpaint" and info["text_guided"]


def test_inputimage_without_and_with_input(client, make_client, tmp_path, image_png):
    r = client.get("/api/v1/inputimage", headers={"pragma": "no-cache", "cache-control": "no-cache"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"  # IOPaint's answer
    assert r.json()["detail"] == "No input image configured"
    photo = tmp_path / "photo_1.png"
    photo.write_bytes(image_png)
    c = make_client(iopaint=IOPaintSettings(input=photo))
    r = c.get("/api/v1/inputimage")
    assert r.status_code == 200 and r.content == image_png and r.headers["content-type"] == "image/png"
    # the web app reads the name with .split("filename=")[1].split(";")[0]
    assert r.headers["content-disposition"].split("filename=")[1].split(";")[0] == "photo_1.png"
    assert not c.get("/api/v1/server-config").json()["enableFileManager"]


def test_gen_info_reads_parameters_like_iopaint(client, image, codec):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a red boat on a lake\nNegative prompt: blurry, people\nSteps: 20, Sampler: Euler")
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG", pnginfo=info)
    r = client.post("/api/v1/gen-info", files={"file": ("boat.png", buf.getvalue(), "image/png")})
    assert r.status_code == 200 and r.json() == {"prompt": "a red boat on a lake", "negative_prompt": "blurry, people"}
    jpeg = codec.encode(image, "JPEG")  # what an upload of a plain photo sends: empty strings, 200
    r = client.post("/api/v1/gen-info", files={"file": ("photo.jpg", jpeg, "image/jpeg")})
    assert r.status_code == 200 and r.json() == {"prompt": "", "negative_prompt": ""}
    _error_shape(client.post("/api/v1/gen-info", files={"file": ("x.png", b"not an image", "image/png")}), 400)
    _error_shape(client.post("/api/v1/gen-info", files={"other": ("x.png", jpeg, "image/png")}), 422)


# -- /api/v1/inpaint --------------------------------------------------------------------------------------------------
def test_frontend_inpaint_request_fills_and_reports_seed(client, dataurls, image, hole, codec):
    r = client.post("/api/v1/inpaint", json=frontend_body(*dataurls))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = codec.decode(r.content)
    assert np.array_equal(out[~hole], image[~hole]) and np.abs(out[hole].astype(int) - image[hole]).mean() > 1
    seed = int(r.headers["x-seed"])  # sd_seed -1: a random one, reported
    assert 1 <= seed <= 99_999_999
    ignored = r.headers["x-inpaintkit-ignored"].split(", ")
    assert {"ldm_steps", "ldm_sampler", "cv2_radius", "sd_mask_blur", "sd_sampler", "negative_prompt"} <= set(ignored)
    assert not set(ignored) & set(IMPLEMENTED_FIELDS)


def test_jpeg_in_jpeg_out_like_iopaint(client, image, hole_png, codec):
    r = client.post(
        "/api/v1/inpaint", json=frontend_body(data_url(codec.encode(image, "JPEG"), "jpeg"), data_url(hole_png))
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"


def test_seed_reaches_models_that_draw_random_numbers(make_client, dataurls, codec):
    c = make_client(models=("patchmatch",))
    a = c.post("/api/v1/inpaint", json=frontend_body(*dataurls, sd_seed=7))
    b = c.post("/api/v1/inpaint", json=frontend_body(*dataurls, sd_seed=7))
    assert a.headers["x-seed"] == b.headers["x-seed"] == "7" and a.content == b.content
    outs = {c.post("/api/v1/inpaint", json=frontend_body(*dataurls, sd_seed=s)).content for s in (1, 2, 3, 4)}
    assert len(outs) > 1, "patchmatch ignored sd_seed"
    plain = c.post("/api/v1/inpaint", json={"image": dataurls[0], "mask": dataurls[1]})
    assert plain.headers["x-seed"] == "42" and "x-inpaintkit-ignored" not in plain.headers  # IOPaint's default


@pytest.mark.parametrize(
    "field,value",
    [
        ("ldm_steps", "abc"),
        ("zits_wireframe", "maybe"),
        ("cv2_radius", 1.5),
        ("sd_seed", "x"),
        ("sd_scale", 0),
        ("sd_strength", 1.5),
        ("cv2_flag", "INPAINT_FOO"),
        ("powerpaint_task", "paint"),
        ("use_croper", "yes please"),
        ("croper_x", None),
        ("controlnet_conditioning_scale", 2),
        ("fitting_degree", 0),
        ("sd_guidance_scale", "big"),
        ("hd_strategy_crop_margin", "wide"),
    ],
)
def test_bad_types_are_422_as_iopaint(client, dataurls, field, value):
    body = _error_shape(client.post("/api/v1/inpaint", json=frontend_body(*dataurls, **{field: value})), 422)
    assert body["errors"].startswith(field + ":")


def test_multipart_form_fields_are_converted_like_json(client, image_png, hole_png, image, hole, codec):
    fields = {
        "ldm_steps": "30",
        "use_croper": "false",
        "sd_seed": "5",
        "zits_wireframe": "true",
        "cv2_flag": "INPAINT_TELEA",
    }
    r = client.post("/api/v1/inpaint", files={"image": ("p.png", image_png), "mask": ("m.png", hole_png)}, data=fields)
    assert r.status_code == 200 and r.headers["x-seed"] == "5"
    assert np.array_equal(codec.decode(r.content)[~hole], image[~hole])
    r = client.post(
        "/api/v1/inpaint",
        files={"image": ("p.png", image_png), "mask": ("m.png", hole_png)},
        data={"ldm_steps": "many"},
    )
    assert _error_shape(r, 422)["errors"].startswith("ldm_steps:")


def test_croper_fills_only_inside_its_rectangle(client, image, codec):
    full = np.full(image.shape[:2], 255, np.uint8)
    body = frontend_body(
        data_url(codec.encode(image)),
        data_url(codec.encode(full)),
        use_croper=True,
        croper_x=10,
        croper_y=-5,
        croper_width=20,
        croper_height=25,
    )
    r = client.post("/api/v1/inpaint", json=body)
    assert r.status_code == 200
    out = codec.decode(r.content)
    inside = np.zeros(image.shape[:2], bool)
    inside[0:20, 10:30] = True
    assert np.array_equal(out[~inside], image[~inside])
    body.update(croper_x=500)
    assert "does not overlap" in _error_shape(client.post("/api/v1/inpaint", json=body), 400)["errors"]


def test_extender_outpaints_with_our_fill(client, image, codec):
    rgba = np.dstack([image, np.full(image.shape[:2], 200, np.uint8)])
    none = np.zeros(image.shape[:2], np.uint8)  # the extender ignores the mask, as IOPaint does
    body = frontend_body(
        data_url(codec.encode(rgba)),
        data_url(codec.encode(none)),
        use_extender=True,
        extender_x=-8,
        extender_y=-4,
        extender_width=80,
        extender_height=56,
    )
    r = client.post("/api/v1/inpaint", json=body)
    assert r.status_code == 200
    out = codec.decode(r.content)
    assert out.shape == (56, 80, 4)
    assert np.array_equal(out[4:52, 8:72, :3], image) and (out[4:52, 8:72, 3] == 200).all()
    grown = np.ones((56, 80), bool)
    grown[4:52, 8:72] = False
    assert (out[grown][:, 3] == 255).all()
    assert out[grown][:, :3].mean() > 20, "the new area was left black"
    edge_left = out[4:52, 0:8, :3].astype(int).mean(axis=(0, 1))  # grows the image's own colours
    assert np.abs(edge_left - image[:, :4].astype(int).mean(axis=(0, 1))).max() < 40

    big = dict(body, extender_width=100_000, extender_height=100_000)
    assert "above the limit" in _error_shape(client.post("/api/v1/inpaint", json=big), 413)["errors"]
    apart = dict(body, extender_x=1000)
    assert "does not overlap" in _error_shape(client.post("/api/v1/inpaint", json=apart), 400)["errors"]


def test_cannot_honour_keep_unmasked_false(client, dataurls):
    body = _error_shape(client.post("/api/v1/inpaint", json=frontend_body(*dataurls, sd_keep_unmasked_area=False)), 400)
    assert "sd_keep_unmasked_area" in body["errors"]


def test_error_bodies_are_iopaints(client, dataurls, image_png, codec):
    small = data_url(codec.encode(np.zeros((5, 5), np.uint8)))
    body = _error_shape(client.post("/api/v1/inpaint", json=frontend_body(dataurls[0], small)), 400)
    assert body["error"] == "InpaintKitError" and "mask is 5x5" in body["errors"]
    _error_shape(client.get("/api/v1/nothing-here"), 404)
    _error_shape(client.post("/api/v1/inpaint", json=frontend_body("%%%", dataurls[1])), 400)


def test_diffusion_finish_is_emitted_after_a_fill(client, dataurls):
    r = client.get("/socket.io/?EIO=4&transport=polling")  # Engine.IO 4 handshake, as the web app does it
    assert r.status_code == 200 and r.text.startswith("0")
    sid = json.loads(r.text[1:])["sid"]
    assert client.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", content="40").status_code == 200
    assert client.get(f"/socket.io/?EIO=4&transport=polling&sid={sid}").text.startswith("40")  # connected
    assert client.post("/api/v1/inpaint", json=frontend_body(*dataurls)).status_code == 200
    assert client.get(f"/socket.io/?EIO=4&transport=polling&sid={sid}").text == '42["diffusion_finish"]'


# -- plugins ------------------------------------------------------------------------------------------------------------
def test_plugins_are_refused_by_name(client, dataurls):
    for route in ("run_plugin_gen_mask", "run_plugin_gen_image"):
        r = client.post(
            f"/api/v1/{route}",
            json={"name": "InteractiveSeg", "image": dataurls[0], "clicks": [[10, 10, 1]], "scale": 2},
        )
        assert "plugin 'InteractiveSeg' is not available" in _error_shape(r, 422)["errors"]
        _error_shape(
            client.post(f"/api/v1/{route}", json={"name": "RemoveBG", "image": dataurls[0], "clicks": "here"}), 422
        )
    r = client.post("/api/v1/switch_plugin_model", json={"plugin_name": "RemoveBG", "model_name": "u2net"})
    assert "plugin 'RemoveBG' is not available" in _error_shape(r, 422)["errors"]


# -- folders: save_image, file manager -------------------------------------------------------------------------------
@pytest.fixture
def folders(tmp_path, image, codec):
    inp, out, masks, secret = (tmp_path / n for n in ("in", "out", "masks", "secret"))
    for d in (inp, masks, secret):
        d.mkdir()
    Image.fromarray(image).save(inp / "b.png")
    Image.fromarray(image[:20]).save(inp / "a.jpg")
    (inp / "notes.txt").write_text("not an image")
    (inp / ".hidden.png").write_bytes(codec.encode(image))
    Image.fromarray(image).save(secret / "s.png")
    os.symlink(secret / "s.png", inp / "link.png")  # a link out of the folder: never listed nor served
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(masks / "b.png")
    return {"input": inp, "output": out, "mask": masks, "secret": secret}


def test_file_manager_lists_and_serves_only_its_folders(make_client, folders, image):
    c = make_client(
        iopaint=IOPaintSettings(input=folders["input"], output_dir=folders["output"], mask_dir=folders["mask"])
    )
    cfg = c.get("/api/v1/server-config").json()
    assert cfg["enableFileManager"] and cfg["enableAutoSaving"]
    listing = c.get("/api/v1/medias", params={"tab": "input"}).json()
    assert [(m["name"], m["width"], m["height"]) for m in listing] == [("a.jpg", 64, 20), ("b.png", 64, 48)]
    assert all(m["mtime"] > 0 and m["ctime"] > 0 for m in listing)
    assert c.get("/api/v1/medias", params={"tab": "output"}).json() == []
    assert [m["name"] for m in c.get("/api/v1/medias", params={"tab": "mask"}).json()] == ["b.png"]

    r = c.get("/api/v1/media_file", params={"tab": "input", "filename": "b.png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == (folders["input"] / "b.png").read_bytes()
    r = c.get("/api/v1/media_thumbnail_file", params={"tab": "input", "filename": "b.png", "width": 32, "height": 24})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert (r.headers["x-width"], r.headers["x-height"]) == ("32", "24")
    assert Image.open(io.BytesIO(r.content)).size == (32, 24)

    for bad in ("../secret/s.png", "/etc/passwd", "..", "sub/../b.png", "..\\b.png", "b.png\x00.txt"):
        r = c.get("/api/v1/media_file", params={"tab": "input", "filename": bad})
        assert r.status_code == 400, (bad, r.text)
    for missing in ("link.png", ".hidden.png", "notes.txt", "zzz.png"):
        r = c.get("/api/v1/media_file", params={"tab": "input", "filename": missing})
        assert r.status_code == 404, (missing, r.text)
    r = c.get("/api/v1/media_thumbnail_file", params={"tab": "input", "filename": "../secret/s.png", "width": 8})
    assert r.status_code == 400
    assert c.get("/api/v1/medias", params={"tab": "secret"}).status_code == 422


def test_file_manager_off_without_input_folder(client):
    assert client.get("/api/v1/medias", params={"tab": "input"}).status_code == 404
    assert client.get("/api/v1/media_file", params={"tab": "input", "filename": "a.png"}).status_code == 404


def test_save_image_writes_only_inside_the_output_folder(make_client, folders, image_png, tmp_path):
    out = folders["output"]
    c = make_client(iopaint=IOPaintSettings(output_dir=out))
    assert out.is_dir()  # created at start
    r = c.post("/api/v1/save_image", files={"file": ("photo.png", image_png, "image/png")})
    assert r.status_code == 200 and (out / "photo.png").read_bytes() == image_png
    r = c.post("/api/v1/save_image", files={"file": ("../../escape.png", image_png, "image/png")})
    assert r.status_code == 200 and r.json() == {"filename": "escape.png"} and (out / "escape.png").is_file()
    assert not (tmp_path / "escape.png").exists() and not (tmp_path.parent / "escape.png").exists()
    os.symlink(folders["secret"] / "s.png", out / "trap.png")
    before = (folders["secret"] / "s.png").read_bytes()
    assert c.post("/api/v1/save_image", files={"file": ("trap.png", image_png)}).status_code == 409
    assert (folders["secret"] / "s.png").read_bytes() == before
    assert c.post("/api/v1/save_image", files={"file": ("x.png", b"<script>")}).status_code == 400
    assert c.post("/api/v1/save_image", files={"file": ("x.sh", image_png)}).status_code == 400
    assert c.post("/api/v1/save_image", files={"file": (".bashrc.png", image_png)}).status_code == 400
    assert c.post("/api/v1/save_image", json={"file": "abc"}).status_code == 415
    assert sorted(p.name for p in out.iterdir()) == ["escape.png", "photo.png", "trap.png"]
    assert [m["name"] for m in c.get("/api/v1/medias", params={"tab": "output"}).json()] == ["escape.png", "photo.png"]


def test_save_image_without_output_folder(client, image_png):
    r = client.post("/api/v1/save_image", files={"file": ("photo.png", image_png)})
    assert "--output-dir" in _error_shape(r, 404)["errors"]


# -- the UI switch and the CLI ----------------------------------------------------------------------------------------
def _fake_web(tmp_path: Path) -> Path:
    web = tmp_path / "iopaint" / "web_app"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<title>IOPaint</title>")
    return web


def test_ui_iopaint_serves_the_given_folder(make_client, tmp_path):
    web = _fake_web(tmp_path)
    assert find_web_dir(tmp_path) == web and find_web_dir(tmp_path / "iopaint") == web
    c = make_client(iopaint=IOPaintSettings(ui="iopaint", web_dir=tmp_path))
    assert "<title>IOPaint</title>" in c.get("/").text
    assert c.get("/api/v1/server-config").status_code == 200


@pytest.mark.parametrize(
    "args,message",
    [
        (["--ui", "iopaint"], "--ui iopaint needs --iopaint-web DIR"),
        (["--ui", "iopaint", "--iopaint-web", "{tmp}"], "no IOPaint web app there"),
        (["--ui", "gradio"], "--ui 'gradio': choose from inpaintkit, iopaint"),
        (["--input", "{tmp}/missing.png"], "no such file or folder"),
        (["--mask-dir", "{tmp}/nope"], "not a folder"),
    ],
)
def test_serve_refuses_bad_iopaint_flags(cli, tmp_path, args, message):
    code, out, err = cli("serve", "--model", "telea", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and message in err


# -- against IOPaint's own source (its wheel, read as text) -----------------------------------------------------------
def _classes(path: Path) -> dict[str, dict[str, ast.AST]]:
    """{class: {field or computed property: its annotation / return annotation}} of a pydantic module."""
    out = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef):
            fields = {}
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    fields[item.target.id] = item
                elif isinstance(item, ast.FunctionDef) and any(
                    isinstance(d, ast.Name) and d.id == "computed_field" for d in item.decorator_list
                ):
                    fields[item.name] = item
            out[node.name] = fields
    return out


def test_inpaint_fields_match_iopaints_schema(iopaint_dist):
    theirs = _classes(iopaint_dist / "iopaint" / "schema.py")["InpaintRequest"]
    ours = InpaintParams.model_fields
    assert set(theirs) - {"image", "mask"} <= set(ours), set(theirs) - set(ours)
    for name, node in theirs.items():
        if name in ("image", "mask") or name in (
            "hd_strategy",
            "hd_strategy_crop_trigger_size",
            "hd_strategy_crop_margin",
            "hd_strategy_resize_limit",
            "prompt",
        ):
            continue  # ours: None = the model's default, which is IOPaint's (Crop, 800, 128, 1280, "")
        default = node.value.args[0] if isinstance(node.value, ast.Call) else node.value
        if isinstance(default, ast.Constant):
            assert ours[name].default == default.value, name
        elif isinstance(default, ast.Attribute):  # an enum member, e.g. CV2Flag.INPAINT_NS
            assert isinstance(ours[name].default, str), name
        kind = ast.unparse(node.annotation)
        if kind in ("int", "float", "bool"):
            assert ours[name].annotation.__name__ == kind, (name, kind, ours[name].annotation)


def test_the_frontend_sends_what_we_replay(iopaint_dist):
    web = iopaint_dist / "iopaint" / "web_app"
    js = next(p for p in (web / "assets").glob("index-*.js") if "JSON.stringify({image:" in p.read_text())
    call = re.search(r"JSON\.stringify\(\{(image:.*?)\}\)\}\);if\(\w+\.ok\)", js.read_text()).group(1)
    keys = re.findall(r"(?:^|,)(\w+):", call)
    assert keys == list(frontend_body("", "")), "IOPaint's web app sends other fields than this test replays"


def test_every_iopaint_route_exists(iopaint_dist, make_client, tmp_path):
    routes = []
    for rel in ("api.py", "file_manager/file_manager.py"):
        src = (iopaint_dist / "iopaint" / rel).read_text()
        routes += re.findall(r'add_api_route\(\s*"(/api/v1/[\w-]+)".*?methods=\["(\w+)"\]', src)
    assert len(routes) >= 15
    c = make_client(iopaint=IOPaintSettings(input=tmp_path, output_dir=tmp_path / "out"))
    for path, method in routes:
        r = c.request(method, path)
        assert r.status_code != 405 and "no API route" not in r.text, (method, path, r.text)


def test_response_schemas_cover_iopaints(iopaint_dist, client):
    schema = _classes(iopaint_dist / "iopaint" / "schema.py")
    assert set(schema["ServerConfigResponse"]) <= set(client.get("/api/v1/server-config").json())
    assert set(schema["ModelInfo"]) <= set(client.get("/api/v1/model").json())
    assert set(schema["GenInfoResponse"]) == {"prompt", "negative_prompt"}
    from inpaintkit.server.iopaint_schemas import MediasResponse

    assert set(schema["MediasResponse"]) == set(MediasResponse.model_fields)
