"""Several Python threads on one handle at once (ctypes drops the GIL in every C call)."""

from __future__ import annotations

import random
import threading
from typing import Callable, Dict, List

import shale

THREADS = 8
OPS = 1500


def _run(workers: List[Callable[[], None]]) -> None:
    errors: List[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait()
                fn()
            except BaseException as e:
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(w)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "thread hung"
    if errors:
        raise errors[0]


def test_threads_put_get_scan(db_path: str) -> None:
    db = shale.open(db_path, memtable_bytes="64KiB")
    models: List[Dict[bytes, bytes]] = [{} for _ in range(THREADS)]
    stop = threading.Event()

    def writer(n: int) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(n)
            model = models[n]
            for i in range(OPS):
                key = b"t%d:%04d" % (n, rng.randrange(300))
                op = rng.random()
                if op < 0.55:
                    value = b"%d:%d:" % (n, i) + bytes(rng.randrange(200))
                    db.put(key, value)
                    model[key] = value
                elif op < 0.7:
                    db.delete(key)
                    model.pop(key, None)
                elif op < 0.8:
                    with db.batch() as b:
                        for _ in range(5):
                            k = b"t%d:%04d" % (n, rng.randrange(300))
                            v = b"batch%d" % i
                            b.put(k, v)
                            model[k] = v
                elif op < 0.97:
                    # Only this thread writes its keys, so reads must match its own model.
                    assert db.get(key) == model.get(key)
                else:
                    prefix = b"t%d:" % n
                    got = list(db.scan(prefix, b"t%d;" % n))
                    assert got == sorted(model.items())

        return run

    def scanner() -> None:
        while not stop.is_set():
            keys = [k for k, _ in db.scan()]
            assert keys == sorted(keys) and len(set(keys)) == len(keys)
            with db.snapshot() as snap:
                first = list(snap.scan(b"t0:", b"t1:"))
                assert list(snap.scan(b"t0:", b"t1:")) == first

    def flusher() -> None:
        while not stop.is_set():
            db.flush()
            db.stats()
            stop.wait(0.01)

    writers = [writer(n) for n in range(THREADS)]

    def all_writers_then_stop() -> None:
        try:
            _run(writers)
        finally:
            stop.set()

    try:
        _run([all_writers_then_stop, scanner, scanner, flusher])
        expected = {}
        for m in models:
            expected.update(m)
        assert dict(db.scan()) == expected
        assert list(db.scan()) == sorted(expected.items())
    finally:
        db.close()
    with shale.open(db_path) as db2:
        assert dict(db2.scan()) == expected


def test_close_while_threads_run(db_path: str) -> None:
    """Closing from one thread while others call in: every call either works or raises
    ClosedError; nothing crashes."""
    db = shale.open(db_path)
    started = threading.Barrier(5)

    def worker(n: int) -> Callable[[], None]:
        def run() -> None:
            started.wait()
            i = 0
            while True:
                try:
                    db.put(b"k%d" % n, b"%d" % i)
                    db.get(b"k%d" % n)
                    for _ in db.scan():
                        pass
                except shale.ClosedError:
                    return
                i += 1

        return run

    threads = [threading.Thread(target=worker(n)) for n in range(4)]
    for t in threads:
        t.start()
    started.wait()
    threading.Event().wait(0.2)
    db.close()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert db.closed
