"""Checkpoints: durable, named references to one state of a database; restore and clone.

A checkpoint copies nothing: it pins the tables of one manifest version and the WAL range
holding the writes not yet in tables. `DB.checkpoint()` takes one from an open database; the
module-level functions work on a database's location, open or closed, from any process.

Lifetimes are seconds (int or float) or a `datetime.timedelta`, sent to C as milliseconds;
`None` means the checkpoint never expires. Checkpoint ids are UUID strings; every function
taking one also accepts a `Checkpoint`.
"""

from __future__ import annotations

import ctypes
import math
from ctypes import byref, c_size_t, c_void_p
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, List, Optional, Union

from ._handle import PathLike, location_bytes
from ._lib import CHECKPOINT_ID_BYTES, CheckpointInfo, lib
from .errors import NOT_FOUND, OK, InvalidArgumentError, NotFoundError, raise_status

if TYPE_CHECKING:
    from .db import DB

#: A lifetime: seconds (int or float) or a timedelta; None = never expires.
Lifetime = Union[int, float, timedelta, None]

#: Longest checkpoint name in bytes (UTF-8); longer is InvalidArgumentError.
MAX_NAME_BYTES = 63


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc)


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a database, as listed by `checkpoints()`.

    `created` and `expires` are timezone-aware UTC datetimes; `expires` is None when the
    checkpoint never expires. A record returned by `DB.checkpoint(wait=False)` holds only
    `id` and `name` (the other fields are None): the checkpoint is durable, and listed, after
    the next `DB.flush()` or `DB.close()`.
    """

    id: str
    name: Optional[str] = None
    manifest_id: Optional[int] = None
    sequence: Optional[int] = None
    created: Optional[datetime] = None
    expires: Optional[datetime] = None

    @property
    def expired(self) -> bool:
        """True once the expiry time has passed (never for a checkpoint without one)."""
        return self.expires is not None and self.expires <= datetime.now(timezone.utc)

    def __str__(self) -> str:
        return self.id

    @classmethod
    def _from_info(cls, info: CheckpointInfo) -> "Checkpoint":
        name = info.name.decode("utf-8", errors="replace")
        return cls(
            id=info.id.decode("ascii", errors="replace"),
            name=name or None,
            manifest_id=int(info.manifest_id),
            sequence=int(info.sequence),
            created=_utc(info.create_time_ms),
            expires=_utc(info.expire_time_ms) if info.expire_time_ms else None,
        )


CheckpointRef = Union[str, Checkpoint]


def lifetime_ms(lifetime: Lifetime) -> int:
    """Milliseconds for C: 0 for None (never expires), else at least 1 (rounded up)."""
    if lifetime is None:
        return 0
    if isinstance(lifetime, timedelta):
        seconds = lifetime.total_seconds()
    elif isinstance(lifetime, (int, float)) and not isinstance(lifetime, bool):
        seconds = float(lifetime)
    else:
        raise TypeError(
            f"lifetime must be seconds (int, float), a timedelta or None, "
            f"not {type(lifetime).__name__}"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgumentError(f"lifetime must be positive, not {lifetime!r}")
    ms = math.ceil(seconds * 1000.0)
    if ms >= 1 << 63:
        raise InvalidArgumentError(f"lifetime {lifetime!r} is too long")
    return ms


def checkpoint_id_bytes(checkpoint: CheckpointRef) -> bytes:
    """The id of a Checkpoint or id string, as C text. Malformed ids are left to the
    library (InvalidArgumentError), except a NUL, which C would silently cut at."""
    if isinstance(checkpoint, Checkpoint):
        checkpoint = checkpoint.id
    if not isinstance(checkpoint, str):
        raise TypeError(
            f"checkpoint must be an id (str) or a shale.Checkpoint, not {type(checkpoint).__name__}"
        )
    raw = checkpoint.encode("utf-8")
    if b"\0" in raw:
        raise InvalidArgumentError(f"checkpoint id contains a NUL byte: {checkpoint!r}")
    return raw


def check_checkpoint_call(status: int, location: bytes, ident: Optional[bytes]) -> None:
    """`check()`, with a message naming the checkpoint for NOT_FOUND (which carries none)."""
    if status == OK:
        return
    if status == NOT_FOUND:
        raw = lib.shale_errmsg()
        message = raw.decode("utf-8", errors="replace") if raw else ""
        if not message:
            where = location.decode("utf-8", errors="replace")
            message = (
                f"no checkpoint {ident.decode('utf-8', errors='replace')} in {where}"
                if ident is not None
                else f"no database at {where}"
            )
        raise NotFoundError(message)
    raise_status(status)


def _name_bytes(name: Optional[str]) -> Optional[bytes]:
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"name must be str or None, not {type(name).__name__}")
    raw = name.encode("utf-8")
    if b"\0" in raw:
        raise InvalidArgumentError(f"checkpoint name contains a NUL byte: {name!r}")
    return raw  # the length limit is the library's to enforce


def create(db: "DB", name: Optional[str], lifetime: Lifetime, wait: bool) -> Checkpoint:
    """`DB.checkpoint()`."""
    raw_name = _name_bytes(name)
    ms = lifetime_ms(lifetime)
    out = ctypes.create_string_buffer(CHECKPOINT_ID_BYTES)
    db._check(lib.shale_checkpoint_create, raw_name, ms, 1 if wait else 0, out)
    ident = out.value.decode("ascii")
    partial = Checkpoint(id=ident, name=name or None)
    if not wait:
        return partial
    for cp in checkpoints(db.location):
        if cp.id == ident:
            return cp
    # Durable, but already gone: deleted by another process between the two calls.
    return partial


def checkpoints(location: PathLike) -> List[Checkpoint]:
    """The checkpoints of the database at location (open or closed, in any process), in
    creation order."""
    out, count = c_void_p(), c_size_t()
    loc = location_bytes(location)
    check_checkpoint_call(lib.shale_checkpoint_list(loc, byref(out), byref(count)), loc, None)
    if not out.value:
        return []
    try:
        entries = (CheckpointInfo * count.value).from_address(out.value)
        return [Checkpoint._from_info(info) for info in entries]
    finally:
        lib.shale_free(out)


def refresh_checkpoint(
    location: PathLike, checkpoint: CheckpointRef, lifetime: Lifetime = None
) -> None:
    """Sets the checkpoint to expire `lifetime` from now (None: never). NotFoundError for an
    unknown or expired id. Works beside a live writer."""
    loc, ident = location_bytes(location), checkpoint_id_bytes(checkpoint)
    status = lib.shale_checkpoint_refresh(loc, ident, lifetime_ms(lifetime))
    check_checkpoint_call(status, loc, ident)


def delete_checkpoint(location: PathLike, checkpoint: CheckpointRef) -> None:
    """Deletes the checkpoint (its files become garbage). NotFoundError for an unknown id."""
    loc, ident = location_bytes(location), checkpoint_id_bytes(checkpoint)
    check_checkpoint_call(lib.shale_checkpoint_delete(loc, ident), loc, ident)


def restore(location: PathLike, checkpoint: CheckpointRef) -> None:
    """Rolls the database at location back to the checkpoint, atomically. The state before
    is kept as a checkpoint named "pre-restore-<unix ms>" (restore it to undo), and every
    other checkpoint survives. BusyError while the database is open in this process; a
    writer in another process is fenced (FencedError on its next write)."""
    loc, ident = location_bytes(location), checkpoint_id_bytes(checkpoint)
    check_checkpoint_call(lib.shale_restore(loc, ident), loc, ident)


def clone(source: PathLike, checkpoint: Optional[CheckpointRef], destination: PathLike) -> None:
    """Makes a new, independent database at destination from the checkpoint (None: the
    latest durable state of source). The destination must not exist and must not be inside
    the source (InvalidArgumentError)."""
    src = location_bytes(source, "source")
    ident = None if checkpoint is None else checkpoint_id_bytes(checkpoint)
    dest = location_bytes(destination, "destination")
    check_checkpoint_call(lib.shale_clone(src, ident, dest), src, ident)
