"""Request bodies of the REST API: read with size and stall limits, JSON or multipart, base64 or uploads.

Shared by ``app`` (our routes) and ``iopaint_api`` (IOPaint's), so every upload obeys the same limits.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any, AsyncIterator

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ..errors import InpaintKitError, TooLargeError


def decode_base64(data: str, name: str) -> bytes:
    """Plain base64 (standard or URL-safe, padding optional) or a ``data:...;base64,`` URL -> bytes."""
    s = data.strip()
    if s.startswith("data:"):
        head, sep, payload = s.partition(",")
        if not sep:
            raise InpaintKitError(f"{name}: malformed data URL (no comma); expected data:image/png;base64,<data>")
        if not head.lower().endswith(";base64"):
            raise InpaintKitError(f"{name}: data URL is not base64-encoded; expected data:image/png;base64,<data>")
        s = payload
    s = "".join(s.split()).replace("-", "+").replace("_", "/")
    if not s:
        raise InpaintKitError(f"{name}: empty; send the image as base64 or a data URL")
    s += "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise InpaintKitError(
            f"{name}: malformed base64; send the file's bytes base64-encoded "
            "or as a data URL (data:image/png;base64,...)"
        ) from None


def as_bytes(value: bytes | str, name: str) -> bytes:
    return value if isinstance(value, bytes) else decode_base64(value, name)


def validation_message(err: ValidationError | RequestValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    msg = first.get("msg", "invalid value").removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InpaintKitError(validation_message(e), status_code=422) from None


async def read_body(request: Request, limit: int, idle_timeout: float = 20.0) -> bytes:
    """The whole body, refusing (413) past ``limit`` bytes before reading more than that, and (408) when the
    client stops sending for ``idle_timeout`` seconds (a client that sends headers and no body)."""

    def too_large(n: str) -> TooLargeError:
        return TooLargeError(
            f"request body is {n} bytes, above the limit of {limit / 2**20:.1f} MB; "
            "send a smaller image or start the server with a larger --max-upload-mb"
        )

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(declared)
    chunks, n = [], 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=idle_timeout)
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise InpaintKitError(
                f"request body stalled: nothing received for {idle_timeout:g} s after "
                f"{n} bytes; send the whole body without pausing",
                status_code=408,
            ) from None
        n += len(chunk)
        if n > limit:
            raise too_large(f"more than {limit}")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse(
    request: Request, params_model: type[BaseModel], files: tuple[str, ...], limit: int, idle_timeout: float = 20.0
) -> tuple[Any, dict[str, bytes | str]]:
    """JSON or multipart body -> (validated params, {file field: bytes (upload) or str (base64)})."""
    body = await read_body(request, limit, idle_timeout)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, Any] = {}
    blobs: dict[str, bytes | str] = {}
    if ctype == "multipart/form-data":

        async def stream() -> AsyncIterator[bytes]:
            yield body

        parser = MultiPartParser(
            request.headers, stream(), max_files=len(files) + 2, max_fields=64, max_part_size=limit
        )
        parser.spool_max_size = limit + 1  # keep uploads in memory: the server writes no files from requests
        try:
            form = await parser.parse()
        except MultiPartException as e:
            raise InpaintKitError(f"malformed multipart upload: {e.message}") from None
        for key, value in form.multi_items():
            if key in files:
                blobs[key] = await value.read() if isinstance(value, UploadFile) else value
            elif isinstance(value, str):
                fields[key] = value
        await form.close()
    elif ctype in ("application/json", "") or ctype.endswith("+json"):
        try:
            data = json.loads(body)
        except RecursionError:
            raise InpaintKitError(
                "request body is nested too deeply to be a request; send a flat JSON object", status_code=422
            ) from None
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, integers above Python's digit limit
            raise InpaintKitError(
                f"request body is not valid JSON ({e.__class__.__name__}: {e})", status_code=422
            ) from None
        if not isinstance(data, dict):
            raise InpaintKitError("request body must be a JSON object", status_code=422)
        for key, value in data.items():
            if key in files:
                if value is None:
                    continue
                if not isinstance(value, str):
                    raise InpaintKitError(
                        f"{key}: expected a base64 string or data URL, got {type(value).__name__}", status_code=422
                    )
                blobs[key] = value
            else:
                fields[key] = value
    else:
        raise InpaintKitError(
            f"unsupported content type {ctype!r}; send application/json or multipart/form-data", status_code=415
        )
    for key in files:
        if key not in blobs:
            raise InpaintKitError(
                f"{key}: missing; send it as a base64 string (JSON) or a file (multipart upload)", status_code=422
            )
    return validate(params_model, fields), blobs
