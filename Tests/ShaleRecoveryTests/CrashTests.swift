import Foundation
import Shale
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Real crashes: a writer process is killed with SIGKILL at a random moment (mid-write,
/// mid-flush, mid-compaction, mid-open), again and again on the same directory. After each
/// kill the database is reopened here and must hold every acknowledged write, every batch
/// whole or not at all, and no acknowledged delete undone.
final class CrashTests: XCTestCase {
    func testRepeatedSigkillKeepsAcknowledgedWrites() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["SHALE_CRASH_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("CrashTests seed: \(seed) (rerun with SHALE_CRASH_SEED=\(seed))")
        var rng = SplitMix(seed: seed)
        let dir = makeTempDir("crash")
        let logs = makeTempDir("crash-logs")
        defer { removeDir(dir); removeDir(logs) }

        let rounds = 25
        let modes = ["mixed", "puts", "batches"]
        var ledger = Ledger()
        var maxTables = 0
        let started = Date()
        for round in 0..<rounds {
            let mode = modes[round % modes.count]
            let runMs = 50 + Int(rng.next() % 351)
            let run = try WriterRun(dir: dir, mode: mode, seed: seed &+ UInt64(round), start: round * 1_000_000, logDir: logs)
            usleep(UInt32(runMs * 1000))
            run.killHard()
            let lines = run.stdoutLines
            let err = run.stderrText
            XCTAssertTrue(err.isEmpty, "round \(round): writer reported an error: \(err)")
            ledger.absorb(lines)

            // A read-only open (no manifest written, no WAL created) sees the same state as
            // the writer's recovery below.
            // BUG: when the kill lands between creating a new WAL segment and writing its
            // header, the read-only open fails with CORRUPTION "wal/<id>.wal: too short for a
            // header (0 bytes)" while the writer's open accepts the same state (see
            // CrashStateTests.testReadOnlyOpenAfterKillDuringSegmentCreation).
            var readOnlyView = ledger
            var readOnlyOpened = false
            do {
                var ro = Options()
                ro.readOnly = true
                let reader = try DB.open(dir, options: ro)
                XCTAssertEqual(try readOnlyView.verify(reader), [], "round \(round): read-only open after the crash")
                try reader.close()
                readOnlyOpened = true
            } catch {
                XCTFail("round \(round) (seed \(seed)): read-only open failed: \(error)")
            }

            let db: DB
            do {
                db = try DB.open(dir)
            } catch {
                XCTFail("round \(round) (seed \(seed), mode \(mode), killed after \(runMs) ms): reopen failed: \(error)")
                return
            }
            let problems = try ledger.verify(db)
            XCTAssertEqual(problems, [], "round \(round) (seed \(seed), mode \(mode), killed after \(runMs) ms)")
            XCTAssertTrue(!readOnlyOpened || ledger.present == readOnlyView.present && ledger.absent == readOnlyView.absent && ledger.slots == readOnlyView.slots,
                          "round \(round): the read-only open and the writer's recovery disagree on the write in flight")
            let tables = listDir("\(dir)/sst").count
            maxTables = max(maxTables, tables)
            XCTAssertNoThrow(try db.close(), "round \(round): close")
            if !problems.isEmpty { break }
        }
        print("CrashTests: \(rounds) rounds, \(ledger.acknowledged) acknowledged writes, up to \(maxTables) tables, \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        XCTAssertGreaterThan(ledger.acknowledged, rounds, "the writer should acknowledge writes in most rounds")

        // One last reopen: everything still there after a clean close too.
        let db = try DB.open(dir)
        XCTAssertEqual(try ledger.verify(db), [])
        try db.close()
    }

    /// Kills the writer very early (during open and WAL replay) between normal rounds: a crash
    /// during recovery must not lose what the previous run acknowledged.
    func testSigkillDuringRecovery() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["SHALE_CRASH_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("CrashTests recovery seed: \(seed)")
        var rng = SplitMix(seed: seed)
        let dir = makeTempDir("crash-recovery")
        let logs = makeTempDir("crash-recovery-logs")
        defer { removeDir(dir); removeDir(logs) }
        var ledger = Ledger()
        for round in 0..<8 {
            // A normal run leaves a WAL to replay...
            let run = try WriterRun(dir: dir, mode: "mixed", seed: seed &+ UInt64(round), start: round * 2_000_000, logDir: logs)
            usleep(UInt32(150_000 + Int(rng.next() % 200_000)))
            run.killHard()
            ledger.absorb(run.stdoutLines)
            // ...then a run killed within its first milliseconds, mostly inside open.
            let early = try WriterRun(dir: dir, mode: "puts", seed: seed &+ 1000 &+ UInt64(round),
                                      start: round * 2_000_000 + 1_000_000, logDir: logs)
            usleep(UInt32(Int(rng.next() % 40_000)))
            early.killHard()
            // Its lines (if it got that far) are acknowledged writes too.
            ledger.absorb(early.stdoutLines)

            let db = try DB.open(dir)
            let problems = try ledger.verify(db)
            XCTAssertEqual(problems, [], "round \(round) (seed \(seed))")
            try db.close()
            if !problems.isEmpty { break }
        }
    }
}

/// Crash states built by hand, for the cases a random SIGKILL only hits now and then.
final class CrashStateTests: XCTestCase {
    // BUG: a writer killed after creating its next WAL segment but before writing the header
    // leaves an empty wal/<id>.wal. The writer's open handles that (an empty log), but a
    // read-only open fails: CORRUPTION "<dir>/wal/<id>.wal: too short for a header (0 bytes)".
    // Reproduction: make the header write of the next segment fail (fault injector), so the
    // full memtable's segment is sealed and the next one exists with 0 bytes; copy the
    // directory; open the copy with read_only=true.
    func testReadOnlyOpenAfterKillDuringSegmentCreation() throws {
        let dir = makeTempDir("crash-empty-segment")
        let crashed = makeTempDir("crash-empty-segment-copy")
        defer { removeDir(dir); removeDir(crashed); Syscalls.faultInjector = nil }
        let db = try DB.open(dir, options: smallOptions())
        let ids = listDir("\(dir)/wal").compactMap { WALFormat.segmentId(fromName: "wal/" + $0) }
        let next = WALFormat.segmentName((ids.max() ?? 0) + 1)
        // The header write of the next segment fails: the live segment is sealed and the next
        // one exists, empty. That is the state a kill at that instant leaves.
        Syscalls.faultInjector = { c, path in c == .write && path.hasSuffix("/" + next) ? EIO : nil }
        var acked = 0
        while acked < 5000 {
            do { try db.put(bytes("k\(acked)"), WriterData.putValue(acked)) } catch { break }
            acked += 1
        }
        Syscalls.faultInjector = nil
        XCTAssertEqual(readFile("\(dir)/\(next)").count, 0, "\(next) should exist and be empty")
        try copyDir(dir, to: crashed)
        _ = try? db.close()

        var ro = Options()
        ro.readOnly = true
        do {
            let reader = try DB.open(crashed, options: ro)
            for i in 0..<acked { XCTAssertEqual(try reader.get(bytes("k\(i)")), WriterData.putValue(i)) }
            try reader.close()
        } catch {
            XCTFail("read-only open of a database whose writer died while creating a WAL segment: \(error)")
        }
        // The writer's open accepts the same state.
        let w = try DB.open(crashed)
        for i in 0..<acked { XCTAssertEqual(try w.get(bytes("k\(i)")), WriterData.putValue(i)) }
        try w.close()
    }
}

/// The checker itself: damage the database by hand after a crash and it must notice.
final class LedgerSelfTests: XCTestCase {
    func testLedgerNoticesLostAndWrongWrites() throws {
        let dir = makeTempDir("ledger")
        let logs = makeTempDir("ledger-logs")
        defer { removeDir(dir); removeDir(logs) }
        let run = try WriterRun(dir: dir, mode: "mixed", seed: 42, start: 0, logDir: logs)
        run.wait(timeout: 20) { ackCount($0) >= 60 }
        run.killHard()
        var ledger = Ledger()
        ledger.absorb(run.stdoutLines)
        var probe = ledger
        let db = try DB.open(dir)
        XCTAssertEqual(try probe.verify(db), [], "the undamaged database passes")
        // Now lose one acknowledged put, tear one batch and resurrect one deleted key.
        let put = try XCTUnwrap(ledger.present.sorted().first)
        try db.delete(bytes("k\(put)"))
        let slot = try XCTUnwrap(ledger.slots.keys.sorted().first)
        try db.put(bytes("b\(slot)-3"), WriterData.batchValue(ledger.slots[slot]! + 16, 3))
        if let gone = ledger.absent.sorted().first { try db.put(bytes("k\(gone)"), WriterData.putValue(gone)) }
        try db.put(bytes("zzz"), bytes("stray"))
        var damaged = ledger
        damaged.inFlight = []
        let problems = try damaged.verify(db)
        XCTAssertTrue(problems.contains { $0.hasPrefix("k\(put):") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasPrefix("slot \(slot):") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("stray key zzz") }, "\(problems)")
        if let gone = ledger.absent.sorted().first { XCTAssertTrue(problems.contains { $0.hasPrefix("k\(gone):") }, "\(problems)") }
        try db.close()
    }
}

/// SplitMix64, for the test's own random choices.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
