import Foundation
import Shale
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Failing system calls (through `Syscalls.faultInjector`): a WAL write or fsync that fails
/// makes the write fail with IO_ERROR naming the file and errno, and every later write fail
/// the same way, while reads go on; after a reopen every write acknowledged before the fault
/// is there. A manifest that cannot be written during a flush is reported in stats and loses
/// nothing.
final class FaultInjectionTests: XCTestCase {
    override func tearDown() {
        Syscalls.faultInjector = nil
        super.tearDown()
    }

    static func value(_ i: Int) -> [UInt8] { bytes("value-\(i)-" + String(repeating: "q", count: 100 + i % 300)) }

    /// Writes `count` puts "k<i>" and returns the keys acknowledged.
    func writeSome(_ db: DB, from: Int, count: Int) throws -> [Int] {
        var acked: [Int] = []
        for i in from..<(from + count) {
            try db.put(bytes("k\(i)"), Self.value(i))
            acked.append(i)
        }
        return acked
    }

    /// Reopens and checks every acknowledged key; `maybe` keys may be present (with the right
    /// value) or absent: their put failed, so it may or may not have reached the log.
    func reopenAndCheck(_ dir: String, acked: [Int], maybe: [Int], deleted: [Int] = [],
                        file: StaticString = #filePath, line: UInt = #line) throws {
        let db = try DB.open(dir, options: smallOptions())
        for i in acked { XCTAssertEqual(try db.get(bytes("k\(i)")), Self.value(i), "k\(i) after reopen", file: file, line: line) }
        for i in maybe {
            if let v = try db.get(bytes("k\(i)")) { XCTAssertEqual(v, Self.value(i), "k\(i): failed put left a wrong value", file: file, line: line) }
        }
        for i in deleted { XCTAssertNil(try db.get(bytes("k\(i)")), "k\(i) was deleted", file: file, line: line) }
        // And the database accepts writes again.
        try db.put(bytes("after-reopen"), bytes("ok"))
        XCTAssertEqual(try db.get(bytes("after-reopen")), bytes("ok"))
        try db.close()
    }

    /// The put fails with IO_ERROR naming a WAL file and the errno; later writes fail too
    /// (sticky); gets still answer.
    func assertStickyWALFailure(_ db: DB, acked: [Int], errnoName: String, next: Int,
                                file: StaticString = #filePath, line: UInt = #line) -> [Int] {
        var failed: [Int] = []
        XCTAssertThrowsError(try db.put(bytes("k\(next)"), Self.value(next)), file: file, line: line) { e in
            XCTAssertEqual(shaleStatus(e), .ioError, "\(e)", file: file, line: line)
            let m = (e as? ShaleError)?.message ?? ""
            XCTAssertTrue(m.contains("/wal/") && m.contains(".wal"), "the error should name the WAL file: \(m)", file: file, line: line)
            XCTAssertTrue(m.contains(errnoName), "the error should name \(errnoName): \(m)", file: file, line: line)
        }
        failed.append(next)
        // Sticky: writes keep failing, even with the fault gone.
        Syscalls.faultInjector = nil
        for j in 1...3 {
            XCTAssertThrowsError(try db.put(bytes("k\(next + j)"), Self.value(next + j)), file: file, line: line) { e in
                XCTAssertEqual(shaleStatus(e), .ioError, "later put: \(e)", file: file, line: line)
            }
            failed.append(next + j)
        }
        XCTAssertThrowsError(try db.delete(bytes("k\(acked[0])")), file: file, line: line) { e in
            XCTAssertEqual(shaleStatus(e), .ioError, "later delete: \(e)", file: file, line: line)
        }
        let b = WriteBatch()
        try? b.put(bytes("k\(next + 10)"), Self.value(next + 10))
        XCTAssertThrowsError(try db.write(b), file: file, line: line)
        failed.append(next + 10)
        XCTAssertThrowsError(try db.flush(), "flush after a WAL failure", file: file, line: line)
        // Reads still work and see every acknowledged write.
        for i in acked { XCTAssertEqual(try db.get(bytes("k\(i)")), Self.value(i), "get k\(i) after the fault", file: file, line: line) }
        return failed
    }

