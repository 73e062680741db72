"""Finds and loads libblocksparse and declares the C prototypes of its public API (ctypes).

Search order: the file named by the environment variable ``BLOCKSPARSE_LIBRARY``; the copy bundled
inside this package by ``pip install``; the repository's ``build/lib/`` (a source checkout after
``make``). The library is loaded once, on first use.
"""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

ENV_VAR = "BLOCKSPARSE_LIBRARY"
_LIB_NAME = "libblocksparse.so"

_PACKAGE_DIR = Path(__file__).resolve().parent
# bindings/python/blocksparse -> repository root
_REPO_BUILD_LIB = _PACKAGE_DIR.parents[2] / "build" / "lib" / _LIB_NAME

c_status = ctypes.c_int32  # bs_status_t (an enum forced to 32 bits)
c_enum = ctypes.c_int32
c_plan = ctypes.c_void_p  # bsmm_plan_t / const_bsmm_plan_t
c_ptr = ctypes.c_void_p
c_i64 = ctypes.c_int64
c_i64_p = ctypes.POINTER(ctypes.c_int64)
c_size = ctypes.c_size_t


class BsmmParams(ctypes.Structure):
    """Mirror of ``bsmm_params_t`` (bsmm.h); always filled by ``bsmm_params_init``."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("backend", ctypes.c_int32),
        ("device", ctypes.c_int32),
        ("block_size", ctypes.c_int32),
        ("feature_axis", ctypes.c_int32),
        ("dtype", ctypes.c_int32),
        ("math_mode", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
    ]


# name: (restype, argtypes). Every function of bs_core.h and bsmm.h.
_PROTOTYPES = {
    "bs_get_version": (ctypes.c_int32, []),
    "bs_get_version_string": (ctypes.c_char_p, []),
    "bs_get_build_info": (ctypes.c_char_p, []),
    "bs_status_name": (ctypes.c_char_p, [c_status]),
    "bs_status_description": (ctypes.c_char_p, [c_status]),
    "bs_get_last_error": (c_status, [ctypes.c_char_p, c_size, ctypes.POINTER(c_size)]),
    "bs_get_last_status": (c_status, []),
    "bs_clear_last_error": (c_status, []),
    "bs_dtype_size": (c_status, [c_enum, ctypes.POINTER(c_size)]),
    "bs_get_device_count": (c_status, [c_enum, ctypes.POINTER(ctypes.c_int32)]),
    "bsmm_params_init": (c_status, [ctypes.POINTER(BsmmParams), c_size]),
    "bsmm_create": (c_status, [ctypes.POINTER(c_plan), ctypes.POINTER(BsmmParams), c_ptr, c_i64, c_i64]),
    "bsmm_create_bsr": (c_status, [ctypes.POINTER(c_plan), ctypes.POINTER(BsmmParams), c_i64, c_i64, c_ptr, c_ptr]),
    "bsmm_destroy": (c_status, [c_plan]),
    "bsmm_get_attr": (c_status, [c_plan, c_enum, c_i64_p]),
    "bsmm_get_weight_shape": (c_status, [c_plan, c_i64_p]),
    "bsmm_get_input_shape": (c_status, [c_plan, c_i64, c_i64_p]),
    "bsmm_get_output_shape": (c_status, [c_plan, c_i64, c_i64_p]),
    "bsmm_block_coord": (c_status, [c_plan, c_i64, c_i64_p, c_i64_p]),
    "bsmm_get_layout": (c_status, [c_plan, c_ptr, c_i64]),
    "bsmm_get_workspace_size": (c_status, [c_plan, c_enum, c_i64, ctypes.POINTER(c_size)]),
    "bsmm_fprop": (c_status, [c_plan, c_i64, c_ptr, c_ptr, c_ptr, ctypes.c_float, ctypes.c_float, c_ptr,
                              c_ptr, c_size, c_ptr]),
    "bsmm_bprop": (c_status, [c_plan, c_i64, c_ptr, c_ptr, c_ptr, ctypes.c_float, ctypes.c_float, c_ptr,
                              c_ptr, c_size, c_ptr]),
    "bsmm_updat": (c_status, [c_plan, c_i64, ctypes.c_int32, ctypes.POINTER(c_ptr), ctypes.POINTER(c_ptr), c_ptr,
                              ctypes.c_float, ctypes.c_float, c_ptr, c_ptr, c_size, c_ptr]),
    "bsmm_identity_init": (c_status, [c_plan, c_ptr, ctypes.c_float, c_ptr]),
    "bsmm_l2_normalize": (c_status, [c_plan, c_ptr, c_ptr, c_ptr, ctypes.c_float, c_ptr, c_size, c_ptr]),
    "bsmm_l2_normalize_grad": (c_status, [c_plan, c_ptr, c_ptr, c_ptr, c_ptr, c_ptr, ctypes.c_float, c_ptr,
                                          c_size, c_ptr]),
}


def candidate_paths() -> list[Path]:
    """The places searched for the library, in order."""
    paths = []
    env = os.environ.get(ENV_VAR)
    if env:
        paths.append(Path(env))
    paths.append(_PACKAGE_DIR / _LIB_NAME)
    paths.append(_REPO_BUILD_LIB)
    return paths


@functools.lru_cache(maxsize=None)
def load() -> ctypes.CDLL:
    """Loads the library (once) and declares every prototype. Raises OSError if none is found."""
    env = os.environ.get(ENV_VAR)
    if env and not Path(env).is_file():
        # An explicit choice that does not exist is an error, never a silent fallback.
        raise OSError(f"{ENV_VAR}={env} does not name an existing file")
    for path in candidate_paths():
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            for name, (restype, argtypes) in _PROTOTYPES.items():
                fn = getattr(lib, name)
                fn.restype = restype
                fn.argtypes = argtypes
            lib.path = str(path)
            return lib
    searched = ", ".join(str(p) for p in candidate_paths())
    raise OSError(f"libblocksparse not found (searched: {searched}); build it with `make` at the repository "
                  f"root, `pip install` the package, or set {ENV_VAR} to the library file")


def library_path() -> str:
    """Path of the loaded library."""
    return load().path
