"""Lifetime of a library plan owned by a Python object (BlocksparseMatMul, LayerNorm, SparseProj)."""
from __future__ import annotations

from .errors import InvalidArgumentError, Status


class OwnedPlan:
    """Base of the classes that own a C plan.

    A subclass sets ``self._plan`` (the C handle) and ``self._finalizer`` (a ``weakref.finalize``
    that destroys it), so the plan is destroyed exactly once: by ``close()``, the ``with`` block,
    or garbage collection.
    """

    _plan = None

    @property
    def _handle(self):
        if self._plan is None or not self._finalizer.alive:
            raise InvalidArgumentError(Status.NULL_POINTER, f"this {type(self).__name__} was closed")
        return self._plan

    def close(self) -> None:
        """Destroys the plan (after waiting for GPU work that used it, where the class tracks any). Idempotent."""
        if self._plan is not None:
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
