"""Lifetime of C handles under Python threads.

ctypes releases the GIL during every C call, so a handle can be in use on one thread while
another thread closes it. Two rules keep that from becoming a use-after-free:

* `Guard` (database handles): every call enters the guard; `close()` marks it closed at
  once (later calls raise ClosedError) and waits for the calls in flight before freeing.
* `Ref` (snapshots, batches): users pin the handle; `close()` marks it closed at once and
  the handle is freed when the last pin goes. Iterators hold a pin on their snapshot for
  their whole life, so releasing a snapshot never pulls it out from under an iterator.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional, Union

from .errors import ClosedError, InvalidArgumentError

#: A database location: a directory path (str, bytes or os.PathLike), "file:///dir" or
#: "memory://name".
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def location_bytes(location: PathLike, what: str = "location") -> bytes:
    """The location as the NUL-terminated bytes C expects. A NUL inside would silently cut
    the string on the C side (and could name another place), so it is refused."""
    loc = os.fspath(location)
    raw = os.fsencode(loc) if isinstance(loc, str) else loc
    if b"\0" in raw:
        raise InvalidArgumentError(f"{what} contains a NUL byte: {loc!r}")
    return raw


def as_bytes(data: Any, what: str) -> bytes:
    """Keys and values are bytes. bytearray/memoryview are copied; str is refused."""
    if type(data) is bytes:
        return data
    if isinstance(data, bytes):
        return bytes(data)
    if isinstance(data, str):
        raise TypeError(f"{what} must be bytes, not str (encode it first)")
    try:
        return memoryview(data).tobytes()
    except TypeError:
        raise TypeError(f"{what} must be bytes, not {type(data).__name__}") from None


def as_optional_bytes(data: Any, what: str) -> Optional[bytes]:
    return None if data is None else as_bytes(data, what)


class Guard:
    """Counts calls in flight on a handle; close waits for them."""

    __slots__ = ("_cond", "_users", "_closed", "_what")

    def __init__(self, what: str) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._users = 0
        self._closed = False
        self._what = what

    @property
    def closed(self) -> bool:
        return self._closed

    def enter(self) -> None:
        with self._cond:
            if self._closed:
                raise ClosedError(f"{self._what} is closed")
            self._users += 1

    def exit(self) -> None:
        with self._cond:
            self._users -= 1
            if self._closed and self._users == 0:
                self._cond.notify_all()

    def close(self) -> bool:
        """Marks closed and waits until no call is in flight. False if already closed."""
        with self._cond:
            if self._closed:
                return False
            self._closed = True
            while self._users:
                self._cond.wait()
            return True


class Ref:
    """An owned C pointer freed (by `free`) once closed and no longer pinned."""

    __slots__ = ("_lock", "_ptr", "_pins", "_closed", "_free", "_what")

    def __init__(self, ptr: int, free: Callable[[int], None], what: str) -> None:
        # Reentrant: a garbage-collected iterator may unpin from inside a pin on this thread.
        self._lock = threading.RLock()
        self._ptr: Optional[int] = ptr
        self._pins = 0
        self._closed = False
        self._free = free
        self._what = what

    @property
    def closed(self) -> bool:
        return self._closed

    def pin(self) -> int:
        with self._lock:
            if self._closed or self._ptr is None:
                raise ClosedError(f"{self._what} is closed")
            self._pins += 1
            return self._ptr

    def unpin(self) -> None:
        ptr = None
        with self._lock:
            self._pins -= 1
            if self._closed and self._pins == 0:
                ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._free(ptr)

    def close(self) -> None:
        ptr = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pins == 0:
                ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._free(ptr)
