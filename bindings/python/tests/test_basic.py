from __future__ import annotations

import gc
import itertools
import os
from pathlib import Path

import pytest

import shale

KIB = 1024


def test_version() -> None:
    assert shale.version().count(".") == 2
    assert shale.__version__
    assert shale.version() == shale.HEADER_VERSION


def test_put_get_delete(db: shale.DB) -> None:
    assert db.get(b"a") is None
    assert db.get(b"a", b"dflt") == b"dflt"
    db.put(b"a", b"1")
    assert db.get(b"a") == b"1"
    assert db[b"a"] == b"1"
    assert b"a" in db
    db[b"a"] = b"2"
    assert db[b"a"] == b"2"
    db.delete(b"a")
    assert db.get(b"a") is None
    assert b"a" not in db
    with pytest.raises(KeyError):
        db[b"a"]
    db[b"b"] = b"x"
    del db[b"b"]
    assert b"b" not in db
    db.delete(b"never-there")  # deleting an absent key is fine
    del db[b"never-there"]


def test_empty_value(db: shale.DB) -> None:
    db.put(b"k", b"")
    assert db.get(b"k") == b""
    assert db[b"k"] == b""
    assert b"k" in db
    assert list(db.scan()) == [(b"k", b"")]


def test_empty_key_rejected(db: shale.DB) -> None:
    with pytest.raises(shale.InvalidArgumentError):
        db.put(b"", b"v")


def test_binary_keys_with_nul(db: shale.DB) -> None:
    keys = [b"\x00", b"\x00\x00", b"a\x00b", b"a\x00", b"\xff\x00\xff", b"a"]
    for i, k in enumerate(keys):
        db.put(k, b"v\x00" + bytes([i]))
    for i, k in enumerate(keys):
        assert db[k] == b"v\x00" + bytes([i])
    assert [k for k, _ in db.scan()] == sorted(keys)


def test_key_size_limit(db: shale.DB) -> None:
    big = b"k" * (64 * KIB)
    db.put(big, b"v")
    assert db[big] == b"v"
    too_big = b"k" * (64 * KIB + 1)
    with pytest.raises(shale.InvalidArgumentError) as info:
        db.put(too_big, b"v")
    assert isinstance(info.value, ValueError)
    assert info.value.status == 2
    assert info.value.status_name == "INVALID_ARGUMENT"
    assert str(info.value)
    with pytest.raises(shale.InvalidArgumentError):
        db.get(too_big)
    with pytest.raises(shale.InvalidArgumentError):
        with db.batch() as b:
            b.put(too_big, b"v")


def test_large_value(db: shale.DB) -> None:
    value = os.urandom(3 * 1024 * KIB)
    db.put(b"big", value)
    assert db[b"big"] == value


def test_max_value_bytes_option(db_path: str) -> None:
    with shale.open(db_path, max_value_bytes="1KiB") as db:
        db.put(b"ok", b"x" * 1024)
        with pytest.raises(shale.InvalidArgumentError):
            db.put(b"no", b"x" * 1025)


