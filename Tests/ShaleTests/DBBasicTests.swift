import Foundation
import XCTest
@testable import Shale

/// The database API end to end, on memory:// and on a local directory.
final class DBBasicTests: XCTestCase {
    var locations: [TestLocation] = []

    override func tearDown() {
        for l in locations { l.cleanup() }
        locations = []
        super.tearDown()
    }

    /// Runs `body` once on a fresh memory location and once on a fresh directory.
    func onBoth(_ body: (String) throws -> Void) throws {
        for l in [TestLocation.memory("dbbasic"), TestLocation.directory("shale-dbbasic")] {
            locations.append(l)
            try body(l.location)
        }
    }

    func open(_ location: String, _ pairs: [(String, String)] = []) throws -> DB {
        try DB.open(location, options: makeOptions(pairs))
    }

    let small: [(String, String)] = [("memtable_bytes", "64KiB")]

    func testPutGetDelete() throws {
        try onBoth { loc in
            let db = try open(loc)
            defer { try? db.close() }
            XCTAssertNil(try db.get(bytes("a")), loc)
            try db.put(bytes("a"), bytes("1"))
            try db.put(bytes("b"), bytes("2"))
            XCTAssertEqual(try db.get(bytes("a")), bytes("1"), loc)
            try db.put(bytes("a"), bytes("one"))
            XCTAssertEqual(try db.get(bytes("a")), bytes("one"), loc)
            try db.delete(bytes("a"))
            XCTAssertNil(try db.get(bytes("a")), loc)
            try db.delete(bytes("never-written"))
            XCTAssertEqual(try db.get(bytes("b")), bytes("2"), loc)
            // An empty value is a value, not an absence.
            try db.put(bytes("empty"), [])
            XCTAssertEqual(try db.get(bytes("empty")), [], loc)
            XCTAssertEqual(try scanAll(db).map(\.0), [bytes("b"), bytes("empty")], loc)
        }
    }

    func testBinaryKeysAndLimits() throws {
        try onBoth { loc in
            var db = try open(loc, small)
            let keys: [[UInt8]] = [[0], [0, 0], [0, 1], [1, 0, 0xFF], [0xFF], [0xFF, 0xFF, 0]]
            for (i, k) in keys.enumerated() { try db.put(k, [UInt8(i), 0, UInt8(i)]) }
            let big = [UInt8](repeating: 0xAB, count: Options.maxKeyBytes)
            try db.put(big, bytes("big key"))
            let tooBig = big + [1]
            assertThrowsStatus(.invalidArgument, "key over 64 KiB") { try db.put(tooBig, [1]) }
            assertThrowsStatus(.invalidArgument, "get with key over 64 KiB") { try db.get(tooBig) }
            assertThrowsStatus(.invalidArgument, "delete with key over 64 KiB") { try db.delete(tooBig) }
            assertThrowsStatus(.invalidArgument, "empty key put") { try db.put([], [1]) }
            assertThrowsStatus(.invalidArgument, "empty key get") { try db.get([]) }
            assertThrowsStatus(.invalidArgument, "empty key delete") { try db.delete([]) }
            let b = WriteBatch()
            assertThrowsStatus(.invalidArgument, "empty key in batch") { try b.put([], [1]) }
            assertThrowsStatus(.invalidArgument, "key over 64 KiB in batch") { try b.delete(tooBig) }

            func check(_ when: String) throws {
                for (i, k) in keys.enumerated() { XCTAssertEqual(try db.get(k), [UInt8(i), 0, UInt8(i)], "\(loc) \(when) \(k)") }
                XCTAssertEqual(try db.get(big), bytes("big key"), "\(loc) \(when)")
                XCTAssertNil(try db.get([0, 0, 0]), "\(loc) \(when)")
                let scanned = try scanAll(db).map(\.0)
                XCTAssertEqual(scanned, [[0], [0, 0], [0, 1], [1, 0, 0xFF], big, [0xFF], [0xFF, 0xFF, 0]], "\(loc) \(when)")
            }
            try check("before reopen")
            try db.close()
            db = try open(loc, small)
            try check("after reopen")
            try db.close()
        }
    }

