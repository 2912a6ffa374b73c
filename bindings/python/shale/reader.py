"""Readers: read-only views of a checkpoint (or of the latest durable state) that can run in
any process beside a live writer."""

from __future__ import annotations

import os
import threading
from ctypes import byref, c_size_t, c_void_p
from types import TracebackType
from typing import Any, Optional, Type, TypeVar, Union, overload

from ._handle import Guard, PathLike, as_bytes, as_optional_bytes, location_bytes
from ._lib import lib, take_buffer
from .checkpoint import CheckpointRef, check_checkpoint_call, checkpoint_id_bytes
from .errors import NOT_FOUND, OK, ClosedError, raise_status
from .iterator import ScanIterator

_T = TypeVar("_T")


class Reader:
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

    # -- the same plumbing as DB's, used by ScanIterator -----------------------------------

    def _call_raw(self, fn: Any, *args: Any) -> int:
        """Calls fn(*args) while holding the reader open. Returns OK or NOT_FOUND; raises
        the matching exception for any other status."""
        self._guard.enter()
        try:
            status: int = fn(*args)
            if status != OK and status != NOT_FOUND:
                raise_status(status)
            return status
        finally:
            self._guard.exit()

    def _call(self, fn: Any, *args: Any) -> int:
        """`_call_raw(fn, reader, *args)`."""
        self._guard.enter()
        try:
            status: int = fn(self._ptr, *args)
            if status != OK and status != NOT_FOUND:
                raise_status(status)
            return status
        finally:
            self._guard.exit()

    # -- reads --------------------------------------------------------------------------------

    @overload
    def get(self, key: bytes) -> Optional[bytes]: ...
    @overload
    def get(self, key: bytes, default: _T) -> Union[bytes, _T]: ...

    def get(self, key: bytes, default: object = None) -> object:
        """The value of key, or default when absent."""
        key = as_bytes(key, "key")
        val, vlen = c_void_p(), c_size_t()
        status = self._call(lib.shale_reader_get, key, len(key), byref(val), byref(vlen))
        if status == OK:
            return take_buffer(val, vlen.value)
        return default

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return self.get(as_bytes(key, "key")) is not None

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
    def closed(self) -> bool:
        return self._guard.closed

    @property
    def location(self) -> str:
        return self._location

    @property
    def checkpoint_id(self) -> Optional[str]:
        """The id of the checkpoint read, or None for the latest durable state."""
        return self._checkpoint_id

    def __enter__(self) -> "Reader":
        if self._guard.closed:
            raise ClosedError("reader is closed")
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
            if self._ptr is not None:
                self.close()
        except Exception:  # errors cannot be reported from here; interpreter shutdown
            pass

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
        start = as_optional_bytes(start, "start")
        end = as_optional_bytes(end, "end")
        out = c_void_p()
        status = reader._call(
            lib.shale_reader_scan,
            start,
            0 if start is None else len(start),
            end,
            0 if end is None else len(end),
            byref(out),
        )
        if status != OK:
            raise_status(status)  # NOT_FOUND: not expected from a scan
        self._ptr = out.value


__all__ = ["Reader"]
