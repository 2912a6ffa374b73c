"""Snapshots: a pinned state of the database that later writes do not change."""

from __future__ import annotations

from ctypes import byref, c_void_p
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, Type, TypeVar, Union, overload

from ._handle import KeyLookup, Ref, get_value
from ._lib import lib
from .iterator import ScanIterator

if TYPE_CHECKING:
    from .db import DB

_T = TypeVar("_T")


class Snapshot(KeyLookup):
    """Reads through a snapshot ignore writes made after it was taken.

    Use it as a context manager or call `release()`; it is also released when garbage
    collected. Iterators made by `scan()` keep it alive until they are freed.
    """

    __slots__ = ("_db", "_ref", "__weakref__")

    def __init__(self, db: "DB") -> None:
        out = c_void_p()
        db._check(lib.shale_snapshot_create, byref(out))
        self._db = db
        if not out.value:
            raise RuntimeError("shale_snapshot_create returned OK and NULL")
        self._ref = Ref(out.value, lib.shale_snapshot_release, "snapshot")

    @overload
    def get(self, key: bytes) -> Optional[bytes]: ...
    @overload
    def get(self, key: bytes, default: _T) -> Union[bytes, _T]: ...

    def get(self, key: bytes, default: object = None) -> object:
        """The value of key at the snapshot, or default when absent."""
        return get_value(self._call_pinned, lib.shale_snapshot_get, key, default)

    def _call_pinned(self, fn: Any, *args: Any) -> int:
        """`db._call_raw(fn, snapshot, *args)` with the snapshot pinned."""
        ptr = self._ref.pin()
        try:
            return self._db._call_raw(fn, ptr, *args)
        finally:
            self._ref.unpin()

    def scan(self, start: Optional[bytes] = None, end: Optional[bytes] = None) -> ScanIterator:
        """Iterates (key, value) in [start, end) at the snapshot; None is an open bound."""
        return ScanIterator(self._db, self, start, end)

    def release(self) -> None:
        """Releases the snapshot (idempotent). Later reads raise ClosedError."""
        self._ref.close()

    close = release

    @property
    def released(self) -> bool:
        return self._ref.closed

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self._ref.close()
        except Exception:  # interpreter shutdown, or __init__ failed
            pass

    def __repr__(self) -> str:
        return f"<shale.Snapshot {'released' if self.released else 'active'}>"
