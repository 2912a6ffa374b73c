"""Scans: iterators of (key, value) over [start, end) in byte order."""

from __future__ import annotations

import threading
from ctypes import byref, c_size_t, c_void_p
from types import TracebackType
from typing import TYPE_CHECKING, Iterator, Optional, Tuple, Type

from ._handle import scan_bounds
from ._lib import copy_bytes, lib
from .errors import OK, raise_status

if TYPE_CHECKING:
    from .db import DB
    from .snapshot import Snapshot


class ScanIterator(Iterator[Tuple[bytes, bytes]]):
    """Yields (key, value) pairs as bytes. Frees its C iterator when exhausted, on `close()`,
    at the end of a `with` block, or when garbage collected. Raises ClosedError once the
    database is closed."""

    __slots__ = ("_db", "_snapshot", "_ptr", "_lock", "__weakref__")

    def __init__(
        self,
        db: "DB",
        snapshot: Optional["Snapshot"],
        start: Optional[bytes],
        end: Optional[bytes],
    ) -> None:
        self._ptr: Optional[int] = None
        self._snapshot: Optional["Snapshot"] = None
        self._lock = threading.Lock()
        self._db = db
        bounds = scan_bounds(start, end)
        snap_ptr = snapshot._ref.pin() if snapshot is not None else None
        out = c_void_p()
        try:
            status = db._call(lib.shale_scan, snap_ptr, *bounds, byref(out))
            if status != OK:
                raise_status(status)  # NOT_FOUND: not expected from a scan
        except BaseException:
            if snapshot is not None:
                snapshot._ref.unpin()
            raise
        # The pin on the snapshot is kept until this iterator is freed.
        self._snapshot = snapshot
        self._ptr = out.value

    def __iter__(self) -> "ScanIterator":
        return self

    def __next__(self) -> Tuple[bytes, bytes]:
        key, klen = c_void_p(), c_size_t()
        val, vlen = c_void_p(), c_size_t()
        with self._lock:
            if self._ptr is None:
                raise StopIteration
            status = self._db._call_raw(
                lib.shale_iter_next, self._ptr, byref(key), byref(klen), byref(val), byref(vlen)
            )
            if status == OK:
                # The pointers belong to the iterator until the next call: copy now.
                return copy_bytes(key.value, klen.value), copy_bytes(val.value, vlen.value)
            self._free_locked()  # NOT_FOUND: the end
            raise StopIteration

    def close(self) -> None:
        """Frees the C iterator (idempotent); iteration then stops."""
        with self._lock:
            self._free_locked()

    def _free_locked(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            lib.shale_iter_free(ptr)
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            snapshot._ref.unpin()

    def __enter__(self) -> "ScanIterator":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            # No lock: nothing else can reach an object being collected.
            self._free_locked()
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self) -> str:
        return f"<shale.ScanIterator {'open' if self._ptr is not None else 'closed'}>"
