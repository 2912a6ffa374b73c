"""Tests of the `shale` command-line tool: runs the built binary on databases in tmp_path.

The binary is $SHALE_CLI, else the newest of .build*/debug|release/shale-cli in the project.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def find_cli():
    env = os.environ.get("SHALE_CLI")
    if env:
        return env
    candidates = [ROOT / d / mode / "shale-cli"
                  for d in (".build", ".build-cli") for mode in ("debug", "release")]
    found = [c for c in candidates if c.is_file() and os.access(c, os.X_OK)]
    if not found:
        return None
    return str(max(found, key=lambda c: c.stat().st_mtime))


CLI = find_cli()
pytestmark = pytest.mark.skipif(CLI is None, reason="shale-cli is not built (swift build --product shale-cli)")

BAD_ID = "00000000-0000-4000-8000-000000000000"


def run(*args, input=None, check=None):
    """Runs the CLI; `check` is the expected exit code (None = don't check)."""
    p = subprocess.run([CLI, *map(str, args)], input=input, capture_output=True, timeout=30)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


def ok(*args, input=None):
    return run(*args, input=input, check=0)


def out(*args):
    return ok(*args).stdout.decode()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "db"
    ok("put", path, "alpha", "1")
    ok("put", path, "beta", "2")
    return path


def test_put_get_scan_round_trip(db):
    assert ok("get", db, "alpha").stdout == b"1"
    assert ok("get", db, "beta").stdout == b"2"
    ok("put", db, "gamma", "3")
    assert out("scan", db) == "alpha\t1\nbeta\t2\ngamma\t3\n"
    assert out("scan", db, "--start", "b") == "beta\t2\ngamma\t3\n"
    assert out("scan", db, "--start", "b", "--end", "gamma") == "beta\t2\n"
    assert out("scan", db, "--limit", "1") == "alpha\t1\n"
    ok("delete", db, "beta")
    assert out("scan", db) == "alpha\t1\ngamma\t3\n"
    assert run("get", db, "beta").returncode == 1


def test_binary_values_hex_and_value_file(tmp_path, db):
    ok("put", db, "6b00", "00ff0a", "--hex")
    assert ok("get", db, "6b00", "--hex").stdout == b"00ff0a\n"
    assert ok("get", db, "6b00", "--hex").stdout == b"00ff0a\n"
    f = tmp_path / "value.bin"
    data = bytes(range(256)) * 10
    f.write_bytes(data)
    ok("put", db, "blob", "--value-file", f)
    assert ok("get", db, "blob").stdout == data
    ok("put", db, "piped", "--value-file", "-", input=b"from stdin\x00")
    assert ok("get", db, "piped").stdout == b"from stdin\x00"
    # Non-printable bytes are escaped in the text listing and kept exactly in JSON.
    assert "k\\x00\t\\x00\\xff\\n\n" in out("scan", db)
    items = json.loads(out("scan", db, "--json"))
    entry = next(i for i in items if i["key_hex"] == "6b00")
    assert entry["value_hex"] == "00ff0a" and entry["value"] is None


def test_json_outputs_parse(db):
    items = json.loads(out("scan", db, "--json"))
    assert [(i["key"], i["value"]) for i in items] == [("alpha", "1"), ("beta", "2")]
    assert json.loads(out("scan", db, "--json", "--start", "zzz")) == []
    cp = json.loads(out("checkpoint", "create", db, "--json", "--name", "j"))
    assert cp["name"] == "j" and len(cp["id"]) == 36 and cp["manifest_id"] > 0
    listed = json.loads(out("checkpoint", "list", db, "--json"))
    assert [c["id"] for c in listed] == [cp["id"]]
    stats = json.loads(out("stats", db, "--json"))
    assert stats["last_sequence"] >= 2 and stats["checkpoints"] == 1
    m = json.loads(out("dump", "manifest", db, "--json"))
    assert m["checkpoints"][0]["id"] == cp["id"]
    assert isinstance(json.loads(out("dump", "manifest", db, "--list", "--json")), list)


def test_checkpoint_create_list_refresh_delete(db):
    cid = out("checkpoint", "create", db, "--name", "nightly").strip()
    assert len(cid) == 36
    cid2 = out("checkpoint", "create", db, "--lifetime-ms", "600000").strip()
    text = out("checkpoint", "list", db)
    assert "nightly" in text and cid in text and cid2 in text and "never" in text
    listed = {c["id"]: c for c in json.loads(out("checkpoint", "list", db, "--json"))}
    assert listed[cid]["expires"] is None and listed[cid2]["expires"].endswith("Z")
    assert not listed[cid2]["expired"]

    ok("checkpoint", "refresh", db, cid, "--lifetime-ms", "3600000")
    listed = {c["id"]: c for c in json.loads(out("checkpoint", "list", db, "--json"))}
    assert listed[cid]["expires_ms"] is not None
    ok("checkpoint", "refresh", db, cid, "--lifetime-ms", "0")
    listed = {c["id"]: c for c in json.loads(out("checkpoint", "list", db, "--json"))}
    assert listed[cid]["expires_ms"] is None

    ok("checkpoint", "delete", db, cid)
    assert [c["id"] for c in json.loads(out("checkpoint", "list", db, "--json"))] == [cid2]
    assert run("checkpoint", "delete", db, cid).returncode == 1
    assert run("checkpoint", "refresh", db, cid, "--lifetime-ms", "5").returncode == 1


def test_get_and_scan_at_checkpoint(db):
    cid = out("checkpoint", "create", db).strip()
    ok("put", db, "alpha", "changed")
    ok("put", db, "delta", "new")
    assert ok("get", db, "alpha").stdout == b"changed"
    assert ok("get", db, "alpha", "--checkpoint", cid).stdout == b"1"
    assert run("get", db, "delta", "--checkpoint", cid).returncode == 1
    assert out("scan", db, "--checkpoint", cid) == "alpha\t1\nbeta\t2\n"


def test_restore_and_undo(db):
    cid = out("checkpoint", "create", db).strip()
    ok("put", db, "alpha", "later")
    res = json.loads(out("restore", db, cid, "--json"))
    assert ok("get", db, "alpha").stdout == b"1"
    pre = res["pre_restore"]["id"]
    # The pre-restore checkpoint holds the replaced state: restoring it undoes the restore.
    ok("restore", db, pre)
    assert ok("get", db, "alpha").stdout == b"later"


def test_clone(tmp_path, db):
    cid = out("checkpoint", "create", db).strip()
    ok("put", db, "alpha", "after")
    ok("clone", db, tmp_path / "c1", "--checkpoint", cid)
    ok("clone", db, tmp_path / "c2")
    assert ok("get", tmp_path / "c1", "alpha").stdout == b"1"
    assert ok("get", tmp_path / "c2", "alpha").stdout == b"after"
    # The clone is independent: writing it leaves the source alone.
    ok("put", tmp_path / "c1", "alpha", "clone-only")
    assert ok("get", db, "alpha").stdout == b"after"
    # An existing destination is refused.
    assert run("clone", db, tmp_path / "c2").returncode == 2


def test_stats_and_dump_manifest(db):
    text = out("stats", db)
    assert "last_sequence" in text and "manifest_id" in text
    dump = out("dump", "manifest", db)
    assert dump.startswith("manifest ") and "writer epoch" in dump and "L0:" in dump
    m = json.loads(out("dump", "manifest", db, "--json"))
    assert m["id"] >= 1 and m["levels"]
    keys = [t["smallest"] for level in m["levels"] for t in level["tables"]]
    assert "alpha" in keys
    first = json.loads(out("dump", "manifest", db, "--json", "--id", "1"))
    assert first["id"] == 1
    assert run("dump", "manifest", db, "--id", "999999").returncode == 1


def test_exit_codes(tmp_path, db):
    p = run("get", db, "missing")
    assert p.returncode == 1 and p.stderr.startswith(b"shale: NOT_FOUND: ")
    p = run("get", db, "alpha", "--checkpoint", "not-a-uuid")
    assert p.returncode == 2 and p.stderr.startswith(b"shale: INVALID_ARGUMENT: ")
    assert run("restore", db, "not-a-uuid").returncode == 2
    assert run("restore", db, BAD_ID).returncode == 1
    assert run("get", db, "alpha", "--checkpoint", BAD_ID).returncode == 1
    # Usage errors are INVALID_ARGUMENT.
    p = run("scan", db, "--no-such-option")
    assert p.returncode == 2 and p.stderr.startswith(b"shale: INVALID_ARGUMENT: ")
    assert run("frobnicate").returncode == 2
    assert run("get", db).returncode == 2
    assert run("put", db, "k").returncode == 2
    assert run("scan", db, "--limit", "lots").returncode == 2
    assert run("put", db, "k", "zz", "--hex").returncode == 2
    assert run("put", db, "k", "v", "-o", "wal_sync=sometimes").returncode == 2
    assert run("checkpoint", "refresh", db, BAD_ID).returncode == 2  # --lifetime-ms missing
    assert run("--help").returncode == 0
    # A database that does not exist: reads are NOT_FOUND and create nothing.
    missing = tmp_path / "nope"
    for args in (("get", missing, "k"), ("scan", missing), ("checkpoint", "list", missing),
                 ("stats", missing), ("dump", "manifest", missing), ("delete", missing, "k"),
                 ("checkpoint", "create", missing)):
        p = run(*args)
        assert p.returncode == 1, (args, p.stderr)
        assert p.stderr.startswith(b"shale: NOT_FOUND: ")
    assert not missing.exists()


def test_reads_never_take_the_writer_role(db):
    """Reads, lists and stats write no manifest version and leave the writer epoch alone, so
    they cannot fence a writer running in another process."""
    before = json.loads(out("dump", "manifest", db, "--json"))
    ok("get", db, "alpha")
    ok("scan", db)
    ok("checkpoint", "list", db)
    ok("stats", db)
    after = json.loads(out("dump", "manifest", db, "--json"))
    assert after["id"] == before["id"] and after["writer_epoch"] == before["writer_epoch"]


def find_crash_writer():
    if not CLI:
        return None
    w = Path(CLI).parent / "shale-crash-writer"
    return str(w) if w.is_file() else None


@pytest.mark.skipif(find_crash_writer() is None, reason="shale-crash-writer is not built next to shale-cli")
def test_reads_beside_a_live_writer_process(tmp_path):
    """get/scan/checkpoint list/stats/dump run while another process writes, and the writer
    keeps writing afterwards (it was not fenced)."""
    import select
    import time

    path = tmp_path / "live"
    w = subprocess.Popen([find_crash_writer(), str(path), "puts", "7"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def acked(n, timeout=15.0):
            """Reads the writer's lines until n puts are acknowledged."""
            deadline = time.time() + timeout
            buf = b""
            while buf.count(b"\nput ") + buf.startswith(b"put ") < n:
                assert time.time() < deadline, buf[-200:]
                r, _, _ = select.select([w.stdout], [], [], 0.5)
                if r:
                    chunk = os.read(w.stdout.fileno(), 65536)
                    assert chunk, w.stderr.read()
                    buf += chunk
            return buf

        acked(20)
        assert ok("get", path, "k0").stdout.startswith(b"v0.")
        assert out("scan", path, "--limit", "3").startswith("k0\t")
        ok("checkpoint", "list", path)
        ok("stats", path)
        ok("dump", "manifest", path)
        acked(50)  # still acknowledging writes: not fenced
        assert w.poll() is None
    finally:
        w.kill()
        w.wait()
