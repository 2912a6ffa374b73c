"""Shale from Python: open, write, read, scan, batch, snapshot, close, reopen; then a
checkpoint, a reader at it, a clone and a restore (checkpoint API permitting).

    python3 demo.py [DIRECTORY]
"""

import sys

import shale

path = sys.argv[1] if len(sys.argv) > 1 else "./demo-py-db"

with shale.open(path, wal_sync="always") as db:
    db[b"fruit:apple"] = b"red"
    db.put(b"fruit:banana", b"yellow")
    with db.batch() as b:  # atomic: both or neither
        b.put(b"fruit:cherry", b"dark red")
        b.delete(b"fruit:banana")
    with db.snapshot() as snap:
        db[b"fruit:apple"] = b"green"
        print("snapshot sees apple =", snap.get(b"fruit:apple"))
    print("now apple =", db[b"fruit:apple"])
    for key, value in db.scan(b"fruit:", b"fruit;"):
        print("  ", key.decode(), "=>", value.decode())
    stats = db.stats()
    print("sequence", stats["last_sequence"], "manifest", stats["manifest_id"])

with shale.open(path) as db:
    assert db[b"fruit:apple"] == b"green"
    assert b"fruit:banana" not in db
    print("reopened: apple =", db[b"fruit:apple"], "- data survived the close")
