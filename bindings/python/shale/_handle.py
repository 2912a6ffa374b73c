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
from ctypes import byref, c_size_t, c_void_p
from types import TracebackType
from typing import Any, Callable, Optional, Tuple, Type, TypeVar, Union

from ._lib import take_buffer
from .errors import NOT_FOUND, OK, ClosedError, InvalidArgumentError, raise_status

_H = TypeVar("_H", bound="GuardedHandle")

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


def scan_bounds(start: Any, end: Any) -> Tuple[Optional[bytes], int, Optional[bytes], int]:
    """The (start, start length, end, end length) arguments of a C scan; None is an open
    bound."""
    start = as_optional_bytes(start, "start")
    end = as_optional_bytes(end, "end")
    return start, 0 if start is None else len(start), end, 0 if end is None else len(end)


def get_value(call: Callable[..., int], fn: Any, key: Any, default: object) -> object:
    """Runs a get-like C call, `call(fn, key, klen, &val, &vlen)`, returning OK or
    NOT_FOUND: the value on OK (the C buffer freed), default on NOT_FOUND."""
    key = as_bytes(key, "key")
    val, vlen = c_void_p(), c_size_t()
    if call(fn, key, len(key), byref(val), byref(vlen)) == OK:
        return take_buffer(val, vlen.value)
    return default


class KeyLookup:
    """`handle[key]` and `key in handle` for classes with `get(key, default=None)`."""

    __slots__ = ()

    def get(self, key: bytes, default: object = None) -> object:
        raise NotImplementedError

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        return self.get(as_bytes(key, "key")) is not None


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


class GuardedHandle:
    """Plumbing shared by the handles guarded by a `Guard` (DB, Reader): subclasses set
    `_ptr`, `_guard` and `_location` and define `close()`.

    A failure's message is read at once, before any other Shale call on this thread (a
    garbage-collected iterator freed in between would be one) can replace it.
    """

    __slots__ = ()

    _ptr: Optional[int]
    _guard: Guard
    _location: str

    def close(self) -> None:
        raise NotImplementedError

    def _call_raw(self, fn: Any, *args: Any) -> int:
        """Calls fn(*args) while holding the handle open. Returns OK or NOT_FOUND; raises
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
        """`_call_raw(fn, handle, *args)`."""
        return self._call_raw(fn, self._ptr, *args)

    def _check_open(self) -> None:
        """Raises ClosedError if the handle is closed."""
        self._guard.enter()
        self._guard.exit()

    @property
    def closed(self) -> bool:
        return self._guard.closed

    @property
    def location(self) -> str:
        return self._location

    def __enter__(self: _H) -> _H:
        self._check_open()
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
