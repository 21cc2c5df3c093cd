"""Fixtures for the API tests: TestClients on a telea server, small images, and encoders for request bodies."""

from __future__ import annotations

import base64
import io
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from inpaintkit.server import Settings, create_app


def _encode(arr: np.ndarray, fmt: str = "PNG", mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def codec() -> SimpleNamespace:
    """``encode(arr, fmt, mode) -> bytes``, ``b64(bytes) -> str``, ``decode(bytes) -> array``."""
    return SimpleNamespace(
        encode=_encode,
        b64=lambda data: base64.b64encode(data).decode("ascii"),
        decode=lambda data: np.asarray(Image.open(io.BytesIO(data))),
    )


@pytest.fixture
def make_client():
    """``make_client(**settings)``: a started TestClient (closed after the test); models default to telea."""
    clients = []

    def make(**kw) -> TestClient:
        kw.setdefault("models", ("telea",))
        c = TestClient(create_app(Settings(**kw)), raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def image() -> np.ndarray:
    """A smooth RGB image (48, 64, 3): gradients, so a fill differs measurably from the original."""
    y, x = np.mgrid[0:48, 0:64]
    return np.dstack([x * 4, y * 5, (x + y) * 2]).astype(np.uint8)


@pytest.fixture
def hole() -> np.ndarray:
    m = np.zeros((48, 64), bool)
    m[12:24, 20:40] = True
    return m


@pytest.fixture
def image_png(image, codec) -> bytes:
    return codec.encode(image)


@pytest.fixture
def hole_png(hole, codec) -> bytes:
    return codec.encode(hole.astype(np.uint8) * 255)