    func walFault(_ call: Syscalls.Call, _ err: Int32, errnoName: String, sync: WALSyncPolicy = .always) throws {
        let dir = makeTempDir("fault-\(call.rawValue)")
        defer { removeDir(dir) }
        var opts = smallOptions(sync: sync)
        opts.memtableBytes = 16 << 20   // no memtable switch: the live segment takes the fault
        let db = try DB.open(dir, options: opts)
        let acked = try writeSome(db, from: 0, count: 300)
        try db.delete(bytes("k7"))
        let live = acked.filter { $0 != 7 }
        Syscalls.faultInjector = { c, path in c == call && path.contains("/wal/") ? err : nil }
        let failed = assertStickyWALFailure(db, acked: live, errnoName: errnoName, next: 1000)
        XCTAssertNil(try db.get(bytes("k7")))
        Syscalls.faultInjector = nil
        do { try db.close() } catch {
            XCTAssertEqual(shaleStatus(error), .ioError, "close after a WAL fault: \(error)")
        }
        try reopenAndCheck(dir, acked: live, maybe: failed, deleted: [7])
    }

    func testWALFsyncEIO() throws { try walFault(.fsync, EIO, errnoName: "EIO") }

    func testWALFsyncENOSPC() throws { try walFault(.fsync, ENOSPC, errnoName: "ENOSPC") }

    func testWALWriteEIO() throws { try walFault(.write, EIO, errnoName: "EIO") }

    func testWALWriteENOSPC() throws { try walFault(.write, ENOSPC, errnoName: "ENOSPC") }

    /// The fault hits when the memtable is full and a new segment must be created.
    func testWALSegmentCreationENOSPC() throws {
        let dir = makeTempDir("fault-roll")
        defer { removeDir(dir) }
        let db = try DB.open(dir, options: smallOptions())
        var acked = try writeSome(db, from: 0, count: 50)
        Syscalls.faultInjector = { c, path in c == .open && path.contains("/wal/") ? ENOSPC : nil }
        var failedAt: Int? = nil
        for i in 50..<2000 {
            do {
                try db.put(bytes("k\(i)"), Self.value(i))
                acked.append(i)
            } catch {
                XCTAssertEqual(shaleStatus(error), .ioError, "\(error)")
                XCTAssertTrue("\(error)".contains("ENOSPC") && "\(error)".contains("/wal/"), "\(error)")
                failedAt = i
                break
            }
        }
        let first = try XCTUnwrap(failedAt, "no put failed although no WAL segment can be created")
        Syscalls.faultInjector = nil
        // Nothing was half-written, so the engine may refuse further writes (sticky) or retry
        // the roll; either way what it acknowledges must survive.
        var maybe = [first]
        for i in (first + 1)..<(first + 400) {
            do {
                try db.put(bytes("k\(i)"), Self.value(i))
                acked.append(i)
            } catch {
                XCTAssertEqual(shaleStatus(error), .ioError, "after the fault: \(error)")
                maybe.append(i)
                break
            }
        }
        for i in acked where i % 13 == 0 { XCTAssertEqual(try db.get(bytes("k\(i)")), Self.value(i)) }
        _ = try? db.close()
        try reopenAndCheck(dir, acked: acked, maybe: maybe)
    }

