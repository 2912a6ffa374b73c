"""Shale from Python: open, write, read, scan, batch, snapshot, close, reopen; then a
checkpoint, a reader at it, a clone and a restore.

    python3 demo.py [DIRECTORY]
"""

import os
import shutil
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

with shale.open(path) as db:
    cp = db.checkpoint("demo", lifetime=3600)
    db[b"fruit:apple"] = b"rotten"
    print("checkpoint", cp.id, "named", cp.name, "expires", cp.expires)
    print("after the checkpoint: apple =", db[b"fruit:apple"])
    with shale.Reader(path, cp) as reader:
        print("reader at the checkpoint: apple =", reader[b"fruit:apple"])

copy = path.rstrip("/") + "-clone"
shutil.rmtree(copy, ignore_errors=True)
shale.clone(path, cp, copy)
with shale.open(copy) as clone_db:
    print("clone: apple =", clone_db[b"fruit:apple"])

shale.restore(path, cp)  # the database is closed here
with shale.open(path) as db:
    print("restored: apple =", db[b"fruit:apple"])
print("checkpoints:", [c.name for c in shale.checkpoints(path)])
if os.path.isdir(copy):
    shutil.rmtree(copy)
