"""Model-based test: random operations on a database, checked against a Python dict.

A small memtable (64 KiB) makes flushes to tables and compactions happen within a run.
Hypothesis prints the failing example and a reproduction blob (`@reproduce_failure`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

import hypothesis.strategies as st
from hypothesis import note, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

import shale

OPTIONS = {"memtable_bytes": "64KiB", "sst_target_bytes": "256KiB", "l0_compaction_trigger": 2}

# Few distinct keys so writes collide; NUL and 0xff bytes included on purpose.
keys = (
    st.binary(min_size=1, max_size=3)
    .map(lambda b: bytes(c % 6 for c in b))
    .map(lambda b: b.replace(b"\x05", b"\xff"))
)
small_values = st.binary(max_size=40)
big_values = st.integers(min_value=1000, max_value=6000).map(lambda n: bytes([n % 251]) * n)
values = st.one_of(small_values, small_values, big_values)
bounds = st.one_of(st.none(), keys)


def model_scan(
    model: Dict[bytes, bytes], start: Optional[bytes], end: Optional[bytes]
) -> List[Tuple[bytes, bytes]]:
    return sorted(
        (k, v)
        for k, v in model.items()
        if (start is None or k >= start) and (end is None or k < end)
    )


class ShaleModel(RuleBasedStateMachine):
    snapshots = Bundle("snapshots")

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="shale-model-")
        self.path = self.dir + "/db"
        self.db = shale.open(self.path, **OPTIONS)
        self.model: Dict[bytes, bytes] = {}
        self.live: Dict[int, Tuple[shale.Snapshot, Dict[bytes, bytes]]] = {}
        self.next_snapshot = 0

    def teardown(self) -> None:
        try:
            for snap, _ in self.live.values():
                snap.release()
            self.db.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    @rule(key=keys, value=values)
    def put(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value)
        self.model[key] = value

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self.db.delete(key)
        self.model.pop(key, None)

    @rule(key=keys)
    def get(self, key: bytes) -> None:
        assert self.db.get(key) == self.model.get(key)

    @rule(ops=st.lists(st.tuples(keys, st.one_of(st.none(), values)), max_size=12))
    def batch(self, ops: List[Tuple[bytes, Optional[bytes]]]) -> None:
        with self.db.batch() as b:
            for key, value in ops:
                if value is None:
                    b.delete(key)
                else:
                    b.put(key, value)
        for key, value in ops:
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule(ops=st.lists(st.tuples(keys, values), min_size=1, max_size=5))
    def aborted_batch(self, ops: List[Tuple[bytes, bytes]]) -> None:
        try:
            with self.db.batch() as b:
                for key, value in ops:
                    b.put(key, value)
                raise KeyboardInterrupt  # any exception discards the batch
        except KeyboardInterrupt:
            pass

    @rule(start=bounds, end=bounds)
    def scan(self, start: Optional[bytes], end: Optional[bytes]) -> None:
        assert list(self.db.scan(start, end)) == model_scan(self.model, start, end)

    @rule(target=snapshots)
    def take_snapshot(self) -> int:
        n = self.next_snapshot
        self.next_snapshot += 1
        self.live[n] = (self.db.snapshot(), dict(self.model))
        return n

    @rule(n=snapshots, key=keys, start=bounds, end=bounds)
    def check_snapshot(
        self, n: int, key: bytes, start: Optional[bytes], end: Optional[bytes]
    ) -> None:
        if n not in self.live:
            return
        snap, frozen = self.live[n]
        assert snap.get(key) == frozen.get(key)
        assert list(snap.scan(start, end)) == model_scan(frozen, start, end)

    @rule(n=consumes(snapshots))
    def release_snapshot(self, n: int) -> None:
        if n in self.live:
            snap, _ = self.live.pop(n)
            snap.release()

    @rule()
    def flush(self) -> None:
        self.db.flush()

    @rule()
    def reopen(self) -> None:
        old = list(self.live.values())
        self.db.close()
        for snap, _ in old:
            try:
                snap.get(b"\x00")
            except shale.ClosedError:
                pass
            else:
                raise AssertionError("snapshot of a closed database still reads")
            snap.release()
        self.live.clear()
        self.db = shale.open(self.path, **OPTIONS)
        note(f"reopened {self.path}")

    @invariant()
    def spot_check(self) -> None:
        # Cheap: one key from the model, and one key that must be absent.
        if self.model:
            key = next(iter(self.model))
            assert self.db.get(key) == self.model[key]
        assert self.db.get(b"\x04\x04\x04\x04") is None


ShaleModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("SHALE_MODEL_EXAMPLES", "80")),
    stateful_step_count=50,
    deadline=None,
    derandomize=False,
    print_blob=True,
    database=None,  # keep no example database in the repository
)

test_model = ShaleModel.TestCase


class FinalScanModel(ShaleModel):
    """The same machine, checking the full contents after every step."""

    @invariant()
    def full_scan(self) -> None:
        assert list(self.db.scan()) == model_scan(self.model, None, None)


FinalScanModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("SHALE_MODEL_EXAMPLES", "80")) // 4,
    stateful_step_count=30,
    deadline=None,
    derandomize=False,
    print_blob=True,
    database=None,
)

test_model_full_scan = FinalScanModel.TestCase