    /// wal_sync=interval: the background syncer meets the fault; later writes fail.
    func testIntervalSyncFailureIsReportedToWriters() throws {
        let dir = makeTempDir("fault-interval")
        defer { removeDir(dir) }
        var opts = smallOptions(sync: .interval)
        opts.walFlushIntervalMs = 10
        opts.memtableBytes = 16 << 20
        let db = try DB.open(dir, options: opts)
        var acked = try writeSome(db, from: 0, count: 100)
        try db.flush()   // durable now
        let durable = acked
        Syscalls.faultInjector = { c, path in c == .fsync && path.contains("/wal/") ? EIO : nil }
        var failed = false
        var maybe: [Int] = []
        for i in 100..<400 {
            do {
                try db.put(bytes("k\(i)"), Self.value(i))
                acked.append(i)
                maybe.append(i)
            } catch {
                XCTAssertEqual(shaleStatus(error), .ioError, "\(error)")
                XCTAssertTrue("\(error)".contains("EIO"), "\(error)")
                maybe.append(i)
                failed = true
                break
            }
            usleep(2_000)
        }
        XCTAssertTrue(failed, "the syncer's fsync failure never reached a writer")
        XCTAssertThrowsError(try db.flush(), "flush must report that acknowledged writes are not durable")
        Syscalls.faultInjector = nil
        for i in acked { XCTAssertEqual(try db.get(bytes("k\(i)")), Self.value(i)) }
        _ = try? db.close()
        // Writes acknowledged under interval sync after the last good fsync were never promised
        // durable; those before the explicit flush were.
        try reopenAndCheck(dir, acked: durable, maybe: maybe)
    }

    /// A flush whose manifest cannot be written: the error shows in stats, reads and the
    /// acknowledged writes survive a reopen.
    func testManifestWriteFailureDuringFlush() throws {
        let dir = makeTempDir("fault-manifest")
        defer { removeDir(dir) }
        let db = try DB.open(dir, options: smallOptions())
        var acked = try writeSome(db, from: 0, count: 200)
        Syscalls.faultInjector = { c, path in (c == .link || c == .rename) && path.contains("/manifest/") ? EIO : nil }
        // Write until the memtable switches and the background flush fails.
        var i = 200
        var background = "null"
        let deadline = Date().addingTimeInterval(20)
        while background == "null" && Date() < deadline && i < 3000 {
            try db.put(bytes("k\(i)"), Self.value(i))
            acked.append(i)
            i += 1
            background = statsField(try db.statsJSON(), "background_error") ?? "missing"
        }
        while background == "null" && Date() < deadline {
            usleep(10_000)
            background = statsField(try db.statsJSON(), "background_error") ?? "missing"
        }
        XCTAssertNotEqual(background, "null", "a failed flush must show in stats")
        XCTAssertTrue(background.contains("IO_ERROR") && background.contains("manifest") && background.contains("EIO"),
                      "background_error should name the status, the manifest file and the errno: \(background)")
        for k in acked { XCTAssertEqual(try db.get(bytes("k\(k)")), Self.value(k), "get k\(k) with a failed flush") }
        Syscalls.faultInjector = nil
        do { try db.close() } catch {
            XCTAssertEqual(shaleStatus(error), .ioError, "close reports the background error: \(error)")
        }
        try reopenAndCheck(dir, acked: acked, maybe: [])
    }

