"""Exceptions: one class per status code of shale.h, all under `shale.Error`.

What the caller should do, per shale.h: retry (BusyError, StorageIOError), reopen
(ClosedError, FencedError), stop and investigate (CorruptionError), fix the call
(InvalidArgumentError).
"""

from __future__ import annotations

from typing import Dict, NoReturn, Optional, Type

OK = 0
NOT_FOUND = 1
INVALID_ARGUMENT = 2
IO_ERROR = 3
CORRUPTION = 4
CLOSED = 5
FENCED = 6
BUSY = 7
NOT_SUPPORTED = 8
INTERNAL = 9

_NAMES = {
    OK: "OK",
    NOT_FOUND: "NOT_FOUND",
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    IO_ERROR: "IO_ERROR",
    CORRUPTION: "CORRUPTION",
    CLOSED: "CLOSED",
    FENCED: "FENCED",
    BUSY: "BUSY",
    NOT_SUPPORTED: "NOT_SUPPORTED",
    INTERNAL: "INTERNAL",
}


def status_name(status: int) -> str:
    """ "OK", "NOT_FOUND", ... for a status code; "UNKNOWN" for other numbers."""
    return _NAMES.get(status, "UNKNOWN")


class Error(Exception):
    """A Shale call failed. `status` is the C status code, `status_name` its name."""

    status: int = -1

    def __init__(self, message: str = "", status: Optional[int] = None) -> None:
        if status is not None:
            self.status = status
        self.message = message or self.status_name
        # A single argument keeps OSError subclasses from reading (errno, strerror) out of it.
        super().__init__(self.message)

    @property
    def status_name(self) -> str:
        return status_name(self.status)

    def __str__(self) -> str:
        return self.message


class NotFoundError(Error):
    """No such database (open with create_if_missing=False). Absent keys are not errors."""

    status = NOT_FOUND


class InvalidArgumentError(Error, ValueError):
    """Fix the call: empty or oversized key, oversized value, bad option."""

    status = INVALID_ARGUMENT


class StorageIOError(Error, OSError):
    """Storage failed (disk full, EIO); retry later or reopen."""

    status = IO_ERROR


class CorruptionError(Error):
    """A file failed its checksums; stop and investigate."""

    status = CORRUPTION


class ClosedError(Error):
    """The database (or the snapshot, batch, iterator) was closed; reopen."""

    status = CLOSED


class FencedError(Error):
    """Another writer took over this database; reopen."""

    status = FENCED


class BusyError(Error):
    """The resource is in use; retry."""

    status = BUSY


class NotSupportedError(Error):
    """Not available in this build or for this location."""

    status = NOT_SUPPORTED


class InternalError(Error):
    """A bug in Shale; please report it."""

    status = INTERNAL


_CLASSES: Dict[int, Type[Error]] = {
    cls.status: cls
    for cls in (
        NotFoundError,
        InvalidArgumentError,
        StorageIOError,
        CorruptionError,
        ClosedError,
        FencedError,
        BusyError,
        NotSupportedError,
        InternalError,
    )
}


def error_for(status: int, message: str = "") -> Error:
    """The exception for a status code (plain `Error` for a number shale.h does not know)."""
    cls = _CLASSES.get(status)
    if cls is None:
        return Error(message or f"status {status}", status=status)
    return cls(message)


def raise_status(status: int) -> NoReturn:
    """Raises the exception for a failed call. Call it right after the failing C call, on
    the same thread: it reads the thread's shale_errmsg()."""
    from ._lib import lib

    raw = lib.shale_errmsg()
    message = raw.decode("utf-8", errors="replace") if raw else ""
    raise error_for(status, message)


def check(status: int) -> None:
    """Raises unless status is OK."""
    if status != OK:
        raise_status(status)
