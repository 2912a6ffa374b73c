import Foundation
import XCTest
@testable import Shale

/// Damage to a sealed (rolled) WAL segment that recovery still has to replay.
final class SealedSegmentDamageTests: XCTestCase {
    override func tearDown() {
        Syscalls.faultInjector = nil
        super.tearDown()
    }

    /// Only a torn tail of the newest segment is the end of the log (DESIGN.md §3). A sealed
    /// segment 1 whose last 30 bytes are zeroed (footer and the end of its last record) must
    /// fail the open with CORRUPTION naming the file, not drop its last record while segment
    /// 2's later records are replayed. Segment 1 stays in the replay range because table
    /// writes fail (ENOSPC), so its memtable is never flushed.
    func testDamagedSealedSegmentIsCorruption() throws {
        let l = TestLocation.directory("shale-sealed-damage")
        defer { l.cleanup() }
        let root = l.location
        // Flushes cannot write tables, so segment 1 is never retired.
        Syscalls.faultInjector = { call, path in
            call == .write && path.hasPrefix(root + "/sst/") ? ENOSPC : nil
        }
        let opts = try makeOptions([("memtable_bytes", "64KiB"), ("wal_sync", "always")])
        let db = try DB.open(root, options: opts)
        var written: [[UInt8]] = []
        let value = [UInt8](repeating: 0x33, count: 1000)
        var i = 0
        // Write until the memtable switches to segment 2, then a few more.
        let seg2 = root + "/" + WALFormat.segmentName(2)
        while !FileManager.default.fileExists(atPath: seg2) {
            guard i < 1000 else { return XCTFail("the memtable never switched") }
            let k = bytes(String(format: "key%05d", i))
            try db.put(k, value)
            written.append(k)
            i += 1
        }
        for _ in 0..<5 {
            let k = bytes(String(format: "key%05d", i))
            try db.put(k, value)
            written.append(k)
            i += 1
        }
        try? db.close()  // reports the failed flush
        Syscalls.faultInjector = nil

        let seg1 = root + "/" + WALFormat.segmentName(1)
        var data = try XCTUnwrap(FileManager.default.contents(atPath: seg1))
        XCTAssertTrue(data.withUnsafeBytes { FileEnvelope.hasFooter(UnsafeRawBufferPointer($0)) }, "segment 1 should be sealed")
        let n = data.count
        data.replaceSubrange((n - 30)..<n, with: [UInt8](repeating: 0, count: 30))
        try data.write(to: URL(fileURLWithPath: seg1))

        do {
            let again = try DB.open(root, options: try makeOptions([("memtable_bytes", "64KiB")]))
            defer { try? again.close() }
            let missing = try written.filter { try again.get($0) == nil }.map { String(decoding: $0, as: UTF8.self) }
            XCTFail("opened a database whose sealed WAL segment 1 is damaged; missing keys: \(missing) of \(written.count)")
        } catch let e as ShaleError {
            XCTAssertEqual(e.status, .corruption, "\(e)")
            XCTAssertTrue(e.message.contains("00000000000000000001.wal"), e.message)
        }
    }
}
