"""Crash tests with a real SIGKILL: a child process creates checkpoints (sync, async),
restores, or clones in a loop and reports on stdout what has returned; the parent kills it
at a random moment and checks what survived.

The data is a function of a round number: after round r, key i (of KEYS) is absent when
(i + r) % 5 == 0 and holds value(r, i) otherwise, and b"round" holds r. A checkpoint named
"round-<r>" must read exactly state(r).

The seed is printed (and in the assertion messages); rerun with SHALE_CRASH_SEED=<n>."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

import shale

KEYS = 120
OPTIONS = dict(memtable_bytes="64KiB", l0_compaction_trigger=2, gc_interval_ms=50, gc_min_age_ms=0)


def value(r: int, i: int) -> bytes:
    return (b"r%d-i%d|" % (r, i)) * 20


def state(r: int) -> Dict[bytes, bytes]:
    out = {b"k%04d" % i: value(r, i) for i in range(KEYS) if (i + r) % 5 != 0}
    out[b"round"] = b"%d" % r
    return out


def round_of(name: str) -> int:
    assert name.startswith("round-"), name
    return int(name[len("round-") :])


PRELUDE = textwrap.dedent(
    r"""
    import sys
    import shale

    KEYS = %(KEYS)d
    OPTIONS = %(OPTIONS)r

    def value(r, i):
        return (b"r%%d-i%%d|" %% (r, i)) * 20

    def write_round(db, r):
        with db.batch() as b:  # atomic: the database always holds some state(r)
            for i in range(KEYS):
                key = b"k%%04d" %% i
                if (i + r) %% 5 == 0:
                    b.delete(key)
                else:
                    b.put(key, value(r, i))
            b.put(b"round", b"%%d" %% r)

    def say(*words):
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()
    """
) % {"KEYS": KEYS, "OPTIONS": OPTIONS}

# `CHECKPOINTER path mode`: rounds, each followed by a checkpoint "round-<r>". mode "sync":
# every checkpoint waits; "async": none does; "mixed": every other one. Prints
# "S <r> <id>" / "A <r> <id>" when the checkpoint call returned, "F <r>" after a flush.
CHECKPOINTER = PRELUDE + textwrap.dedent(
    r"""
    path, mode = sys.argv[1], sys.argv[2]
    db = shale.open(path, **OPTIONS)
    r = int(db.get(b"round", b"0"))
    say("READY", r)
    while True:
        r += 1
        write_round(db, r)
        wait = mode == "sync" or (mode == "mixed" and r % 2 == 0)
        cp = db.checkpoint("round-%d" % r, wait=wait)
        say("S" if wait else "A", r, cp.id)
        if r % 4 == 0:
            db.flush()
            say("F", r)
    """
)

# `RESTORER path id_a id_b`: restores a, then b, then a... Prints "R a" / "R b" after each.
RESTORER = PRELUDE + textwrap.dedent(
    r"""
    path, ids = sys.argv[1], {"a": sys.argv[2], "b": sys.argv[3]}
    say("READY")
    while True:
        for which in ("a", "b"):
            shale.restore(path, ids[which])
            say("R", which)
    """
)

# `CLONER src id dest_dir`: clones src (at id; "-" = latest) to dest_dir/c<i> for i = 0, 1...
# Prints "C <i>" after each clone returned.
CLONER = PRELUDE + textwrap.dedent(
    r"""
    import os, re
    src, cp, dest_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    done = [int(n[1:]) for n in os.listdir(dest_dir) if re.fullmatch(r"c[0-9]+", n)]
    i = max(done, default=-1) + 1
    say("READY")
    while True:
        shale.clone(src, None if cp == "-" else cp, os.path.join(dest_dir, "c%d" % i))
        say("C", i)
        i += 1
    """
)


def _seed() -> int:
    seed = int(os.environ.get("SHALE_CRASH_SEED", random.randrange(1 << 30)))
    print(f"checkpoint crash test seed {seed} (rerun with SHALE_CRASH_SEED={seed})")
    return seed


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("SHALE_LIBRARY", shale.library_path)
    return env


def _run_and_kill(script: str, args: List[str], delay: float) -> Tuple[List[str], List[List[str]]]:
    """Starts the child, waits for READY, kills it `delay` seconds later. Returns the READY
    line's words and every whole line printed after it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline().decode().split()
    if not first or first[0] != "READY":
        proc.kill()
        proc.wait()
        raise AssertionError(f"child did not start: {first}\n{proc.stderr.read().decode()}")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()
    err = proc.stderr.read()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"child died by itself:\n{err.decode()}"
    # Only whole lines count: a line cut by the kill was not fully reported.
    return first, [line.decode().split() for line in rest.split(b"\n")[:-1]]