    func testBatchIsAtomicAndOrdered() throws {
        try onBoth { loc in
            let db = try open(loc, [("max_value_bytes", "1KiB")])
            defer { try? db.close() }
            try db.put(bytes("b"), bytes("old"))
            try db.put(bytes("c"), bytes("old"))
            let batch = WriteBatch()
            try batch.put(bytes("a"), bytes("1"))
            try batch.put(bytes("a"), bytes("2"))
            try batch.delete(bytes("b"))
            try batch.put(bytes("b"), bytes("3"))
            try batch.put(bytes("c"), bytes("4"))
            try batch.delete(bytes("c"))
            XCTAssertEqual(batch.count, 6)
            let before = db.lastVisibleSequence
            try db.write(batch)
            XCTAssertEqual(db.lastVisibleSequence, before + 6, loc)
            XCTAssertEqual(try db.get(bytes("a")), bytes("2"), loc)
            XCTAssertEqual(try db.get(bytes("b")), bytes("3"), loc)
            XCTAssertNil(try db.get(bytes("c")), loc)

            // A batch that breaks a limit applies nothing.
            let bad = WriteBatch()
            try bad.put(bytes("x"), bytes("x"))
            try bad.put(bytes("y"), [UInt8](repeating: 1, count: 1025))
            let seq = db.lastVisibleSequence
            assertThrowsStatus(.invalidArgument, "\(loc): batch with an oversized value") { try db.write(bad) }
            XCTAssertNil(try db.get(bytes("x")), loc)
            XCTAssertEqual(db.lastVisibleSequence, seq, loc)
            // An empty batch is fine and changes nothing.
            try db.write(WriteBatch())
            XCTAssertEqual(db.lastVisibleSequence, seq, loc)
        }
    }

    func testMaxValueBytes() throws {
        try onBoth { loc in
            let db = try open(loc, [("max_value_bytes", "1KiB")])
            defer { try? db.close() }
            try db.put(bytes("ok"), [UInt8](repeating: 1, count: 1024))
            let e = assertThrowsStatus(.invalidArgument, "value over max_value_bytes") {
                try db.put(bytes("no"), [UInt8](repeating: 1, count: 1025))
            }
            XCTAssertTrue(e?.message.contains("1024") ?? false, "\(String(describing: e))")
            XCTAssertNil(try db.get(bytes("no")))
            XCTAssertEqual(try db.get(bytes("ok"))?.count, 1024)
        }
    }

    func testSnapshotIsolation() throws {
        try onBoth { loc in
            let db = try open(loc, small)
            defer { try? db.close() }
            for i in 0..<10 { try db.put(bytes("k\(i)"), bytes("v\(i)")) }
            let snap = try db.snapshot()
            XCTAssertEqual(try stat(db, "live_snapshots"), 1)
            try db.put(bytes("k0"), bytes("new"))
            try db.delete(bytes("k1"))
            try db.put(bytes("k99"), bytes("added"))
            // Enough writes to flush and compact the memtables the snapshot saw.
            let filler = [UInt8](repeating: 0x5A, count: 200)
            for i in 0..<3000 { try db.put(bytes("f\(i % 500)"), filler + bytes("\(i)")) }
            try db.delete(bytes("k2"))
            try waitFor("\(loc): flushes and a compaction", timeout: 30) {
                try stat(db, "flushes") > 2 && stat(db, "compactions") > 0
            }

            XCTAssertEqual(try db.get(bytes("k0"), snapshot: snap), bytes("v0"), loc)
            XCTAssertEqual(try db.get(bytes("k1"), snapshot: snap), bytes("v1"), loc)
            XCTAssertEqual(try db.get(bytes("k2"), snapshot: snap), bytes("v2"), loc)
            XCTAssertNil(try db.get(bytes("k99"), snapshot: snap), loc)
            XCTAssertNil(try db.get(bytes("f1"), snapshot: snap), loc)
            let old = try scanAll(db, snapshot: snap)
            XCTAssertEqual(old.map(\.0), (0..<10).map { bytes("k\($0)") }, loc)
            XCTAssertEqual(old.map(\.1), (0..<10).map { bytes("v\($0)") }, loc)

            XCTAssertEqual(try db.get(bytes("k0")), bytes("new"), loc)
            XCTAssertNil(try db.get(bytes("k1")), loc)
            XCTAssertNil(try db.get(bytes("k2")), loc)
            let now = try scanAll(db, start: bytes("k"), end: bytes("l")).map(\.0)
            XCTAssertEqual(now, [bytes("k0")] + (3..<10).map { bytes("k\($0)") } + [bytes("k99")], loc)

            snap.release()
            snap.release()
            XCTAssertEqual(try stat(db, "live_snapshots"), 0, loc)
        }
    }

