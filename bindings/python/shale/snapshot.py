"""Snapshots: a pinned state of the database that later writes do not change."""

from __future__ import annotations

from ctypes import byref, c_size_t, c_void_p
from types import TracebackType
from typing import TYPE_CHECKING, Optional, Type, TypeVar, Union, overload

from ._handle import Ref, as_bytes
from ._lib import lib, take_buffer
from .errors import OK
from .iterator import ScanIterator

if TYPE_CHECKING:
    from .db import DB

_T = TypeVar("_T")


class Snapshot:
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
        key = as_bytes(key, "key")
        val, vlen = c_void_p(), c_size_t()
        ptr = self._ref.pin()
        try:
            status = self._db._call_raw(
                lib.shale_snapshot_get, ptr, key, len(key), byref(val), byref(vlen)
            )
        finally:
            self._ref.unpin()
        if status == OK:
            return take_buffer(val, vlen.value)
        return default

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: bytes) -> bool:
        return self.get(key) is not None

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
