"""Library loading, versions, status names: the binding mirrors the C API."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import blocksparse as bs
from blocksparse import Status


def test_loads_library_named_by_environment():
    env = os.environ.get("BLOCKSPARSE_LIBRARY")
    if not env:
        pytest.skip("BLOCKSPARSE_LIBRARY is not set (CTest sets it to the freshly built library)")
    assert Path(bs.library_path()).resolve() == Path(env).resolve()


def test_missing_library_is_a_clear_error():
    code = "import blocksparse as bs\ntry:\n    bs.version()\nexcept OSError as e:\n    print(e)\n"
    env = dict(os.environ, BLOCKSPARSE_LIBRARY="/nonexistent/libblocksparse.so")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "BLOCKSPARSE_LIBRARY=/nonexistent/libblocksparse.so does not name an existing file" in out.stdout


def test_version_and_build_info():
    v = bs.version()
    assert len(v.split(".")) == 3 and all(p.isdigit() for p in v.split("."))
    info = bs.build_info()
    assert info["version"] == v
    assert "cpu" in info["backends"].split(",")
    assert bs.device_count("cpu") == 1
    assert bs.device_count("cuda") >= 0
    if "cuda" not in info["backends"].split(","):
        assert bs.device_count("cuda") == 0


def test_status_enum_mirrors_the_library():
    for s in Status:
        assert bs.status_name(s) == "BS_STATUS_" + s.name
        assert bs.status_description(s)
    assert bs.status_name(12345) == "BS_STATUS_UNKNOWN"


def test_error_classes():
    assert issubclass(bs.InvalidArgumentError, bs.BlocksparseError)
    e = bs.errors.make_error(101, "m")
    assert isinstance(e, bs.UnsupportedError) and e.status is Status.BACKEND_UNAVAILABLE
    e = bs.errors.make_error(200, "m")
    assert isinstance(e, bs.SystemFailureError) and isinstance(e, RuntimeError)
    e = bs.errors.make_error(150, "m")
    assert e.status == 150 and e.status_name == "BS_STATUS_UNKNOWN"
