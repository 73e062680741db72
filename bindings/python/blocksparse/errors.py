"""Statuses of the C API as Python exceptions.

Every failure, whether found by the library or by this binding before it calls the library, raises
a :class:`BlocksparseError` (or one of its subclasses, one per status family) carrying the status
(a :class:`Status` member: ``.name`` and ``.value``) and the detailed message.
"""
from __future__ import annotations

import ctypes
import enum

from . import _ffi, _library


# ``bs_status_t`` (bs_types.h), from the generated declarations: SUCCESS, NULL_POINTER, ...
Status = enum.IntEnum("Status", {name.removeprefix("BS_STATUS_"): value
                                 for name, value in _ffi.ENUMS["bs_status_t"].items()},
                      module=__name__, qualname="Status")
Status.__doc__ = "``bs_status_t`` (bs_types.h). Values are the C values and never change."


class BlocksparseError(Exception):
    """A failed call. ``status`` is a :class:`Status` (or the raw int for a value this binding does
    not know), ``status_name`` the C name (``"BS_STATUS_SHAPE_MISMATCH"``), ``message`` the detailed
    message (the library's ``bs_get_last_error`` text, which starts with the C function's name)."""

    def __init__(self, status: int, message: str):
        try:
            self.status = Status(status)
            self.status_name = "BS_STATUS_" + self.status.name
        except ValueError:
            self.status = int(status)
            self.status_name = "BS_STATUS_UNKNOWN"
        self.message = message
        super().__init__(f"{self.status_name} ({int(status)}): {message}")


class InvalidArgumentError(BlocksparseError, ValueError):
    """Statuses 1-99: the caller's arguments are wrong (shape, dtype, layout, pointer...)."""


class UnsupportedError(BlocksparseError):
    """Statuses 100-199: valid input that this build or device cannot run."""


class SystemFailureError(BlocksparseError, RuntimeError):
    """Statuses 200-299: allocation, device or internal failures."""


def error_class(status: int) -> type:
    """The exception class of a status value."""
    if 1 <= status < 100:
        return InvalidArgumentError
    if 100 <= status < 200:
        return UnsupportedError
    if 200 <= status < 300:
        return SystemFailureError
    return BlocksparseError


def make_error(status: int, message: str) -> BlocksparseError:
    return error_class(status)(status, message)


def last_error_message() -> str:
    """The calling thread's last failure message from the library (empty if none)."""
    lib = _library.load()
    needed = ctypes.c_size_t(0)
    lib.bs_get_last_error(None, 0, ctypes.byref(needed))
    buf = ctypes.create_string_buffer(max(needed.value, 1))
    lib.bs_get_last_error(buf, len(buf), None)
    return buf.value.decode("utf-8", errors="replace")


def check(status: int) -> None:
    """Raises the error of a non-zero status returned by a library call, with the library's message.

    Must be called on the thread that made the call (the message is per thread), before any other
    library call of that thread, which ctypes guarantees as calls run on the calling thread."""
    if status != 0:
        raise make_error(status, last_error_message())


def status_name(status: int) -> str:
    """The library's static name of a status value (``bs_status_name``)."""
    return _library.load().bs_status_name(int(status)).decode()


def status_description(status: int) -> str:
    """The library's one-sentence description of a status value (``bs_status_description``)."""
    return _library.load().bs_status_description(int(status)).decode()