    /// A snapshot taken later must not see writes made after it, even while a scan is open.
    func testScanIteratorIsAPointInTime() throws {
        try onBoth { loc in
            let db = try open(loc)
            defer { try? db.close() }
            for i in 0..<5 { try db.put(bytes("k\(i)"), bytes("v")) }
            let it = try db.scan()
            XCTAssertTrue(try it.next())
            try db.put(bytes("k0a"), bytes("late"))
            try db.delete(bytes("k3"))
            var keys = [it.currentKey]
            while try it.next() { keys.append(it.currentKey) }
            XCTAssertEqual(keys, (0..<5).map { bytes("k\($0)") }, loc)
        }
    }

    func testScanBounds() throws {
        try onBoth { loc in
            let db = try open(loc)
            defer { try? db.close() }
            for c in "abcdefghij" { try db.put(bytes(String(c)), bytes(String(c).uppercased())) }
            try db.put([0x62, 0x00], bytes("b0"))  // "b\0" sorts between b and c
            func keys(_ s: String?, _ e: String?) throws -> [String] {
                try scanAll(db, start: s.map(bytes), end: e.map(bytes)).map { String(decoding: $0.0, as: UTF8.self) }
            }
            XCTAssertEqual(try keys("c", "f"), ["c", "d", "e"], loc)
            XCTAssertEqual(try keys(nil, "c"), ["a", "b", "b\u{0}"], loc)
            XCTAssertEqual(try keys("h", nil), ["h", "i", "j"], loc)
            XCTAssertEqual(try keys(nil, nil).count, 11, loc)
            XCTAssertEqual(try keys("", nil).count, 11, loc)
            XCTAssertEqual(try keys("bb", "d"), ["c"], loc)
            XCTAssertEqual(try keys("c", "c"), [], loc)
            XCTAssertEqual(try keys("f", "c"), [], loc)
            XCTAssertEqual(try keys("k", nil), [], loc)
            XCTAssertEqual(try keys("b", "b\u{0}"), ["b"], loc)
            XCTAssertEqual(try scanAll(db, start: bytes("c"), end: bytes("e")).map(\.1), [bytes("C"), bytes("D")], loc)
        }
    }

    func testReopenKeepsDataAcrossFlushesAndCompactions() throws {
        try onBoth { loc in
            var db = try open(loc, small)
            var model: [[UInt8]: [UInt8]] = [:]
            for i in 0..<4000 {
                let k = bytes(String(format: "key%05d", (i * 7919) % 1500))
                if i % 11 == 0 {
                    try db.delete(k)
                    model[k] = nil
                } else {
                    let v = bytes("value-\(i)-") + [UInt8](repeating: UInt8(i & 0xff), count: 100)
                    try db.put(k, v)
                    model[k] = v
                }
            }
            try waitFor("\(loc): flushes and a compaction", timeout: 30) {
                try stat(db, "flushes") > 0 && stat(db, "compactions") > 0
            }
            XCTAssertGreaterThan(try stat(db, "wal_bytes"), 0, loc)
            try db.close()
            try db.close()  // a second close is harmless
            db = try open(loc, small)
            XCTAssertEqual(try stat(db, "replayed_records"), 0, "\(loc): close flushed everything")
            for (k, v) in model { XCTAssertEqual(try db.get(k), v, "\(loc) \(String(decoding: k, as: UTF8.self))") }
            let scanned = try scanAll(db)
            XCTAssertEqual(scanned.map(\.0), model.keys.sorted { compareBytes($0, $1) < 0 }, loc)
            XCTAssertEqual(scanned.count, model.count, loc)
            // The reopened database keeps working and numbering moves forward.
            try db.put(bytes("after"), bytes("reopen"))
            try db.close()
            db = try open(loc, small)
            XCTAssertEqual(try db.get(bytes("after")), bytes("reopen"), loc)
            XCTAssertEqual(try scanAll(db).count, model.count + 1, loc)
            try db.close()
        }
    }

