"""Shale: an embedded LSM key-value store (Python binding over libshale.so via ctypes).

import shale
with shale.open("/tmp/db", wal_sync="always") as db:
    db[b"k"] = b"v"
    for key, value in db.scan(b"a", b"z"):
        ...
    cp = db.checkpoint("before-import", lifetime=3600)

with shale.Reader("/tmp/db", cp) as r:           # exactly the checkpoint's data
    r.get(b"k")
shale.clone("/tmp/db", cp.id, "/tmp/copy")       # a new, independent database
shale.restore("/tmp/db", cp)                     # roll back (the database must be closed)
"""

from __future__ import annotations

from ._lib import HEADER_VERSION, library_path
from ._lib import lib as _lib_handle
from .batch import Batch
from .checkpoint import (
    Checkpoint,
    checkpoints,
    clone,
    delete_checkpoint,
    refresh_checkpoint,
    restore,
)
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
from .reader import Reader
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
    "Checkpoint",
    "Reader",
    "open",
    "checkpoints",
    "refresh_checkpoint",
    "delete_checkpoint",
    "restore",
    "clone",
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
