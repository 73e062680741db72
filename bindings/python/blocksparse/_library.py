"""Finds and loads libblocksparse and declares the C prototypes of its public API (ctypes, from the
generated _ffi module).

Search order: the file named by the environment variable ``BLOCKSPARSE_LIBRARY``; the copy bundled
inside this package by ``pip install``; the repository's ``build/lib/`` (a source checkout after
``make``). The library is loaded once, on first use.
"""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

from . import _ffi

ENV_VAR = "BLOCKSPARSE_LIBRARY"
_LIB_NAME = "libblocksparse.so"

_PACKAGE_DIR = Path(__file__).resolve().parent
# bindings/python/blocksparse -> repository root
_REPO_BUILD_LIB = _PACKAGE_DIR.parents[2] / "build" / "lib" / _LIB_NAME

# The params structs and prototypes are generated from the headers (_ffi.py, scripts/gen_bindings.py).
BsmmParams = _ffi.bsmm_params_t


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
    """Loads the library (once) and declares the prototype of every function it exports. Raises OSError
    if none is found."""
    env = os.environ.get(ENV_VAR)
    if env and not Path(env).is_file():
        # An explicit choice that does not exist is an error, never a silent fallback.
        raise OSError(f"{ENV_VAR}={env} does not name an existing file")
    for path in candidate_paths():
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            for name, (restype, argtypes) in _ffi.PROTOTYPES.items():
                fn = getattr(lib, name, None)
                if fn is not None:  # an older library lacks the newest functions: calling one raises
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