    func testUseAfterClose() throws {
        try onBoth { loc in
            let db = try open(loc)
            try db.put(bytes("k"), bytes("v"))
            let snap = try db.snapshot()
            try db.close()
            assertThrowsStatus(.closed, "put") { try db.put(bytes("k"), bytes("v")) }
            assertThrowsStatus(.closed, "get") { try db.get(bytes("k")) }
            assertThrowsStatus(.closed, "get at snapshot") { try db.get(bytes("k"), snapshot: snap) }
            assertThrowsStatus(.closed, "delete") { try db.delete(bytes("k")) }
            let b = WriteBatch()
            try b.put(bytes("k"), bytes("v"))
            assertThrowsStatus(.closed, "write") { try db.write(b) }
            assertThrowsStatus(.closed, "scan") { try db.scan() }
            assertThrowsStatus(.closed, "snapshot") { try db.snapshot() }
            assertThrowsStatus(.closed, "flush") { try db.flush() }
            assertThrowsStatus(.closed, "stats") { try db.statsJSON() }
            snap.release()
            XCTAssertTrue(db.isClosedForCalls)
        }
    }

    func testReadOnly() throws {
        try onBoth { loc in
            let w = try open(loc)
            try w.put(bytes("k"), bytes("v"))
            try w.close()
            let db = try open(loc, [("read_only", "true")])
            defer { try? db.close() }
            XCTAssertEqual(try db.get(bytes("k")), bytes("v"), loc)
            XCTAssertEqual(try scanAll(db).count, 1, loc)
            assertThrowsStatus(.notSupported, "put read-only") { try db.put(bytes("x"), bytes("y")) }
            assertThrowsStatus(.notSupported, "delete read-only") { try db.delete(bytes("k")) }
            let b = WriteBatch()
            try b.put(bytes("x"), bytes("y"))
            assertThrowsStatus(.notSupported, "batch read-only") { try db.write(b) }
            XCTAssertNil(try db.get(bytes("x")), loc)
            XCTAssertEqual(try db.get(bytes("k")), bytes("v"), loc)
        }
    }

