import Foundation
import XCTest
@testable import Shale

/// With wal_sync=always, concurrent writers share fsyncs.
final class GroupCommitTests: XCTestCase {
    func testConcurrentWritersShareSyncs() throws {
        let l = TestLocation.directory("shale-groupcommit")
        defer { l.cleanup() }
        let threads = 8
        let perThread = 200
        let db = try DB.open(l.location, options: makeOptions([("wal_sync", "always")]))
        let problems = ProblemLog()
        let workers = (0..<threads).map { t in
            BackgroundThread {
                for i in 0..<perThread {
                    do {
                        try db.put(bytes("t\(t)-\(i)"), bytes("value \(t) \(i)"))
                    } catch {
                        problems.add("thread \(t) put \(i): \(error)")
                        return
                    }
                }
            }
        }
        for w in workers { w.join() }
        XCTAssertEqual(problems.all, [])
        let total = threads * perThread
        let groups = try stat(db, "commit_groups")
        let syncs = try stat(db, "wal_syncs")
        print("group commit: \(total) puts in \(groups) groups with \(syncs) WAL syncs")
        XCTAssertEqual(try stat(db, "puts"), total)
        XCTAssertLessThan(groups, total, "no two writers ever shared a commit group")
        XCTAssertGreaterThan(groups, 0)
        XCTAssertGreaterThan(syncs, 0, "wal_sync=always must fsync")
        XCTAssertLessThanOrEqual(syncs, groups, "more WAL syncs than commit groups")
        try db.close()

        let again = try DB.open(l.location)
        defer { try? again.close() }
        for t in 0..<threads {
            for i in 0..<perThread {
                XCTAssertEqual(try again.get(bytes("t\(t)-\(i)")), bytes("value \(t) \(i)"), "t\(t)-\(i)")
            }
        }
        XCTAssertEqual(try scanAll(again).count, total)
    }

    /// Every acknowledged write is durable with wal_sync=always: each put returns after its
    /// group's fsync, so the number of syncs equals the number of groups.
    func testEveryGroupIsSynced() throws {
        let l = TestLocation.directory("shale-groupcommit-seq")
        defer { l.cleanup() }
        let db = try DB.open(l.location, options: makeOptions([("wal_sync", "always")]))
        for i in 0..<50 { try db.put(bytes("k\(i)"), bytes("v")) }
        XCTAssertEqual(try stat(db, "commit_groups"), 50, "one writer: one group per put")
        XCTAssertEqual(try stat(db, "wal_syncs"), 50)
        try db.close()
    }
}

/// The other WAL sync policies.
final class WALSyncPolicyTests: XCTestCase {
    func testFlushSyncsWithPolicyNone() throws {
        let l = TestLocation.directory("shale-sync-none")
        defer { l.cleanup() }
        let db = try DB.open(l.location, options: makeOptions([("wal_sync", "none")]))
        defer { try? db.close() }
        for i in 0..<20 { try db.put(bytes("k\(i)"), bytes("v")) }
        XCTAssertEqual(try stat(db, "wal_syncs"), 0, "wal_sync=none must not fsync per write")
        try db.flush()
        XCTAssertEqual(try stat(db, "wal_syncs"), 1, "flush must fsync the WAL")
    }

    func testIntervalSyncsInTheBackground() throws {
        let l = TestLocation.directory("shale-sync-interval")
        defer { l.cleanup() }
        let db = try DB.open(l.location, options: makeOptions([("wal_sync", "interval"), ("wal_flush_interval_ms", "20")]))
        defer { try? db.close() }
        for i in 0..<20 { try db.put(bytes("k\(i)"), bytes("v")) }
        XCTAssertEqual(try stat(db, "wal_syncs"), 0, "interval policy: writes return before any fsync")
        try waitFor("the interval syncer", timeout: 5) { try stat(db, "wal_syncs") >= 1 }
        // Nothing new written: the syncer has nothing to do.
        usleep(200_000)
        let n = try stat(db, "wal_syncs")
        usleep(200_000)
        XCTAssertEqual(try stat(db, "wal_syncs"), n, "the syncer fsyncs only when there is something new")
    }
}
