"""Gradient-boosted trees (LightGBM) for prediction, through LightGBM's own C library.

``import lightgbm`` imports scikit-learn and scipy: ~2 s of CPU, more than the noise branch spends scoring 50 images
at 256². Predicting is one call into ``lib_lightgbm``, so ``Trees`` makes that call itself (``ctypes``), the same
call with the same parameters as ``Booster.predict(x, num_threads=1)``: the results are those of the ``lightgbm``
package, bit for bit (``tests/forensics/test_branches.py`` compares them). Training stays with the ``lightgbm``
package. Where its library is not found where the ``lightgbm`` wheel puts it, ``Trees`` uses ``lightgbm.Booster``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import platform
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InpaintKitError

# LightGBM's C API constants (c_api.h)
_DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1}  # C_API_DTYPE_FLOAT32 / _FLOAT64
_ROW_MAJOR = 1
_PREDICT_NORMAL = 0
_PARAMS = b"num_threads=1"  # what ``Booster.predict(x, num_threads=1)`` passes


@ctypes.CFUNCTYPE(None, ctypes.c_char_p)
def _log(msg: bytes) -> None:
    # the library's own messages (the lightgbm package prints them to stdout): stderr, so `detect --json` stays JSON
    sys.stderr.write(msg.decode("utf-8", "replace"))


@cache
def _lib() -> ctypes.CDLL | None:
    """``lib_lightgbm`` from the installed ``lightgbm`` package, found without importing it (None if not there)."""
    spec = importlib.util.find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = {"Windows": "lib_lightgbm.dll", "Darwin": "lib_lightgbm.dylib"}.get(platform.system(), "lib_lightgbm.so")
    root = Path(next(iter(spec.submodule_search_locations)))
    for p in (root / "lib" / name, root / "bin" / name, root.parent / name):  # the places lightgbm/libpath.py tries
        if p.is_file():
            lib = ctypes.cdll.LoadLibrary(str(p))
            lib.LGBM_GetLastError.restype = ctypes.c_char_p
            lib.LGBM_RegisterLogCallback(_log)
            return lib
    return None


def _check(lib: ctypes.CDLL, rc: int) -> None:
    if rc != 0:
        raise InpaintKitError(f"LightGBM: {lib.LGBM_GetLastError().decode('utf-8', 'replace').strip()}")


class Trees:
    """A LightGBM model from its text (``Booster.model_to_string()``). ``predict((N, F)) -> (N,) float64``."""

    def __init__(self, model: str):
        self.model = model
        self._lib = _lib()
        self._handle: ctypes.c_void_p | None = None
        self._booster: Any = None
        if self._lib is None:
            import lightgbm as lgb

            self._booster = lgb.Booster(model_str=model)
            self.num_features = self._booster.num_feature()
            return
        handle, iters, nf = ctypes.c_void_p(), ctypes.c_int(), ctypes.c_int()
        _check(
            self._lib,
            self._lib.LGBM_BoosterLoadModelFromString(model.encode(), ctypes.byref(iters), ctypes.byref(handle)),
        )
        self._handle = handle
        _check(self._lib, self._lib.LGBM_BoosterGetNumFeature(handle, ctypes.byref(nf)))
        self.num_features = nf.value

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's output (a probability, for a binary model) for each row of ``x``, on one thread."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise InpaintKitError(f"trees: expected (N, {self.num_features}) features, got shape {x.shape}")
        if self._booster is not None:
            return self._booster.predict(x, num_threads=1)
        # float32 and float64 go in as they are, anything else as float32 (as lightgbm does)
        x = np.ascontiguousarray(x, x.dtype if x.dtype in _DTYPES else np.float32)
        out, n_out = np.empty(len(x), np.float64), ctypes.c_int64()
        _check(
            self._lib,
            self._lib.LGBM_BoosterPredictForMat(
                self._handle,
                x.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_int(_DTYPES[x.dtype]),
                ctypes.c_int32(x.shape[0]),
                ctypes.c_int32(x.shape[1]),
                ctypes.c_int(_ROW_MAJOR),
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(-1),  # all iterations
                ctypes.c_char_p(_PARAMS),
                ctypes.byref(n_out),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            ),
        )
        if n_out.value != len(x):
            raise InpaintKitError(f"LightGBM: {n_out.value} predictions for {len(x)} rows (not a binary model?)")
        return out

    def __del__(self) -> None:
        if self._handle is not None and self._lib is not None:
            self._lib.LGBM_BoosterFree(self._handle)
            self._handle = None

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model"])
