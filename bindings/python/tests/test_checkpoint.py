"""Checkpoints, readers, restore and clone through the Python binding.

The writers here use a 64 KiB memtable, so the data of a checkpoint ends up in tables that
later flushes and compactions replace, and an eager garbage collector (every 50 ms, no
minimum age), so a file a checkpoint still needs would be deleted quickly if it were not
pinned."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator

import pytest

import shale

OPTIONS = {
    "memtable_bytes": "64KiB",
    "l0_compaction_trigger": 2,
    "gc_interval_ms": 50,
    "gc_min_age_ms": 0,
}


def open_db(path: object, **extra: object) -> shale.DB:
    return shale.open(path, **{**OPTIONS, **extra})  # type: ignore[arg-type]


@pytest.fixture
def wdb(db_path: str) -> Iterator[shale.DB]:
    handle = open_db(db_path)
    try:
        yield handle
    finally:
        handle.close()


def fill(db: shale.DB, model: Dict[bytes, bytes], tag: bytes, n: int, size: int = 300) -> None:
    """n puts of `size`-byte values (enough to fill several memtables), recorded in model."""
    for i in range(n):
        key = b"k%05d" % (i * 7 % 2000)
        value = tag + b":" + (b"%d" % i) * (size // 4)
        db.put(key, value)
        model[key] = value


def reader_contents(path: object, checkpoint: object = None) -> Dict[bytes, bytes]:
    with shale.Reader(path, checkpoint) as r:  # type: ignore[arg-type]
        return dict(r.scan())


# -- create / list / refresh / delete -----------------------------------------------------------


def test_create_list_fields(wdb: shale.DB, db_path: str) -> None:
    assert wdb.checkpoints() == []
    wdb[b"a"] = b"1"
    before = datetime.now(timezone.utc)
    first = wdb.checkpoint("first")
    wdb[b"b"] = b"2"
    second = wdb.checkpoint()
    after = datetime.now(timezone.utc)
    assert isinstance(first, shale.Checkpoint)
    assert uuid.UUID(first.id) and first.id != second.id
    assert first.name == "first" and second.name is None
    assert first.expires is None and not first.expired
    assert first.created is not None and first.created.tzinfo is not None
    slack = timedelta(seconds=1)
    assert before - slack <= first.created <= after + slack
    assert first.sequence is not None and second.sequence is not None
    assert second.sequence > first.sequence
    assert first.manifest_id is not None and second.manifest_id is not None
    listed = wdb.checkpoints()
    assert listed == [first, second]  # creation order, same records
    assert shale.checkpoints(db_path) == listed
    assert shale.checkpoints(Path(db_path)) == listed  # os.PathLike
    with pytest.raises(dataclass_frozen_error()):
        first.name = "x"  # type: ignore[misc]


def dataclass_frozen_error() -> type:
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_names(wdb: shale.DB) -> None:
    assert wdb.checkpoint("").name is None
    assert wdb.checkpoint("x" * 63).name == "x" * 63
    assert wdb.checkpoint("dup").name == wdb.checkpoint("dup").name == "dup"
    assert wdb.checkpoint("é" * 31).name == "é" * 31  # 62 bytes of UTF-8
    with pytest.raises(shale.InvalidArgumentError):
        wdb.checkpoint("x" * 64)
    with pytest.raises(shale.InvalidArgumentError):
        wdb.checkpoint("é" * 32)  # 32 characters but 64 bytes
    with pytest.raises(shale.InvalidArgumentError):
        wdb.checkpoint("a\0b")
    with pytest.raises(TypeError):
        wdb.checkpoint(b"bytes")  # type: ignore[arg-type]
    names = [cp.name for cp in wdb.checkpoints()]
    assert names == [None, "x" * 63, "dup", "dup", "é" * 31]


def test_lifetime_and_refresh(wdb: shale.DB, db_path: str) -> None:
    cp = wdb.checkpoint("short", lifetime=30)
    assert cp.expires is not None and cp.created is not None
    assert abs((cp.expires - cp.created) - timedelta(seconds=30)) < timedelta(seconds=1)
    cp2 = wdb.checkpoint(lifetime=timedelta(minutes=2))
    assert cp2.expires is not None and cp2.created is not None
    assert abs((cp2.expires - cp2.created) - timedelta(minutes=2)) < timedelta(seconds=1)
    cp3 = wdb.checkpoint(lifetime=0.25)
    assert cp3.expires is not None and cp3.created is not None
    assert cp3.expires - cp3.created == timedelta(milliseconds=250)

    shale.refresh_checkpoint(db_path, cp.id, None)  # never expires
    shale.refresh_checkpoint(Path(db_path), cp2, 3600)  # a Checkpoint works as the id
    by_id = {c.id: c for c in wdb.checkpoints()}
    assert by_id[cp.id].expires is None
    new_expiry = by_id[cp2.id].expires
    assert new_expiry is not None
    expected = datetime.now(timezone.utc) + timedelta(hours=1)
    assert abs(new_expiry - expected) < timedelta(seconds=5)
    assert by_id[cp.id].created == cp.created  # refresh keeps the rest of the record

    time.sleep(0.4)
    listed = {c.id: c for c in wdb.checkpoints()}
    if cp3.id in listed:  # expired ones may still be listed until GC; they say so
        assert listed[cp3.id].expired
    with pytest.raises(shale.NotFoundError):
        shale.refresh_checkpoint(db_path, cp3.id, 60)  # expired


def test_bad_lifetimes(wdb: shale.DB) -> None:
    for bad in (0, -1, 0.0, timedelta(0), float("nan"), float("inf")):
        with pytest.raises(shale.InvalidArgumentError):
            wdb.checkpoint(lifetime=bad)
    for wrong in (True, "10", b"10"):
        with pytest.raises(TypeError):
            wdb.checkpoint(lifetime=wrong)  # type: ignore[arg-type]
    assert wdb.checkpoints() == []


def test_delete(wdb: shale.DB, db_path: str) -> None:
    keep = wdb.checkpoint("keep")
    gone = wdb.checkpoint("gone")
    shale.delete_checkpoint(db_path, gone)
    assert [c.id for c in wdb.checkpoints()] == [keep.id]
    with pytest.raises(shale.NotFoundError):
        shale.delete_checkpoint(db_path, gone.id)  # twice
    with pytest.raises(shale.NotFoundError):
        shale.delete_checkpoint(db_path, str(uuid.uuid4()))
    with pytest.raises(shale.NotFoundError):
        shale.refresh_checkpoint(db_path, gone.id)
    with pytest.raises(shale.NotFoundError):
        shale.Reader(db_path, gone)


@pytest.mark.parametrize("bad", ["", "nope", "x" * 36, str(uuid.uuid4())[:-1], "a\0b"])
def test_malformed_ids(wdb: shale.DB, db_path: str, tmp_path: Path, bad: str) -> None:
    wdb.checkpoint()
    with pytest.raises(shale.InvalidArgumentError):
        shale.delete_checkpoint(db_path, bad)
    with pytest.raises(shale.InvalidArgumentError):
        shale.refresh_checkpoint(db_path, bad, 10)
    with pytest.raises(shale.InvalidArgumentError):
        shale.Reader(db_path, bad)
    with pytest.raises(shale.InvalidArgumentError):
        shale.clone(db_path, bad, tmp_path / "clone")
    assert not (tmp_path / "clone").exists()
    wdb.close()
    with pytest.raises(shale.InvalidArgumentError):
        shale.restore(db_path, bad)
    with pytest.raises(TypeError):
        shale.delete_checkpoint(db_path, 42)  # type: ignore[arg-type]


def test_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "none"
    with pytest.raises(shale.NotFoundError):
        shale.checkpoints(path)
    with pytest.raises(shale.NotFoundError):
        shale.Reader(path)
    assert not path.exists()


def test_closed_handle(db_path: str) -> None:
    db = open_db(db_path)
    db.close()
    with pytest.raises(shale.ClosedError):
        db.checkpoint()
    with pytest.raises(shale.ClosedError):
        db.checkpoints()


def test_async_checkpoint_listed_after_flush(wdb: shale.DB, db_path: str) -> None:
    wdb[b"a"] = b"1"
    cp = wdb.checkpoint("async", lifetime=60, wait=False)
    assert cp.name == "async" and uuid.UUID(cp.id)
    assert cp.manifest_id is None and cp.created is None and cp.expires is None
    wdb[b"a"] = b"2"  # after the call: not in the checkpoint
    wdb.flush()
    listed = {c.id: c for c in wdb.checkpoints()}
    assert cp.id in listed
    full = listed[cp.id]
    assert full.name == "async" and full.expires is not None
    assert reader_contents(db_path, cp) == {b"a": b"1"}
    wdb.checkpoint(wait=False)
    last = wdb.checkpoint(wait=False)
    wdb.close()  # close makes them durable too
    assert [c.id for c in shale.checkpoints(db_path)][-1] == last.id
    assert reader_contents(db_path, last) == {b"a": b"2"}


# -- readers ---------------------------------------------------------------------------------


def test_reader_api(wdb: shale.DB, db_path: str) -> None:
    wdb[b"a"] = b"1"
    wdb[b"b\0"] = b""
    wdb[b"c"] = b"3"
    cp = wdb.checkpoint()
    wdb[b"a"] = b"changed"
    with shale.Reader(Path(db_path), cp.id) as r:
        assert r.checkpoint_id == cp.id and r.location == db_path
        assert r.get(b"a") == b"1" and r[b"a"] == b"1"
        assert r.get(b"b\0") == b""
        assert r.get(b"zz") is None and r.get(b"zz", b"d") == b"d"
        assert b"c" in r and b"zz" not in r
        with pytest.raises(KeyError):
            r[b"zz"]
        with pytest.raises(TypeError):
            r.get("a")  # type: ignore[arg-type]
        with pytest.raises(shale.InvalidArgumentError):
            r.get(b"")
        assert list(r.scan()) == [(b"a", b"1"), (b"b\0", b""), (b"c", b"3")]
        assert list(r.scan(b"b", b"c")) == [(b"b\0", b"")]
        assert list(r.scan(start=b"b\0")) == [(b"b\0", b""), (b"c", b"3")]
        assert list(r.scan(end=b"b")) == [(b"a", b"1")]
        assert isinstance(r.scan(), shale.ScanIterator)
        it = r.scan()
        assert next(it) == (b"a", b"1")
        assert not r.closed
    assert r.closed
    r.close()  # idempotent
    with pytest.raises(shale.ClosedError):
        r.get(b"a")
    with pytest.raises(shale.ClosedError):
        next(it)  # an iterator of a closed reader
    with pytest.raises(shale.ClosedError):
        r.scan()
    with pytest.raises(shale.ClosedError):
        with r:
            pass


def test_reader_at_checkpoint_is_frozen(db_path: str) -> None:
    model: Dict[bytes, bytes] = {}
    db = open_db(db_path)
    fill(db, model, b"v1", 1500)
    for i in range(0, 2000, 3):
        db.delete(b"k%05d" % i)
        model.pop(b"k%05d" % i, None)
    cp = db.checkpoint("frozen")
    frozen = dict(model)
    long_lived = shale.Reader(db_path, cp)
    assert dict(long_lived.scan()) == frozen

    # Later puts, deletes, flushes and compactions: invisible to the checkpoint.
    fill(db, model, b"v2", 1500)
    for i in range(0, 2000, 5):
        db.delete(b"k%05d" % i)
    db.flush()
    assert reader_contents(db_path, cp) == frozen
    assert dict(long_lived.scan()) == frozen
    db.close()

    # The writer closes, reopens and keeps writing: still the same.
    assert reader_contents(db_path, cp.id) == frozen
    db = open_db(db_path)
    for round_ in range(3):
        fill(db, model, b"r%d" % round_, 1500)
        db.flush()
        time.sleep(0.1)  # give compaction and GC (50 ms interval) their turn
        assert reader_contents(db_path, cp) == frozen
        assert dict(long_lived.scan()) == frozen
    stats = db.stats()
    db.close()
    assert reader_contents(db_path, cp) == frozen
    for key, value in frozen.items():
        assert long_lived[key] == value
    long_lived.close()
    # The checkpoint's data really moved: tables flushed, compacted and collected meanwhile.
    assert stats["flushes"] > 0 and stats["compactions"] > 0, stats
    assert stats["tables_deleted"] > 0, stats


def test_reader_latest_durable_state(db_path: str) -> None:
    model: Dict[bytes, bytes] = {}
    db = open_db(db_path)
    fill(db, model, b"a", 800)
    db.delete(b"k00000")
    model.pop(b"k00000")
    db.flush()
    assert reader_contents(db_path) == model
    with shale.Reader(db_path, None) as r:
        fill(db, model, b"b", 800)  # after the reader opened: not seen by it
        db.flush()
        assert r.get(b"k00007") != model[b"k00007"]
    assert reader_contents(db_path) == model
    db.close()
    assert reader_contents(db_path) == model


# -- restore -----------------------------------------------------------------------------------


def test_restore_busy_when_open(wdb: shale.DB, db_path: str) -> None:
    cp = wdb.checkpoint()
    with pytest.raises(shale.BusyError):
        shale.restore(db_path, cp)
    wdb[b"still"] = b"writable"  # a refused restore leaves the writer alone
    assert wdb[b"still"] == b"writable"


def test_restore_and_undo(db_path: str) -> None:
    db = open_db(db_path)
    old: Dict[bytes, bytes] = {}
    fill(db, old, b"old", 1200)
    cp = db.checkpoint("good")
    new = dict(old)
    fill(db, new, b"new", 1500)
    for i in range(0, 2000, 4):
        db.delete(b"k%05d" % i)
        new.pop(b"k%05d" % i, None)
    later = db.checkpoint("later")
    db.close()

    before = int(time.time() * 1000)
    shale.restore(db_path, cp)
    after = int(time.time() * 1000)
    with open_db(db_path) as db:
        assert dict(db.scan()) == old
    listed = shale.checkpoints(db_path)
    ids = [c.id for c in listed]
    assert cp.id in ids and later.id in ids  # every checkpoint survives
    pre = [c for c in listed if c.name and c.name.startswith("pre-restore-")]
    assert len(pre) == 1, listed
    assert before - 1000 <= int(pre[0].name[len("pre-restore-") :]) <= after + 1000  # type: ignore[index]
    assert reader_contents(db_path, pre[0]) == new
    assert reader_contents(db_path, later) == new

    shale.restore(db_path, pre[0])  # undo
    with open_db(db_path) as db:
        assert dict(db.scan()) == new
        db[b"after-undo"] = b"1"
    assert len([c for c in shale.checkpoints(db_path) if (c.name or "").startswith("pre-")]) == 2
    with open_db(db_path) as db:
        assert db[b"after-undo"] == b"1"


# -- clone -------------------------------------------------------------------------------------


def test_clone_is_independent(db_path: str, tmp_path: Path) -> None:
    db = open_db(db_path)
    data: Dict[bytes, bytes] = {}
    fill(db, data, b"c", 1500)
    cp = db.checkpoint("to-clone")
    dest = tmp_path / "clone"
    shale.clone(db_path, cp, dest)  # while the source is open, PathLike destination
    source_model = dict(data)
    fill(db, source_model, b"after", 1500)
    db.close()
    shale.delete_checkpoint(db_path, cp)
    db = open_db(db_path)
    for round_ in range(3):
        fill(db, source_model, b"s%d" % round_, 1500)
        db.flush()
        time.sleep(0.1)
    db.close()

    assert reader_contents(dest) == data
    assert shale.checkpoints(dest) == [] or all(c.id != cp.id for c in shale.checkpoints(dest))
    with open_db(dest) as clone_db:
        assert dict(clone_db.scan()) == data
        clone_db[b"only-in-clone"] = b"1"
    with open_db(db_path) as db:
        assert dict(db.scan()) == source_model
        assert b"only-in-clone" not in db


def test_clone_latest_state(db_path: str, tmp_path: Path) -> None:
    db = open_db(db_path)
    data: Dict[bytes, bytes] = {}
    fill(db, data, b"x", 900)
    db.flush()
    shale.clone(db_path, None, tmp_path / "latest")
    db.close()
    assert reader_contents(tmp_path / "latest") == data


def test_clone_bad_destinations(wdb: shale.DB, db_path: str, tmp_path: Path) -> None:
    cp = wdb.checkpoint()
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(shale.InvalidArgumentError):
        shale.clone(db_path, cp, existing)
    assert os.listdir(existing) == []
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    with pytest.raises(shale.InvalidArgumentError):
        shale.clone(db_path, cp, a_file)
    assert a_file.read_bytes() == b"x"
    for inside in (Path(db_path) / "sub", Path(db_path) / "a" / "b", Path(db_path)):
        with pytest.raises(shale.InvalidArgumentError):
            shale.clone(db_path, cp, inside)
        assert not (Path(db_path) / "sub").exists()
    with pytest.raises(shale.NotFoundError):
        shale.clone(db_path, str(uuid.uuid4()), tmp_path / "nope")
    assert not (tmp_path / "nope").exists()
