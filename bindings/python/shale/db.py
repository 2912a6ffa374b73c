"""The database handle and `shale.open()`."""

from __future__ import annotations

import json
import os
from ctypes import byref, c_void_p
from typing import Any, Dict, List, Optional, TypeVar, Union, overload

from ._handle import (
    Guard,
    GuardedHandle,
    KeyLookup,
    PathLike,
    as_bytes,
    get_value,
    location_bytes,
)
from ._lib import lib, take_string
from .batch import Batch
from .checkpoint import Checkpoint, Lifetime, checkpoints, create
from .errors import NOT_FOUND, OK, check, raise_status
from .iterator import ScanIterator
from .snapshot import Snapshot

_T = TypeVar("_T")

OptionValue = Union[str, bool, int]


def _option_text(key: str, value: OptionValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"option {key!r} must be str, bool or int, not {type(value).__name__}")


class DB(GuardedHandle, KeyLookup):
    """An open Shale database. Make one with `shale.open()`.

    Keys and values are bytes. The handle may be shared by threads. Closing it (explicitly,
    at the end of a `with` block, or when garbage collected) makes every acknowledged write
    durable; any use afterwards raises ClosedError.
    """

    __slots__ = ("_ptr", "_guard", "_location", "__weakref__")

    def __init__(self, location: PathLike, **options: OptionValue) -> None:
        self._ptr: Optional[int] = None
        self._guard = Guard("database")
        self._location = os.fsdecode(os.fspath(location))
        loc = location_bytes(location)
        opts = lib.shale_options_new()
        if not opts:
            raise MemoryError("shale_options_new failed")
        try:
            for key, value in options.items():
                check(
                    lib.shale_options_set(
                        opts, key.encode("utf-8"), _option_text(key, value).encode("utf-8")
                    )
                )
            out = c_void_p()
            check(lib.shale_open(loc, opts, byref(out)))
        finally:
            lib.shale_options_free(opts)
        self._ptr = out.value

    # -- plumbing shared with Snapshot, ScanIterator, Batch and future modules ----------------

    # `_call_raw(fn, *args)` and `_call(fn, *args)` (= `_call_raw(fn, db, *args)`) come from
    # GuardedHandle.

    def _check(self, fn: Any, *args: Any) -> None:
        """Calls fn(db, *args) and raises on any status other than OK (NOT_FOUND included)."""
        if self._call(fn, *args) != OK:
            raise_status(NOT_FOUND)

    # -- reads and writes ---------------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        """Writes one key (durable on return with wal_sync="always")."""
        key = as_bytes(key, "key")
        value = as_bytes(value, "value")
        self._check(lib.shale_put, key, len(key), value, len(value))

    def delete(self, key: bytes) -> None:
        """Deletes a key; deleting an absent key is fine."""
        key = as_bytes(key, "key")
        self._check(lib.shale_delete, key, len(key))

    @overload
    def get(self, key: bytes) -> Optional[bytes]: ...
    @overload
    def get(self, key: bytes, default: _T) -> Union[bytes, _T]: ...

    def get(self, key: bytes, default: object = None) -> object:
        """The value of key, or default when absent."""
        return get_value(self._call, lib.shale_get, key, default)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.put(key, value)

    def __delitem__(self, key: bytes) -> None:
        # Deleting an absent key is not an error in Shale, and checking first would race.
        self.delete(key)

    def scan(self, start: Optional[bytes] = None, end: Optional[bytes] = None) -> ScanIterator:
        """Iterates (key, value) over [start, end) in byte order; None is an open bound."""
        return ScanIterator(self, None, start, end)

    def batch(self) -> Batch:
        """A batch written atomically when its `with` block ends cleanly."""
        self._check_open()  # ClosedError now rather than at the end of the block
        return Batch(self)

    def write(self, batch: Batch) -> None:
        """Applies every operation of the batch or none. The batch is left unchanged."""
        if not isinstance(batch, Batch):
            raise TypeError(f"write() needs a shale.Batch, not {type(batch).__name__}")
        ptr = batch._pin()
        try:
            self._check(lib.shale_write, ptr)
        finally:
            batch._unpin()

    def snapshot(self) -> Snapshot:
        """Pins the current state for reads (`get`, `scan`)."""
        return Snapshot(self)

    def flush(self) -> None:
        """Makes everything acknowledged so far durable on storage now."""
        self._check(lib.shale_flush)

    def checkpoint(
        self, name: Optional[str] = None, lifetime: Lifetime = None, wait: bool = True
    ) -> Checkpoint:
        """Creates a checkpoint holding every write acknowledged before the call.

        name: at most 63 bytes of UTF-8 (names need not be unique). lifetime: seconds or a
        timedelta; None never expires. wait=True returns once the checkpoint is on storage,
        with its full record. wait=False returns at once a `Checkpoint` holding only `id` and
        `name` (the other fields None): it becomes durable, and listed by `checkpoints()`, at
        the next `flush()` or `close()`.
        """
        return create(self, name, lifetime, wait)

    def checkpoints(self) -> List[Checkpoint]:
        """The checkpoints of this database, in creation order (`shale.checkpoints()`)."""
        self._check_open()  # ClosedError for a closed handle, like every other method
        return checkpoints(self._location)

    def stats(self) -> Dict[str, Any]:
        """Counters and state of the database."""
        out = c_void_p()
        self._check(lib.shale_stats_json, byref(out))
        text = take_string(out)
        result = json.loads(text) if text else {}
        if not isinstance(result, dict):
            raise TypeError(f"shale_stats_json returned {type(result).__name__}, not an object")
        return result

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Makes acknowledged writes durable and frees the handle. Idempotent. Waits for calls
        running on other threads. Raises the first error met; the handle is gone either way."""
        if not self._guard.close():
            return
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            check(lib.shale_close(ptr))

    def __repr__(self) -> str:
        return f"<shale.DB {self._location!r} {'closed' if self.closed else 'open'}>"

    def __reduce__(self) -> Any:
        raise TypeError("shale.DB cannot be pickled")


def open(location: PathLike, **options: OptionValue) -> DB:
    """Opens (creating if allowed) the database at location: a directory path,
    "file:///dir" or "memory://name". Options are shale.h option keys, e.g.
    `shale.open(path, wal_sync="always", memtable_bytes="4MiB", create_if_missing=False)`.
    """
    return DB(location, **options)
