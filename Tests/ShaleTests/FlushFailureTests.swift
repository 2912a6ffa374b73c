import Foundation
import XCTest
@testable import Shale

/// Table writes fail (a full disk): writers must get an error instead of hanging, reads keep
/// working, and every acknowledged write survives a reopen once the disk has room.
final class FlushFailureTests: XCTestCase {
    override func tearDown() {
        Syscalls.faultInjector = nil
        super.tearDown()
    }

    func testFullDiskDuringFlush() throws {
        let l = TestLocation.directory("shale-flushfail")
        defer { l.cleanup() }
        let root = l.location
        Syscalls.faultInjector = { call, path in
            call == .write && path.hasPrefix(root + "/sst/") ? ENOSPC : nil
        }
        let opts = try makeOptions([("memtable_bytes", "64KiB")])
        let db = try DB.open(root, options: opts)
        var acked: [[UInt8]: [UInt8]] = [:]
        var failure: ShaleError? = nil
        let started = Date()
        for i in 0..<5000 {
            let k = bytes(String(format: "key%05d", i))
            let v = [UInt8](repeating: UInt8(i & 0xff), count: 500)
            do {
                try db.put(k, v)
                acked[k] = v
            } catch let e as ShaleError {
                failure = e
                break
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "writers stalled on a flush that cannot succeed")
        let e = try XCTUnwrap(failure, "5000 writes of 500 bytes with a 64 KiB memtable and no table writes all succeeded")
        XCTAssertEqual(e.status, .ioError, "\(e)")
        XCTAssertTrue(e.message.contains("ENOSPC"), e.message)
        // Everything acknowledged is still readable.
        for (k, v) in acked { XCTAssertEqual(try db.get(k), v) }
        XCTAssertEqual(try scanAll(db).count, acked.count)
        let stats = try db.statsJSON()
        XCTAssertTrue(stats.contains("ENOSPC"), "stats should carry the background error: \(stats)")
        XCTAssertThrowsError(try db.close(), "close should report the failed flush")
        Syscalls.faultInjector = nil
        XCTAssertEqual(l.dir!.allFiles().filter { $0.contains(".tmp-") }, [], "temporary table files left behind")

        let again = try DB.open(root, options: opts)
        for (k, v) in acked { XCTAssertEqual(try again.get(k), v, String(decoding: k, as: UTF8.self)) }
        XCTAssertEqual(try scanAll(again).count, acked.count)
        // And the database works normally again.
        for i in 0..<2000 { try again.put(bytes("after\(i)"), [UInt8](repeating: 1, count: 200)) }
        try waitFor("a flush after the disk has room", timeout: 30) { try stat(again, "flushes") > 0 }
        try again.close()
        let third = try DB.open(root, options: opts)
        XCTAssertEqual(try scanAll(third).count, acked.count + 2000)
        try third.close()
    }

    /// A failing WAL append makes the write fail, and later writes too (the log may end in a
    /// partial record); a reopen keeps what was acknowledged before.
    func testWALWriteFailureStopsWrites() throws {
        let l = TestLocation.directory("shale-walfail")
        defer { l.cleanup() }
        let root = l.location
        let db = try DB.open(root)
        try db.put(bytes("before"), bytes("1"))
        Syscalls.faultInjector = { call, path in
            call == .write && path.hasPrefix(root + "/wal/") ? EIO : nil
        }
        let e = assertThrowsStatus(.ioError, "put with the WAL failing") { try db.put(bytes("during"), bytes("2")) }
        XCTAssertTrue(e?.message.contains("wal/") ?? false, "\(String(describing: e))")
        Syscalls.faultInjector = nil
        assertThrowsStatus(.ioError, "put after a WAL failure") { try db.put(bytes("after"), bytes("3")) }
        XCTAssertEqual(try db.get(bytes("before")), bytes("1"))
        XCTAssertNil(try db.get(bytes("during")), "a failed write must not become visible")
        try? db.close()
        let again = try DB.open(root)
        defer { try? again.close() }
        XCTAssertEqual(try again.get(bytes("before")), bytes("1"))
        XCTAssertNil(try again.get(bytes("during")))
        XCTAssertNil(try again.get(bytes("after")))
        try again.put(bytes("new"), bytes("4"))
        XCTAssertEqual(try again.get(bytes("new")), bytes("4"))
    }
}