    /// After a failed flush, writers keep going until the immutable-memtable queue is full;
    /// from then on each write must fail (or succeed), not wait forever.
    // Regression: writers used to wait forever here (the background thread never retried
    // the failed flush, and makeRoomForWrite kept waiting for room in the immutable queue).
    func testWritesAfterFailedFlushDoNotHang() throws {
        let dir = makeTempDir("fault-stall")
        let db = try DB.open(dir, options: smallOptions())
        Syscalls.faultInjector = { c, path in (c == .link || c == .rename) && path.contains("/manifest/") ? EIO : nil }
        let acked = Box<[Int]>([])
        let errors = Box<[String]>([])
        // 4 MiB of puts: far more than the memtable and its queue of immutable memtables.
        let finished = withTimeout(20, "puts after a failed flush") {
            for i in 0..<10_000 {
                do {
                    try db.put(bytes("k\(i)"), FaultInjectionTests.value(i))
                    acked.value.append(i)
                } catch {
                    errors.value.append("\(error)")
                    if errors.value.count >= 3 { return }
                }
            }
        }
        Syscalls.faultInjector = nil
        let stats = try db.statsJSON()
        if !finished {
            print("FaultInjectionTests: writer stuck after \(acked.value.count) puts; stats: \(stats)")
            // The stuck put keeps the handle busy: leave it, and fence it with a new open.
            let again = try DB.open(dir, options: smallOptions())
            for i in acked.value { XCTAssertEqual(try again.get(bytes("k\(i)")), Self.value(i)) }
            try again.close()
            return
        }
        defer { removeDir(dir) }
        XCTAssertFalse(errors.value.isEmpty, "puts went on without bound although nothing can be flushed")
        for e in errors.value { XCTAssertTrue(e.contains("IO_ERROR"), e) }
        _ = try? db.close()
        try reopenAndCheck(dir, acked: acked.value, maybe: [])
    }

    /// A table that cannot be written (fsync of its temporary file fails) during a flush: like
    /// a manifest failure, reported in stats, nothing acknowledged lost.
    func testTableWriteFailureDuringFlush() throws {
        let dir = makeTempDir("fault-sst")
        defer { removeDir(dir) }
        let db = try DB.open(dir, options: smallOptions())
        var acked = try writeSome(db, from: 0, count: 100)
        Syscalls.faultInjector = { c, path in c == .fsync && path.contains("/sst/") ? ENOSPC : nil }
        var background = "null"
        var i = 100
        let deadline = Date().addingTimeInterval(20)
        while background == "null" && Date() < deadline {
            do {
                try db.put(bytes("k\(i)"), Self.value(i))
                acked.append(i)
            } catch {
                XCTAssertEqual(shaleStatus(error), .ioError, "\(error)")
                break
            }
            i += 1
            background = statsField(try db.statsJSON(), "background_error") ?? "missing"
            if background == "null" && i > 3000 { usleep(10_000) }
        }
        XCTAssertTrue(background.contains("ENOSPC") && background.contains("/sst/"), "background_error: \(background)")
        for k in acked where k % 7 == 0 { XCTAssertEqual(try db.get(bytes("k\(k)")), Self.value(k)) }
        Syscalls.faultInjector = nil
        _ = try? db.close()
        try reopenAndCheck(dir, acked: acked, maybe: [i])
        // No half-written table is left where the next open would read it.
        for name in listDir("\(dir)/sst") { XCTAssertTrue(name.hasSuffix(".sst"), "stray file sst/\(name)") }
    }

    /// An open that fails to claim its manifest version (EIO on the link) reports IO_ERROR and
    /// leaves the database as it was: the next open works and has everything.
    func testFailedOpenLeavesDatabaseUsable() throws {
        let dir = makeTempDir("fault-open")
        defer { removeDir(dir) }
        let db = try DB.open(dir, options: smallOptions())
        let acked = try writeSome(db, from: 0, count: 400)
        try db.close()
        for call in [Syscalls.Call.link, .fsync, .open] {
            Syscalls.faultInjector = { c, path in c == call && path.contains("/manifest/") ? EIO : nil }
            XCTAssertThrowsError(try DB.open(dir, options: smallOptions()), "open with \(call) failing") { e in
                XCTAssertEqual(shaleStatus(e), .ioError, "\(call): \(e)")
            }
            Syscalls.faultInjector = nil
        }
        // The WAL cannot be created: the open fails.
        Syscalls.faultInjector = { c, path in c == .open && path.contains("/wal/") ? ENOSPC : nil }
        XCTAssertThrowsError(try DB.open(dir, options: smallOptions())) { e in
            XCTAssertEqual(shaleStatus(e), .ioError, "\(e)")
        }
        Syscalls.faultInjector = nil
        try reopenAndCheck(dir, acked: acked, maybe: [])
        try reopenAndCheck(dir, acked: acked, maybe: [])
    }