def _reads(path: str, cp_id: str) -> Dict[bytes, bytes]:
    with shale.Reader(path, cp_id) as r:
        return dict(r.scan())


@pytest.mark.parametrize("mode", ["sync", "async", "mixed"])
def test_kill_during_checkpoint_creation(tmp_path: Path, mode: str) -> None:
    seed = _seed()
    rng = random.Random(seed)
    path = os.fspath(tmp_path / "db")
    verified: Set[str] = set()
    must_list: Dict[str, int] = {}  # id -> round: sync ones, and async ones before a flush
    kills = 0
    started = time.monotonic()
    while time.monotonic() - started < 12 and kills < 10:
        ready, lines = _run_and_kill(CHECKPOINTER, [path, mode], rng.uniform(0.02, 0.3))
        kills += 1
        why = f"seed {seed}, mode {mode}, kill {kills}"
        start_round = int(ready[1])
        async_pending: Dict[str, int] = {}
        last_sync = start_round
        for line in lines:
            if line[0] == "S":
                must_list[line[2]] = int(line[1])
                last_sync = int(line[1])
            elif line[0] == "A":
                async_pending[line[2]] = int(line[1])
            else:
                assert line[0] == "F", line
                must_list.update(async_pending)  # durable by the flush that returned
                async_pending.clear()
        # The database opens, holds a whole round, at least the last synced one.
        with shale.open(path, **OPTIONS) as db:  # type: ignore[arg-type]
            contents = dict(db.scan())
        r = int(contents.get(b"round", b"0"))
        assert r >= last_sync, f"{why}: round {r} but checkpoint of round {last_sync} returned"
        if r:
            assert contents == state(r), f"{why}: database holds a torn round {r}"
        listed = {c.id: c for c in shale.checkpoints(path)}
        missing = {i: r for i, r in must_list.items() if i not in listed}
        assert not missing, f"{why}: durable checkpoints lost: {missing}"
        # Every listed checkpoint opens and holds exactly its round (new ones all, old ones
        # a sample: their files must survive later flushes, compactions and GC).
        new = [i for i in listed if i not in verified]
        old = rng.sample(sorted(verified & set(listed)), min(5, len(verified & set(listed))))
        for cp_id in new + old:
            cp = listed[cp_id]
            expected = state(round_of(cp.name or ""))
            assert _reads(path, cp_id) == expected, f"{why}: checkpoint {cp.name} {cp_id}"
            if cp_id in must_list:
                assert must_list[cp_id] == round_of(cp.name or "")
        verified |= set(new)
    print(f"{kills} kills, {len(verified)} checkpoints verified, {len(must_list)} acknowledged")
    assert must_list or mode == "async", f"seed {seed}: no checkpoint was ever acknowledged"
    assert verified, f"seed {seed}: no checkpoint was ever listed"


