"""Model-based test of checkpoints: random writes, checkpoints (sync and async), deletes,
refreshes, restores, clones, readers and reopens, checked against one dict per live
checkpoint. Every reader at a live checkpoint must return exactly that checkpoint's dict.

A 64 KiB memtable and an eager garbage collector (50 ms, no minimum age) make flushes,
compactions and file deletion happen within a run. The run is bounded by
SHALE_CHECKPOINT_MODEL_EXAMPLES (default 35 examples of 40 steps, ~50 s)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Dict, List, Optional, Set, Tuple

import hypothesis.strategies as st
from hypothesis import note, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

import shale

OPTIONS = {
    "memtable_bytes": "64KiB",
    "sst_target_bytes": "256KiB",
    "l0_compaction_trigger": 2,
    "gc_interval_ms": 50,
    "gc_min_age_ms": 0,
}

keys = st.binary(min_size=1, max_size=3).map(lambda b: bytes(c % 7 for c in b))
small_values = st.binary(max_size=30)
big_values = st.integers(min_value=2000, max_value=9000).map(lambda n: bytes([n % 251]) * n)
values = st.one_of(small_values, small_values, big_values)
names = st.one_of(st.none(), st.text(st.characters(blacklist_characters="\0"), max_size=20))
lifetimes = st.one_of(st.none(), st.just(3600), st.just(86400.5))

Model = Dict[bytes, bytes]


class CheckpointModel(RuleBasedStateMachine):
    checkpoints = Bundle("checkpoints")

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="shale-cpmodel-")
        self.path = os.path.join(self.dir, "db")
        self.db: shale.DB = shale.open(self.path, **OPTIONS)
        self.model: Model = {}
        self.live: Dict[str, Model] = {}  # durable, listed checkpoints
        self.pending: Dict[str, Model] = {}  # wait=False: durable at the next flush or close
        self.deleted: Set[str] = set()
        self.readers: List[Tuple[shale.Reader, str, Model]] = []  # long-lived readers
        self.clones: List[Tuple[str, Model]] = []
        self.bulk_round = 0

    def teardown(self) -> None:
        try:
            for reader, _, _ in self.readers:
                reader.close()
            self.db.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _settle_pending(self) -> None:
        self.live.update(self.pending)
        self.pending.clear()

    # -- writes --------------------------------------------------------------------------

    @rule(key=keys, value=values)
    def put(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value)
        self.model[key] = value

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self.db.delete(key)
        self.model.pop(key, None)

    @rule(n=st.integers(min_value=50, max_value=400))
    def bulk(self, n: int) -> None:
        """Enough data to fill memtables: flushes and compactions follow."""
        self.bulk_round += 1
        with self.db.batch() as b:
            for i in range(n):
                key = b"bulk%04d" % (i * 13 % 500)
                value = b"%d:%d:" % (self.bulk_round, i) + b"x" * 400
                b.put(key, value)
                self.model[key] = value

    @rule()
    def flush(self) -> None:
        self.db.flush()
        self._settle_pending()

    @rule()
    def reopen(self) -> None:
        self.db.close()
        self._settle_pending()
        self.db = shale.open(self.path, **OPTIONS)
        note("reopened")

    # -- checkpoints -----------------------------------------------------------------------

    @rule(target=checkpoints, name=names, lifetime=lifetimes, wait=st.booleans())
    def create(self, name: Optional[str], lifetime: Optional[float], wait: bool) -> str:
        if name is not None and len(name.encode("utf-8")) > 63:
            name = name[:10]
        cp = self.db.checkpoint(name, lifetime=lifetime, wait=wait)
        assert cp.name == (name or None)
        if wait:
            assert cp.created is not None
            assert (cp.expires is None) == (lifetime is None)
            self.live[cp.id] = dict(self.model)
        else:
            self.pending[cp.id] = dict(self.model)
        note(f"checkpoint {cp.id} wait={wait}: {len(self.model)} keys")
        return cp.id

    @rule(cp=checkpoints, lifetime=lifetimes)
    def refresh(self, cp: str, lifetime: Optional[float]) -> None:
        if cp in self.pending:
            return  # not necessarily listed yet
        if cp in self.deleted:
            try:
                shale.refresh_checkpoint(self.path, cp, lifetime)
            except shale.NotFoundError:
                return
            raise AssertionError(f"refresh of deleted checkpoint {cp} succeeded")
        shale.refresh_checkpoint(self.path, cp, lifetime)
        listed = {c.id: c for c in self.db.checkpoints()}
        assert (listed[cp].expires is None) == (lifetime is None)

    @rule(cp=consumes(checkpoints))
    def delete_checkpoint(self, cp: str) -> None:
        if cp in self.pending:
            self.db.flush()
            self._settle_pending()
        # Readers at it are closed first: a deleted checkpoint no longer pins its files.
        for reader, _, _ in [r for r in self.readers if r[1] == cp]:
            reader.close()
        self.readers = [r for r in self.readers if r[1] != cp]
        shale.delete_checkpoint(self.path, cp)
        del self.live[cp]
        self.deleted.add(cp)

    @rule(cp=checkpoints)
    def read_checkpoint(self, cp: str) -> None:
        if cp not in self.live:
            return
        with shale.Reader(self.path, cp) as r:
            assert dict(r.scan()) == self.live[cp], f"reader at {cp}"
            for key in list(self.live[cp])[:3]:
                assert r[key] == self.live[cp][key]

    @precondition(lambda self: len(self.readers) < 4)
    @rule(cp=checkpoints)
    def open_reader(self, cp: str) -> None:
        if cp in self.live:
            self.readers.append((shale.Reader(self.path, cp), cp, self.live[cp]))

    @rule(cp=checkpoints)
    def restore(self, cp: str) -> None:
        if cp not in self.live and cp not in self.pending:
            return
        self.db.close()
        self._settle_pending()
        before = {c.id for c in shale.checkpoints(self.path)}
        shale.restore(self.path, cp)
        after = shale.checkpoints(self.path)
        new = [c for c in after if c.id not in before]
        assert len(new) == 1 and (new[0].name or "").startswith("pre-restore-"), new
        # The state before the restore is a checkpoint now; restoring it undoes this.
        self.live[new[0].id] = self.model
        self.model = dict(self.live[cp])
        self.db = shale.open(self.path, **OPTIONS)
        note(f"restored {cp}; pre-restore checkpoint {new[0].id}")

    @precondition(lambda self: len(self.clones) < 3)
    @rule(cp=st.one_of(st.none(), checkpoints))
    def clone(self, cp: Optional[str]) -> None:
        if cp is not None and cp not in self.live:
            return
        if cp is None:
            self.db.flush()  # the latest durable state is then the model
            self._settle_pending()
        dest = os.path.join(self.dir, "clone%d" % len(self.clones))
        shale.clone(self.path, cp, dest)
        expected = dict(self.model if cp is None else self.live[cp])
        self.clones.append((dest, expected))
        with shale.Reader(dest) as r:
            assert dict(r.scan()) == expected

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def listed(self) -> None:
        ids = [c.id for c in shale.checkpoints(self.path)]
        assert len(ids) == len(set(ids)), ids
        assert set(self.live) <= set(ids), set(self.live) - set(ids)
        assert not (self.deleted & set(ids)), self.deleted & set(ids)
        assert set(ids) <= set(self.live) | set(self.pending), set(ids)

    @invariant()
    def readers_unchanged(self) -> None:
        for reader, cp, expected in self.readers:
            assert dict(reader.scan()) == expected, f"long-lived reader at {cp}"

    @invariant()
    def contents(self) -> None:
        assert dict(self.db.scan()) == self.model

    def check_clones(self) -> None:
        for dest, expected in self.clones:
            with shale.Reader(dest) as r:
                assert dict(r.scan()) == expected, f"clone {dest}"

    @invariant()
    def clones_unchanged(self) -> None:
        if self.clones and self.bulk_round % 2 == 0:
            self.check_clones()


CheckpointModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("SHALE_CHECKPOINT_MODEL_EXAMPLES", "35")),
    stateful_step_count=40,
    deadline=None,
    derandomize=False,
    print_blob=True,
    database=None,
)

test_checkpoint_model = CheckpointModel.TestCase
