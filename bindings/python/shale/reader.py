"""Readers: read-only views of a checkpoint (or of the latest durable state) that can run in
any process beside a live writer."""

from __future__ import annotations

import os
import threading
from ctypes import byref, c_void_p
from typing import Any, Optional, TypeVar, Union, overload

from ._handle import (
    Guard,
    GuardedHandle,
    KeyLookup,
    PathLike,
    get_value,
    location_bytes,
    scan_bounds,
)
from ._lib import lib
from .checkpoint import CheckpointRef, check_checkpoint_call, checkpoint_id_bytes
from .errors import OK, raise_status
from .iterator import ScanIterator

_T = TypeVar("_T")


class Reader(GuardedHandle, KeyLookup):
    """`shale.Reader(path, checkpoint=None)`: reads exactly the checkpoint's data (an id or a
    `Checkpoint`), or with None the latest durable state of the database at open time.

    Later writes, flushes and compactions of a writer do not change what it reads. Use it as
    a context manager or call `close()`; it is also closed when garbage collected. Its
    iterators raise ClosedError once it is closed. A Reader may be shared by threads.
    """

    __slots__ = ("_ptr", "_guard", "_location", "_checkpoint_id", "__weakref__")

    def __init__(self, location: PathLike, checkpoint: Optional[CheckpointRef] = None) -> None:
        self._ptr: Optional[int] = None
        self._guard = Guard("reader")
        self._location = os.fsdecode(os.fspath(location))
        loc = location_bytes(location)
        cid = None if checkpoint is None else checkpoint_id_bytes(checkpoint)
        self._checkpoint_id = None if cid is None else cid.decode("utf-8")
        out = c_void_p()
        # NOT_FOUND: no such database or checkpoint.
        check_checkpoint_call(lib.shale_reader_open(loc, cid, byref(out)), loc, cid)
        if not out.value:
            raise RuntimeError("shale_reader_open returned OK and NULL")
        self._ptr = out.value

    # `_call_raw` and `_call`, used by ScanIterator, are DB's (from GuardedHandle).

    # -- reads --------------------------------------------------------------------------------

    @overload
    def get(self, key: bytes) -> Optional[bytes]: ...
    @overload
    def get(self, key: bytes, default: _T) -> Union[bytes, _T]: ...

    def get(self, key: bytes, default: object = None) -> object:
        """The value of key, or default when absent."""
        return get_value(self._call, lib.shale_reader_get, key, default)

    def scan(self, start: Optional[bytes] = None, end: Optional[bytes] = None) -> ScanIterator:
        """Iterates (key, value) over [start, end) in byte order; None is an open bound."""
        return _ReaderIterator(self, start, end)

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the reader (idempotent). Waits for calls running on other threads."""
        if not self._guard.close():
            return
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            status = lib.shale_reader_close(ptr)
            if status != OK:
                raise_status(status)

    @property
    def checkpoint_id(self) -> Optional[str]:
        """The id of the checkpoint read, or None for the latest durable state."""
        return self._checkpoint_id

    def __repr__(self) -> str:
        at = self._checkpoint_id or "latest"
        state = "closed" if self.closed else "open"
        return f"<shale.Reader {self._location!r} at {at} {state}>"

    def __reduce__(self) -> Any:
        raise TypeError("shale.Reader cannot be pickled")


class _ReaderIterator(ScanIterator):
    """A ScanIterator over a Reader: `__next__`, `close` and freeing are ScanIterator's,
    which reach the reader through its `_call_raw` exactly as they reach a DB."""

    __slots__ = ()

    def __init__(self, reader: Reader, start: Optional[bytes], end: Optional[bytes]) -> None:
        self._ptr: Optional[int] = None
        self._snapshot = None
        self._lock = threading.Lock()
        self._db = reader  # type: ignore[assignment]
        bounds = scan_bounds(start, end)
        out = c_void_p()
        status = reader._call(lib.shale_reader_scan, *bounds, byref(out))
        if status != OK:
            raise_status(status)  # NOT_FOUND: not expected from a scan
        self._ptr = out.value


__all__ = ["Reader"]