def test_str_rejected(db: shale.DB) -> None:
    with pytest.raises(TypeError):
        db.put("a", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.put(b"a", "v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.get("a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db["a"] = b"v"  # type: ignore[index]
    with pytest.raises(TypeError):
        db.delete("a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.scan("a", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        db.put(b"a", 5)  # type: ignore[arg-type]
    with db.batch() as b:
        with pytest.raises(TypeError):
            b.put("a", b"v")  # type: ignore[arg-type]


def test_bytes_like_accepted(db: shale.DB) -> None:
    db.put(bytearray(b"ba"), memoryview(b"mv"))
    value = db[b"ba"]
    assert value == b"mv" and type(value) is bytes


def test_no_len(db: shale.DB) -> None:
    with pytest.raises(TypeError):
        len(db)  # type: ignore[arg-type]


def _fill(db: shale.DB) -> None:
    for c in b"abcdefghij":
        db.put(bytes([c]), bytes([c]) * 2)


def test_scan_ranges(db: shale.DB) -> None:
    _fill(db)
    keys = lambda it: [k for k, _ in it]  # noqa: E731
    assert keys(db.scan()) == [bytes([c]) for c in b"abcdefghij"]
    assert keys(db.scan(b"c", b"f")) == [b"c", b"d", b"e"]
    assert keys(db.scan(b"c")) == [b"c", b"d", b"e", b"f", b"g", b"h", b"i", b"j"]
    assert keys(db.scan(None, b"c")) == [b"a", b"b"]
    assert keys(db.scan(end=b"c")) == [b"a", b"b"]
    assert keys(db.scan(b"bb", b"dd")) == [b"c", b"d"]
    assert keys(db.scan(b"x", b"z")) == []
    assert keys(db.scan(b"f", b"c")) == []
    assert keys(db.scan(b"c", b"c")) == []
    assert dict(db.scan(b"a", b"b")) == {b"a": b"aa"}
    db.delete(b"d")
    assert keys(db.scan(b"c", b"f")) == [b"c", b"e"]


def test_scan_iterator_lifecycle(db: shale.DB) -> None:
    _fill(db)
    with db.scan() as it:
        assert next(it) == (b"a", b"aa")
    with pytest.raises(StopIteration):
        next(it)  # closed
    it = db.scan()
    assert len(list(it)) == 10
    with pytest.raises(StopIteration):
        next(it)  # exhausted and freed
    it.close()  # idempotent
    # Abandoned iterators are freed by the garbage collector.
    for _ in range(100):
        next(db.scan())
    gc.collect()


def test_scan_sees_state_at_creation(db: shale.DB) -> None:
    _fill(db)
    it = db.scan()
    db.put(b"aa", b"new")
    db.delete(b"j")
    got = dict(it)
    assert b"aa" not in got
    assert got[b"j"] == b"jj"


def test_batch_atomic(db: shale.DB) -> None:
    db.put(b"gone", b"1")
    with db.batch() as b:
        b.put(b"x", b"1")
        b.put(b"y", b"2")
        b.delete(b"gone")
        b[b"z"] = b"3"
        del b[b"z"]
        assert len(b) == 5
        assert db.get(b"x") is None  # nothing visible before the block ends
    assert db[b"x"] == b"1" and db[b"y"] == b"2"
    assert b"gone" not in db and b"z" not in db
    assert b.closed


def test_batch_discarded_on_exception(db: shale.DB) -> None:
    db.put(b"keep", b"1")
    with pytest.raises(RuntimeError):
        with db.batch() as b:
            b.put(b"x", b"1")
            b.delete(b"keep")
            raise RuntimeError("boom")
    assert db.get(b"x") is None
    assert db[b"keep"] == b"1"


def test_batch_later_op_wins_and_reuse(db: shale.DB) -> None:
    b = shale.Batch()
    b.put(b"k", b"1")
    b.put(b"k", b"2")
    db.write(b)
    assert db[b"k"] == b"2"
    b.clear()
    assert len(b) == 0
    b.delete(b"k")
    db.write(b)
    db.write(b)  # unchanged, may be written again
    assert b"k" not in db
    b.close()
    with pytest.raises(shale.ClosedError):
        b.put(b"k", b"v")
    with pytest.raises(shale.ClosedError):
        db.write(b)
    with pytest.raises(TypeError):
        db.write(object())  # type: ignore[arg-type]


def test_snapshot_isolation(db: shale.DB) -> None:
    db.put(b"a", b"1")
    db.put(b"b", b"1")
    with db.snapshot() as snap:
        db.put(b"a", b"2")
        db.delete(b"b")
        db.put(b"c", b"2")
        assert snap.get(b"a") == b"1"
        assert snap.get(b"b") == b"1"
        assert snap.get(b"c") is None
        assert snap.get(b"c", b"d") == b"d"
        assert snap[b"a"] == b"1"
        with pytest.raises(KeyError):
            snap[b"c"]
        assert list(snap.scan()) == [(b"a", b"1"), (b"b", b"1")]
        assert list(snap.scan(b"b")) == [(b"b", b"1")]
        db.flush()
        assert snap.get(b"a") == b"1"
        assert db[b"a"] == b"2"
    assert snap.released
    with pytest.raises(shale.ClosedError):
        snap.get(b"a")
    with pytest.raises(shale.ClosedError):
        snap.scan()
    snap.release()  # idempotent


def test_iterator_outlives_snapshot_release(db: shale.DB) -> None:
    _fill(db)
    snap = db.snapshot()
    it = snap.scan()
    db.put(b"b", b"new")
    snap.release()
    assert dict(it)[b"b"] == b"bb"


def test_reopen_keeps_data(db_path: str) -> None:
    with shale.open(db_path) as db:
        db.put(b"a", b"1")
        with db.batch() as b:
            b.put(b"b", b"2")
        db.put(b"c", b"3")
        db.delete(b"c")
    with shale.open(db_path) as db:
        assert list(db.scan()) == [(b"a", b"1"), (b"b", b"2")]
    with shale.open(Path(db_path), create_if_missing=False) as db:  # PathLike works
        assert db[b"a"] == b"1"


def test_reopen_after_flush_to_tables(db_path: str) -> None:
    expected = {}
    with shale.open(db_path, memtable_bytes="64KiB") as db:
        for i in range(3000):
            k, v = b"key%06d" % i, os.urandom(100)
            db.put(k, v)
            expected[k] = v
        for i in range(0, 3000, 7):
            db.delete(b"key%06d" % i)
            del expected[b"key%06d" % i]
        db.flush()
        assert dict(db.scan()) == expected
    with shale.open(db_path, memtable_bytes="64KiB") as db:
        assert dict(db.scan()) == expected
        assert db.get(b"key000007") is None
        assert db[b"key000008"] == expected[b"key000008"]


def test_options(db_path: str) -> None:
    with shale.open(
        db_path,
        create_if_missing=True,
        wal_sync="always",
        memtable_bytes=1 << 20,
        block_bytes="4KiB",
        bloom_bits_per_key=10,
    ) as db:
        db.put(b"a", b"1")
    with pytest.raises(shale.InvalidArgumentError) as info:
        shale.open(db_path, no_such_option="1")
    assert "no_such_option" in str(info.value)
    with pytest.raises(shale.InvalidArgumentError):
        shale.open(db_path, wal_sync="sometimes")
    with pytest.raises(shale.InvalidArgumentError):
        shale.open(db_path, memtable_bytes="lots")
    with pytest.raises(TypeError):
        shale.open(db_path, memtable_bytes=1.5)  # type: ignore[arg-type]


def test_missing_db_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with pytest.raises(shale.NotFoundError) as info:
        shale.open(path, create_if_missing=False)
    assert info.value.status == 1
    assert isinstance(info.value, shale.Error)


def test_use_after_close(db_path: str) -> None:
    db = shale.open(db_path)
    db.put(b"a", b"1")
    snap = db.snapshot()
    it = db.scan()
    b = db.batch()
    b.put(b"x", b"1")
    assert not db.closed
    db.close()
    assert db.closed
    db.close()  # idempotent
    for call in (
        lambda: db.put(b"a", b"2"),
        lambda: db.get(b"a"),
        lambda: db[b"a"],
        lambda: b"a" in db,
        lambda: db.delete(b"a"),
        lambda: db.scan(),
        lambda: db.batch(),
        lambda: db.snapshot(),
        lambda: db.flush(),
        lambda: db.stats(),
        lambda: db.write(b),
        lambda: snap.get(b"a"),
        lambda: snap.scan(),
        lambda: next(it),
    ):
        with pytest.raises(shale.ClosedError) as info:
            call()
        assert info.value.status == 5 and info.value.status_name == "CLOSED"
    with pytest.raises(shale.ClosedError):
        with db:
            pass
    # Freeing dependents after the close is fine.
    snap.release()
    it.close()
    b.close()


def test_context_manager_closes(db_path: str) -> None:
    with shale.open(db_path) as db:
        db.put(b"a", b"1")
    assert db.closed
    with pytest.raises(shale.ClosedError):
        db.get(b"a")


def test_stats_is_dict(db: shale.DB) -> None:
    db.put(b"a", b"1")
    stats = db.stats()
    assert isinstance(stats, dict)


def test_memory_location() -> None:
    name = "memory://py-basic-%d" % os.getpid()
    with shale.open(name) as db:
        db.put(b"a", b"1")
        assert db[b"a"] == b"1"
        assert list(db.scan()) == [(b"a", b"1")]
    with shale.open(name) as db:
        assert db[b"a"] == b"1"
    with shale.open("memory://py-other-%d" % os.getpid()) as db:
        assert db.get(b"a") is None


def test_file_url_location(tmp_path: Path) -> None:
    with shale.open("file://" + os.fspath(tmp_path / "u")) as db:
        db.put(b"a", b"1")
    with shale.open(tmp_path / "u") as db:
        assert db[b"a"] == b"1"


def test_exception_hierarchy() -> None:
    classes = {
        1: shale.NotFoundError,
        2: shale.InvalidArgumentError,
        3: shale.StorageIOError,
        4: shale.CorruptionError,
        5: shale.ClosedError,
        6: shale.FencedError,
        7: shale.BusyError,
        8: shale.NotSupportedError,
        9: shale.InternalError,
    }
    for status, cls in classes.items():
        assert issubclass(cls, shale.Error)
        e = cls("msg")
        assert e.status == status and str(e) == "msg"
        assert e.status_name == shale.status_name(status)
    assert issubclass(shale.InvalidArgumentError, ValueError)
    assert issubclass(shale.StorageIOError, OSError)
    assert shale.StorageIOError("disk full").message == "disk full"


def test_many_handles_in_sequence(tmp_path: Path) -> None:
    for i in itertools.islice(itertools.count(), 20):
        with shale.open(tmp_path / ("d%d" % (i % 3))) as db:
            db.put(b"n", b"%d" % i)
            assert db[b"n"] == b"%d" % i


def test_garbage_collected_db_closes(db_path: str) -> None:
    db = shale.open(db_path)
    db.put(b"a", b"1")
    snap = db.snapshot()
    it = db.scan()
    del db, snap, it
    gc.collect()
    with shale.open(db_path) as db2:
        assert db2[b"a"] == b"1"


def test_dependents_collected_after_close(db_path: str) -> None:
    db = shale.open(db_path)
    db.put(b"a", b"1")
    snap = db.snapshot()
    its = [db.scan(), snap.scan()]
    db.close()
    del snap, its
    gc.collect()


def _max_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_returned_buffers_are_freed(db: shale.DB) -> None:
    value = os.urandom(16 * KIB)
    db.put(b"k", value)
    for i in range(50):
        db.put(b"s%03d" % i, value)
    with db.snapshot() as snap:
        for _ in range(2000):  # warm up
            db.get(b"k")
        before = _max_rss_mib()
        for _ in range(20000):  # 320 MiB if shale_free were skipped
            assert db.get(b"k") is not None
            assert snap.get(b"k") is not None
        for _ in range(200):
            for _ in db.scan(b"s", b"t"):
                pass
        grown = _max_rss_mib() - before
    assert grown < 100, f"resident memory grew by {grown:.0f} MiB"