    func testOpenMissing() throws {
        let d = TempDir("shale-dbbasic-missing")
        defer { d.remove() }
        assertThrowsStatus(.notFound, "missing dir, create_if_missing=false") {
            try DB.open(d.path, options: makeOptions([("create_if_missing", "false")]))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: d.path), "a failed open must not create the directory")
        try FileManager.default.createDirectory(atPath: d.path, withIntermediateDirectories: true)
        assertThrowsStatus(.notFound, "empty dir, create_if_missing=false") {
            try DB.open(d.path, options: makeOptions([("create_if_missing", "false")]))
        }
        assertThrowsStatus(.notFound, "empty dir, read_only") {
            try DB.open(d.path, options: makeOptions([("read_only", "true")]))
        }
        let mem = "memory://" + freshMemoryName("missing")
        assertThrowsStatus(.notFound, "empty memory store, create_if_missing=false") {
            try DB.open(mem, options: makeOptions([("create_if_missing", "false")]))
        }
        MemoryStore.drop(String(mem.dropFirst(9)))
        // A database that exists opens with create_if_missing=false.
        let db = try DB.open(d.path)
        try db.put(bytes("k"), bytes("v"))
        try db.close()
        let again = try DB.open(d.path, options: makeOptions([("create_if_missing", "false")]))
        XCTAssertEqual(try again.get(bytes("k")), bytes("v"))
        try again.close()
    }

    func testAllCompressionsEndToEnd() throws {
        var sstBytes: [String: Int] = [:]
        for c in ["none", "zstd", "lz4"] {
            let l = TestLocation.directory("shale-dbbasic-\(c)")
            locations.append(l)
            let opts = [("memtable_bytes", "64KiB"), ("compression", c)]
            var db = try open(l.location, opts)
            var model: [[UInt8]: [UInt8]] = [:]
            for i in 0..<2500 {
                let k = bytes(String(format: "row%06d", i))
                let v = bytes(String(repeating: "compressible text \(i % 7) ", count: 6))
                try db.put(k, v)
                model[k] = v
            }
            try db.close()
            sstBytes[c] = l.dir!.allFiles().filter { $0.hasSuffix(".sst") }.reduce(0) { sum, f in
                sum + ((try? FileManager.default.attributesOfItem(atPath: l.location + "/" + f)[.size] as? Int) ?? 0)
            }
            XCTAssertGreaterThan(sstBytes[c]!, 0, c)
            // Reopen with another compression setting: reading does not depend on it.
            db = try open(l.location, [("memtable_bytes", "64KiB"), ("compression", c == "zstd" ? "lz4" : "zstd")])
            for (k, v) in model { XCTAssertEqual(try db.get(k), v, c) }
            XCTAssertEqual(try scanAll(db).count, model.count, c)
            try db.close()
        }
        XCTAssertLessThan(sstBytes["zstd"]!, sstBytes["none"]! / 2, "zstd tables should be much smaller: \(sstBytes)")
        XCTAssertLessThan(sstBytes["lz4"]!, sstBytes["none"]! / 2, "lz4 tables should be much smaller: \(sstBytes)")
        // The memory backend works with compression too.
        let m = TestLocation.memory("dbbasic-zstd")
        locations.append(m)
        var db = try open(m.location, [("memtable_bytes", "64KiB"), ("compression", "zstd")])
        for i in 0..<1500 { try db.put(bytes("k\(i)"), bytes(String(repeating: "z", count: 100))) }
        try db.close()
        db = try open(m.location)
        XCTAssertEqual(try db.get(bytes("k1499")), bytes(String(repeating: "z", count: 100)))
        XCTAssertEqual(try scanAll(db).count, 1500)
        try db.close()
    }

    func testLargeValuesThroughFlushAndReopen() throws {
        try onBoth { loc in
            var db = try open(loc, small)
            var values: [[UInt8]: [UInt8]] = [:]
            for (i, size) in [1 << 20, 3 << 20 + 17, 70_000, 0, 65_536].enumerated() {
                let v = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
                try db.put(bytes("big\(i)"), v)
                values[bytes("big\(i)")] = v
                try db.put(bytes("small\(i)"), bytes("s"))
                values[bytes("small\(i)")] = bytes("s")
            }
            for (k, v) in values { XCTAssertEqual(try db.get(k), v, loc) }
            try db.close()
            db = try open(loc, small)
            for (k, v) in values { XCTAssertEqual(try db.get(k), v, "\(loc) after reopen") }
            XCTAssertEqual(try scanAll(db).map(\.1.count).reduce(0, +), values.values.map(\.count).reduce(0, +), loc)
            try db.close()
        }
    }

    /// A second writer on the same location fences the first: its writes fail with FENCED
    /// and never show up, while everything it acknowledged before stays.
    func testSecondWriterFencesTheFirst() throws {
        try onBoth { loc in
            let first = try open(loc)
            try first.put(bytes("a"), bytes("1"))
            let second = try open(loc)
            XCTAssertEqual(try second.get(bytes("a")), bytes("1"), loc)
            assertThrowsStatus(.fenced, "\(loc): write by the fenced writer") { try first.put(bytes("late"), bytes("x")) }
            assertThrowsStatus(.fenced, "\(loc): second write by the fenced writer") { try first.put(bytes("later"), bytes("y")) }
            try second.put(bytes("b"), bytes("2"))
            XCTAssertNil(try second.get(bytes("late")), loc)
            try? first.close()
            try second.close()
            let third = try open(loc)
            XCTAssertEqual(try third.get(bytes("a")), bytes("1"), loc)
            XCTAssertEqual(try third.get(bytes("b")), bytes("2"), loc)
            XCTAssertNil(try third.get(bytes("late")), loc)
            XCTAssertNil(try third.get(bytes("later")), loc)
            try third.close()
        }
    }

    func testStatsJSONIsValid() throws {
        try onBoth { loc in
            let db = try open(loc)
            defer { try? db.close() }
            try db.put(bytes("a"), bytes("1"))
            try db.delete(bytes("b"))
            _ = try db.get(bytes("a"))
            let json = try db.statsJSON()
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
            XCTAssertEqual(obj["location"] as? String, loc)
            XCTAssertEqual(try stat(db, "puts"), 1)
            XCTAssertEqual(try stat(db, "deletes"), 1)
            XCTAssertEqual(try stat(db, "gets"), 1)
            XCTAssertEqual(try stat(db, "last_sequence"), 2)
        }
    }
}

/// Polls `condition` until true or the timeout passes (then fails the test).
func waitFor(_ what: String, timeout: Double, file: StaticString = #filePath, line: UInt = #line,
             _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    XCTFail("timed out waiting for \(what)", file: file, line: line)
}
