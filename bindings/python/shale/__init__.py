"""Shale: an embedded LSM key-value store (Python binding over libshale.so via ctypes).

import shale
with shale.open("/tmp/db", wal_sync="always") as db:
    db[b"k"] = b"v"
    for key, value in db.scan(b"a", b"z"):
        ...
"""

from __future__ import annotations

from ._lib import HEADER_VERSION, library_path
from ._lib import lib as _lib_handle
from .batch import Batch
from .db import DB, open
from .errors import (
    BusyError,
    ClosedError,
    CorruptionError,
    Error,
    FencedError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    StorageIOError,
    status_name,
)
from .iterator import ScanIterator
from .snapshot import Snapshot

__version__ = "0.1.0"


def version() -> str:
    """The run-time version of libshale, "X.Y.Z"."""
    raw = _lib_handle.shale_version()
    return raw.decode("ascii", errors="replace") if raw else ""


__all__ = [
    "DB",
    "Batch",
    "Snapshot",
    "ScanIterator",
    "open",
    "version",
    "status_name",
    "library_path",
    "HEADER_VERSION",
    "Error",
    "NotFoundError",
    "InvalidArgumentError",
    "StorageIOError",
    "CorruptionError",
    "ClosedError",
    "FencedError",
    "BusyError",
    "NotSupportedError",
    "InternalError",
    "__version__",
]
