"""Batches: several puts and deletes applied all together or not at all."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, Type

from ._handle import Ref, as_bytes
from ._lib import lib
from .errors import check

if TYPE_CHECKING:
    from .db import DB


class Batch:
    """A list of writes for `DB.write()`. Later operations on the same key win.

    `with db.batch() as b:` writes the batch when the block ends cleanly and discards it
    when the block raises. A batch made with `Batch()` is written with `db.write(batch)`
    and can be written again (it is left unchanged).
    """

    __slots__ = ("_ref", "_db", "__weakref__")

    def __init__(self, db: Optional["DB"] = None) -> None:
        ptr = lib.shale_batch_new()
        if not ptr:
            raise MemoryError("shale_batch_new failed")
        self._ref = Ref(ptr, lib.shale_batch_free, "batch")
        self._db = db

    def put(self, key: bytes, value: bytes) -> None:
        key = as_bytes(key, "key")
        value = as_bytes(value, "value")
        ptr = self._ref.pin()
        try:
            check(lib.shale_batch_put(ptr, key, len(key), value, len(value)))
        finally:
            self._ref.unpin()

    def delete(self, key: bytes) -> None:
        key = as_bytes(key, "key")
        ptr = self._ref.pin()
        try:
            check(lib.shale_batch_delete(ptr, key, len(key)))
        finally:
            self._ref.unpin()

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.put(key, value)

    def __delitem__(self, key: bytes) -> None:
        self.delete(key)

    def clear(self) -> None:
        """Empties the batch so it can be reused."""
        ptr = self._ref.pin()
        try:
            lib.shale_batch_clear(ptr)
        finally:
            self._ref.unpin()

    def __len__(self) -> int:
        """Number of operations in the batch."""
        ptr = self._ref.pin()
        try:
            return int(lib.shale_batch_count(ptr))
        finally:
            self._ref.unpin()

    def close(self) -> None:
        """Frees the batch (idempotent)."""
        self._ref.close()

    @property
    def closed(self) -> bool:
        return self._ref.closed

    def _pin(self) -> int:
        return self._ref.pin()

    def _unpin(self) -> None:
        self._ref.unpin()

    def __enter__(self) -> "Batch":
        self._ref.pin()  # raises ClosedError on a closed batch
        self._ref.unpin()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        try:
            if exc_type is None and self._db is not None:
                self._db.write(self)
        finally:
            self.close()

    def __del__(self) -> None:
        try:
            self._ref.close()
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self)} ops"
        return f"<shale.Batch {state}>"

    def __reduce__(self) -> Any:
        raise TypeError("shale.Batch cannot be pickled")
