"""Checkpoints across processes: readers beside a live writer in another process, and an
admin process deleting and refreshing checkpoints while the writer creates its own.

The writer's data is a function of a round number, so any process can compute what a
checkpoint taken after round r holds: after round r, key i (of KEYS) is absent when
(i + r) % 5 == 0 and holds `value(r, i)` otherwise; b"round" holds r."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Dict, List, Set, Tuple

import shale

KEYS = 300
OPTIONS = dict(memtable_bytes="64KiB", l0_compaction_trigger=2, gc_interval_ms=50, gc_min_age_ms=0)


def value(r: int, i: int) -> bytes:
    return (b"r%d-i%d|" % (r, i)) * 12


def state(r: int) -> Dict[bytes, bytes]:
    out = {b"k%04d" % i: value(r, i) for i in range(KEYS) if (i + r) % 5 != 0}
    out[b"round"] = b"%d" % r
    return out


# The writer: `python -c WRITER path seconds`. Prints "BASE <id>" for the checkpoint taken
# after round 0, then "CP <round> <id>" for each checkpoint it takes, then
# "DONE <rounds> <flushes> <compactions> <tables deleted>".
WRITER = textwrap.dedent(
    r"""
    import sys, time
    import shale

    KEYS = %(KEYS)d
    OPTIONS = %(OPTIONS)r

    def value(r, i):
        return (b"r%%d-i%%d|" %% (r, i)) * 12

    path, seconds = sys.argv[1], float(sys.argv[2])
    db = shale.open(path, **OPTIONS)

    def write_round(r):
        # Key by key, not in a batch: the checkpoint must hold every acknowledged write.
        for i in range(KEYS):
            key = b"k%%04d" %% i
            if (i + r) %% 5 == 0:
                db.delete(key)
            else:
                db.put(key, value(r, i))
        db.put(b"round", b"%%d" %% r)

    write_round(0)
    base = db.checkpoint("base")
    print("BASE", base.id, flush=True)
    r = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r += 1
        write_round(r)
        if r %% 3 == 0:
            db.flush()
        cp = db.checkpoint("round-%%d" %% r, lifetime=3600)
        print("CP", r, cp.id, flush=True)
    stats = db.stats()
    db.close()
    print("DONE", r, stats["flushes"], stats["compactions"], stats["tables_deleted"], flush=True)
    """
) % {"KEYS": KEYS, "OPTIONS": OPTIONS}


# The admin: `python -c ADMIN path seconds seed`. Lists checkpoints and deletes or refreshes
# some of those it has not touched yet. Prints "D <id>" after a delete returns and
# "R <id> <lifetime or 0>" after a refresh returns; then "DONE".
ADMIN = textwrap.dedent(
    r"""
    import random, sys, time
    import shale

    path, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    deleted = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        listed = [c for c in shale.checkpoints(path) if c.name != "base"]
        for cp in listed:
            assert cp.id not in deleted, "deleted checkpoint listed again: " + cp.id
            roll = rng.random()
            if roll < 0.3:
                shale.delete_checkpoint(path, cp.id)
                deleted.add(cp.id)
                print("D", cp.id, flush=True)
            elif roll < 0.5:
                lifetime = rng.choice([None, 7200])
                shale.refresh_checkpoint(path, cp.id, lifetime)
                print("R", cp.id, lifetime or 0, flush=True)
        time.sleep(rng.uniform(0, 0.02))
    print("DONE", flush=True)
    """
)


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("SHALE_LIBRARY", shale.library_path)
    return env


def _start(script: str, *args: str) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
    )


def _line(stream: "IO[bytes]") -> List[str]:
    return stream.readline().decode().split()


def _finish(proc: "subprocess.Popen[bytes]", what: str) -> List[List[str]]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{err.decode()}"
    return [line.split() for line in out.decode().splitlines()]


def test_readers_beside_live_writer(tmp_path: Path) -> None:
    path = os.fspath(tmp_path / "db")
    writer = _start(WRITER, path, "6")
    assert writer.stdout is not None
    first = _line(writer.stdout)
    if not first or first[0] != "BASE":
        writer.kill()
        raise AssertionError(f"writer did not start: {first} {writer.communicate()[1]!r}")
    base_id = first[1]
    base = state(0)
    long_lived = shale.Reader(path, base_id)
    readers = checks = 0
    seen: List[Tuple[int, str]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with shale.Reader(path, base_id) as r:
            assert dict(r.scan()) == base, "reader at the base checkpoint"
            assert r[b"round"] == b"0"
        assert dict(long_lived.scan()) == base, "long-lived reader at the base checkpoint"
        readers += 1
        # A reader at the newest checkpoint the writer has announced, when there is one.
        listed = {c.name: c.id for c in shale.checkpoints(path)}
        newest = max(
            (int(n.split("-")[1]) for n in listed if n and n.startswith("round-")), default=0
        )
        if newest:
            with shale.Reader(path, listed["round-%d" % newest]) as r:
                assert dict(r.scan()) == state(newest), f"reader at round {newest}"
            checks += 1
            seen.append((newest, listed["round-%d" % newest]))
    lines = _finish(writer, "writer")
    assert lines[-1][0] == "DONE"
    rounds, flushes, compactions, tables_deleted = map(int, lines[-1][1:])
    assert rounds >= 5, f"the writer did only {rounds} rounds"
    # The checkpoints' data moved under the readers: flushed, compacted, old tables deleted.
    assert flushes and compactions and tables_deleted, lines[-1]
    # After the writer closed: every checkpoint still reads its round.
    assert dict(long_lived.scan()) == base
    long_lived.close()
    for kind, *rest in lines[:-1]:
        assert kind == "CP"
        r, cp_id = int(rest[0]), rest[1]
        if r % 4 == 0 or r == rounds:
            with shale.Reader(path, cp_id) as reader:
                assert dict(reader.scan()) == state(r), f"round {r} after the writer closed"
    with shale.open(path) as db:
        assert dict(db.scan()) == state(rounds)
    assert readers > 3 and checks > 0, (readers, checks)
    print(f"{readers} base readers, {checks} newest-round readers, {rounds} writer rounds")


def test_admin_beside_writer(tmp_path: Path) -> None:
    path = os.fspath(tmp_path / "db")
    seed = random.randrange(1 << 30)
    writer = _start(WRITER, path, "5")
    assert writer.stdout is not None
    first = _line(writer.stdout)
    assert first and first[0] == "BASE", first
    admin = _start(ADMIN, path, "4.5", str(seed))
    admin_lines = _finish(admin, f"admin (seed {seed})")
    writer_lines = _finish(writer, "writer")
    end = datetime.now(timezone.utc)

    created: Set[str] = {first[1]}
    created |= {line[2] for line in writer_lines if line[0] == "CP"}
    deleted: Set[str] = set()
    refreshed: Dict[str, int] = {}
    for line in admin_lines[:-1]:
        if line[0] == "D":
            deleted.add(line[1])
        else:
            assert line[0] == "R", line
            refreshed[line[1]] = int(line[2])
    assert admin_lines[-1] == ["DONE"]
    assert deleted and refreshed, f"seed {seed}: the admin did nothing: {admin_lines[:5]}"
    assert deleted <= created
    listed = {c.id: c for c in shale.checkpoints(path)}
    assert set(listed) == created - deleted, (
        f"seed {seed}: lost {sorted(created - deleted - set(listed))[:5]}, "
        f"resurrected {sorted(deleted & set(listed))[:5]}, "
        f"unknown {sorted(set(listed) - created)[:5]}"
    )
    # The last refresh of each checkpoint still listed is what it has.
    for cp_id, lifetime in refreshed.items():
        if cp_id in deleted:
            continue
        expires = listed[cp_id].expires
        if lifetime == 0:
            assert expires is None, f"seed {seed}: refresh(None) of {cp_id} lost"
        else:
            assert expires is not None
            assert expires - end <= timedelta(seconds=lifetime), (cp_id, expires)
            assert expires - end > timedelta(seconds=lifetime - 60), f"refresh of {cp_id} lost"
    # Unrefreshed ones kept the writer's one-hour lifetime.
    for cp_id, cp in listed.items():
        if cp_id not in refreshed and cp.name != "base":
            assert cp.expires is not None
            assert cp.expires - end < timedelta(hours=1, seconds=1)
    # And what is listed reads its round.
    sample = random.Random(seed).sample(sorted(listed), min(8, len(listed)))
    for cp_id in sample:
        name = listed[cp_id].name or ""
        r = 0 if name == "base" else int(name.split("-")[1])
        with shale.Reader(path, cp_id) as reader:
            assert dict(reader.scan()) == state(r), f"seed {seed}: {name}"