    /// Deleting obsolete files fails (EACCES on unlink): garbage stays, but nothing
    /// acknowledged is lost and a reopen works.
    func testUnlinkFailureLosesNothing() throws {
        let dir = makeTempDir("fault-unlink")
        defer { removeDir(dir) }
        let db = try DB.open(dir, options: smallOptions())
        Syscalls.faultInjector = { c, _ in c == .unlink ? EACCES : nil }
        var acked: [Int] = []
        var firstError: String? = nil
        for i in 0..<1500 {
            do {
                try db.put(bytes("k\(i)"), Self.value(i))
                acked.append(i)
            } catch {
                firstError = "\(error)"
                break
            }
        }
        let stats = try db.statsJSON()
        print("FaultInjectionTests: with unlink failing, \(acked.count) of 1500 puts succeeded; first error: \(firstError ?? "none"); background_error: \(statsField(stats, "background_error") ?? "?")")
        Syscalls.faultInjector = nil
        _ = try? db.close()
        try reopenAndCheck(dir, acked: acked, maybe: firstError == nil ? [] : [acked.count])
    }

    /// The directory fsync after creating the next WAL segment fails: the segment file exists
    /// (empty) but the roll failed. Writes may keep failing; nothing acknowledged is lost and
    /// the next open copes with the empty segment.
    // BUG: after that failure every later put, and close, fail with FENCED "<dir>/wal/<next>.wal
    // belongs to another writer; reopen to continue", although no other writer exists: the
    // retried roll finds the writer's own leftover empty segment (EEXIST) and reports it as a
    // fence. Expected: the I/O error (sticky IO_ERROR), never FENCED without a second writer.
    // Reproduction: smallOptions (memtable 64KiB, wal_sync=always); faultInjector returns EIO
    // for .fsync on paths ending in "/wal"; put until the first IO_ERROR; clear the injector;
    // the next put fails with FENCED.
    func testWALDirectoryFsyncFailureOnRoll() throws {
        let dir = makeTempDir("fault-walsyncdir")
        defer { removeDir(dir) }
        let db = try DB.open(dir, options: smallOptions())
        var acked = try writeSome(db, from: 0, count: 20)
        Syscalls.faultInjector = { c, path in c == .fsync && path.hasSuffix("/wal") ? EIO : nil }
        var failed: Int? = nil
        for i in 20..<3000 {
            do {
                try db.put(bytes("k\(i)"), Self.value(i))
                acked.append(i)
            } catch {
                XCTAssertEqual(shaleStatus(error), .ioError, "\(error)")
                XCTAssertTrue("\(error)".contains("EIO"), "\(error)")
                failed = i
                break
            }
        }
        let first = try XCTUnwrap(failed, "no put failed although the WAL directory cannot be synced")
        Syscalls.faultInjector = nil
        var maybe = [first]
        var later: [String] = []
        for i in (first + 1)..<(first + 50) {
            do {
                try db.put(bytes("k\(i)"), Self.value(i))
                acked.append(i)
            } catch {
                later.append("\(error)")
                maybe.append(i)
                if shaleStatus(error) == .fenced {
                    XCTFail("put after the roll failed, with no other writer, reports FENCED: \(error)")
                    break
                }
            }
        }
        print("FaultInjectionTests: after a failed WAL directory fsync, \(later.count) of 49 later puts failed\(later.first.map { ": " + $0 } ?? "")")
        var closeError = "none"
        do { try db.close() } catch {
            closeError = "\(error)"
            XCTAssertNotEqual(shaleStatus(error), .fenced, "close with no other writer: \(error)")
        }
        print("FaultInjectionTests: close after a failed WAL directory fsync: \(closeError)")
        try reopenAndCheck(dir, acked: acked, maybe: maybe)
    }
}