def test_kill_during_restore(tmp_path: Path) -> None:
    seed = _seed()
    rng = random.Random(seed)
    path = os.fspath(tmp_path / "db")
    with shale.open(path, **OPTIONS) as db:  # type: ignore[arg-type]
        with db.batch() as b:
            for k, v in state(1).items():
                b.put(k, v)
        a = db.checkpoint("round-1")
        for r in range(2, 9):  # several memtables: state 8 lives in tables, state 1 too
            with db.batch() as b:
                for i in range(KEYS):
                    key = b"k%04d" % i
                    if (i + r) % 5 == 0:
                        b.delete(key)
                    else:
                        b.put(key, value(r, i))
                b.put(b"round", b"%d" % r)
        b_cp = db.checkpoint("round-8")
    states = {1: state(1), 8: state(8)}
    restores = 0
    started = time.monotonic()
    for kill in range(8):
        _, lines = _run_and_kill(RESTORER, [path, a.id, b_cp.id], rng.uniform(0.0, 0.25))
        restores += len(lines)
        why = f"seed {seed}, kill {kill}"
        with shale.open(path, **OPTIONS) as db:  # type: ignore[arg-type]
            contents = dict(db.scan())
        assert contents in (states[1], states[8]), (
            f"{why}: after a killed restore the database is neither checkpoint "
            f"(round {contents.get(b'round')!r}, {len(contents)} keys)"
        )
        listed = shale.checkpoints(path)
        ids = [c.id for c in listed]
        assert a.id in ids and b_cp.id in ids, f"{why}: restore lost a checkpoint"
        assert _reads(path, a.id) == states[1] and _reads(path, b_cp.id) == states[8], why
        pre = [c for c in listed if (c.name or "").startswith("pre-restore-")]
        assert len(pre) >= len(lines), f"{why}: {len(lines)} restores, {len(pre)} pre-restore"
        for cp in rng.sample(pre, min(4, len(pre))) + pre[-1:]:
            assert _reads(path, cp.id) in (states[1], states[8]), f"{why}: {cp.name}"
        if time.monotonic() - started > 12:
            break
    print(f"{restores} restores acknowledged over {kill + 1} kills")
    assert restores, f"seed {seed}: no restore ever returned"


@pytest.mark.parametrize("at", ["checkpoint", "latest"])
def test_kill_during_clone(tmp_path: Path, at: str) -> None:
    seed = _seed()
    rng = random.Random(seed)
    src = os.fspath(tmp_path / "src")
    dest_dir = tmp_path / "clones"
    dest_dir.mkdir()
    with shale.open(src, **OPTIONS) as db:  # type: ignore[arg-type]
        for r in range(1, 12):  # tables on several levels, and the last round in the WAL
            with db.batch() as b:
                for k, v in state(r).items():
                    b.put(k, v)
                for i in range(KEYS):
                    if (i + r) % 5 == 0:
                        b.delete(b"k%04d" % i)
        cp = db.checkpoint("round-11")
        with db.batch() as b:
            for k, v in state(12).items():
                b.put(k, v)
            for i in range(KEYS):
                if (i + 12) % 5 == 0:
                    b.delete(b"k%04d" % i)
    expected = state(11) if at == "checkpoint" else state(12)
    cp_arg = cp.id if at == "checkpoint" else "-"
    checked: Set[str] = set()
    leftovers: Set[str] = set()
    clones = 0
    for kill in range(6):
        _, lines = _run_and_kill(CLONER, [src, cp_arg, os.fspath(dest_dir)], rng.uniform(0, 0.2))
        why = f"seed {seed}, kill {kill}"
        reported = {f"c{line[1]}" for line in lines}
        clones += len(reported)
        entries = sorted(os.listdir(dest_dir))
        for name in entries:
            if name in checked or name in leftovers:
                continue
            if not re.fullmatch(r"c[0-9]+", name):
                leftovers.add(name)  # staging of a clone cut short: reported below
                continue
            # A destination that exists, reported or not, is a whole clone.
            dest = dest_dir / name
            assert _clone_contents(dest) == expected, f"{why}: clone {name} is incomplete"
            checked.add(name)
        missing = reported - set(entries)
        assert not missing, f"{why}: reported clones missing: {missing}"
    # A clone cut short leaves nothing that blocks the next one, and the source is intact.
    shale.clone(src, None if cp_arg == "-" else cp_arg, dest_dir / "final")
    assert _clone_contents(dest_dir / "final") == expected
    with shale.open(src, **OPTIONS) as db:  # type: ignore[arg-type]
        assert dict(db.scan()) == state(12)
    print(f"{clones} clones acknowledged, {len(checked)} checked, leftovers: {sorted(leftovers)}")
    assert clones, f"seed {seed}: no clone ever returned"


def _clone_contents(dest: Path) -> Dict[bytes, bytes]:
    with shale.Reader(dest) as r:
        via_reader = dict(r.scan())
    with shale.open(dest, create_if_missing=False) as db:
        via_db = dict(db.scan())
    assert via_reader == via_db, f"{dest}: reader and database disagree"
    return via_db
