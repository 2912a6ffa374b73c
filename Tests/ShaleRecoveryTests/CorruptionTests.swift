import Foundation
import Shale
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Damaged files: every kind of file the database keeps gets bytes flipped and is cut short.
/// Opening and reading must then either report CORRUPTION naming the damaged file, or read
/// every key back correctly; the one exception is the unsealed tail of the WAL, whose last
/// records may be lost (a torn tail is the end of the log). A wrong value is never acceptable,
/// nor a crash or a hang.
final class CorruptionTests: XCTestCase {
    /// The pristine database and what it must hold.
    struct Fixture: Sendable {
        let dir: String
        /// Every key written, in order, with its final value (nil = deleted).
        var expected: [(String, [UInt8]?)]
        /// Keys whose only copy is in the unsealed tail segment, in write order.
        var tailKeys: [String]
    }

    nonisolated(unsafe) static var fixture: Fixture?

    override class func tearDown() {
        if let f = fixture { removeDir(f.dir) }
        fixture = nil
        Syscalls.faultInjector = nil
        super.tearDown()
    }

    override func tearDown() {
        Syscalls.faultInjector = nil
        super.tearDown()
    }

    static func value(_ key: String, _ version: Int) -> [UInt8] {
        let pad = String(repeating: "0123456789abcdef", count: 40)
        return bytes("\(key)@\(version):" + pad.prefix(200 + (key.utf8.count * 37 + version * 11) % 300))
    }

    /// Builds a database with tables, several manifests, a sealed WAL segment still in the
    /// replay range (its flush cannot install a manifest) and an unsealed tail segment, and
    /// copies the directory while the writer is still open: the state a crash leaves.
    func makeFixture() throws -> Fixture {
        if let f = Self.fixture { return f }
        let dir = makeTempDir("corrupt-live")
        defer { removeDir(dir) }
        let db = try DB.open(dir, options: smallOptions())
        var model: [String: [UInt8]?] = [:]
        var order: [String] = []
        func put(_ k: String, _ v: [UInt8]) throws {
            try db.put(bytes(k), v)
            if model[k] == nil { order.append(k) }
            model[k] = .some(v)
        }
        // Phase 1: flushed to tables (with overwrites and deletes), compacted.
        for i in 0..<700 {
            try put("p\(i)", Self.value("p\(i)", 0))
            if i % 7 == 6 { try put("p\(i - 3)", Self.value("p\(i - 3)", 1)) }
            if i % 11 == 10 {
                try db.delete(bytes("p\(i - 5)"))
                model["p\(i - 5)"] = .some(nil)
            }
        }
        try waitIdle(db)
        let tablesBefore = listDir("\(dir)/sst").count
        XCTAssertGreaterThan(tablesBefore, 0, "fixture: phase 1 should have made tables")

        // Phase 2: no manifest can be written, so the next flush fails and its segment stays
        // sealed in the replay range; then a few writes into the new live segment.
        Syscalls.faultInjector = { call, path in
            call == .link && path.contains("/manifest/") ? EIO : nil
        }
        var tail: [String] = []
        var i = 0
        while tail.count < 25 {
            let k = "t\(i)"
            try put(k, Self.value(k, 0))
            let stats = try db.statsJSON()
            if !tail.isEmpty || statsField(stats, "immutable_memtables") != "0" { tail.append(k) }
            i += 1
            XCTAssertLessThan(i, 5000, "fixture: the memtable never switched")
            if i >= 5000 { break }
        }
        // The failed flush is reported.
        let deadline = Date().addingTimeInterval(10)
        while statsField(try db.statsJSON(), "background_error") == "null" && Date() < deadline { usleep(10_000) }
        XCTAssertNotEqual(statsField(try db.statsJSON(), "background_error"), "null")

        let pristine = makeTempDir("corrupt-pristine")
        try copyDir(dir, to: pristine)
        Syscalls.faultInjector = nil
        _ = try? db.close()

        var expected: [(String, [UInt8]?)] = []
        for k in order { expected.append((k, model[k]!)) }
        let f = Fixture(dir: pristine, expected: expected, tailKeys: tail)
        Self.fixture = f
        return f
    }

    func waitIdle(_ db: DB) throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let s = try db.statsJSON()
            if statsField(s, "immutable_memtables") == "0" { return }
            usleep(10_000)
        }
        XCTFail("background flush did not finish")
    }

    // MARK: the files of the fixture

    struct Files {
        let manifest: String
        let table: String
        let sealedWAL: String?
        let tailWAL: String
    }

    func files(of dir: String) throws -> Files {
        let manifests = listDir("\(dir)/manifest").filter { $0.hasSuffix(".manifest") }
        let newest = try XCTUnwrap(manifests.last)
        let m = try readFile("\(dir)/manifest/\(newest)").withUnsafeBytes { try Manifest.decode($0, file: newest) }
        let tables = m.allTables.sorted { $0.fileBytes > $1.fileBytes }
        let table = try XCTUnwrap(tables.first, "the newest manifest names no table")
        var sealed: String? = nil
        var tail: String? = nil
        for name in listDir("\(dir)/wal") {
            guard let id = WALFormat.segmentId(fromName: "wal/" + name), id >= m.walReplayFrom else { continue }
            let data = readFile("\(dir)/wal/\(name)")
            if data.withUnsafeBytes({ FileEnvelope.hasFooter($0) }) { sealed = "wal/" + name } else { tail = "wal/" + name }
        }
        return Files(manifest: "manifest/" + newest, table: table.path, sealedWAL: sealed, tailWAL: try XCTUnwrap(tail))
    }

    // MARK: checking one damaged copy

    enum Damage: CustomStringConvertible, Sendable {
        case flip(Int)
        case truncate(Int)
        var description: String {
            switch self {
            case .flip(let o): return "flip byte \(o)"
            case .truncate(let n): return "truncate to \(n) bytes"
            }
        }
    }

    static func damages(size: Int) -> [Damage] {
        var flips = [0, 9, 21, 24, 30, size / 3, size / 2, size - 40, size - 30, size - 20, size - 13, size - 1]
        flips = Array(Set(flips.filter { $0 >= 0 && $0 < size })).sorted()
        var cuts = [0, 10, 24, 30, size / 2, size - 24, size - 1]
        cuts = Array(Set(cuts.filter { $0 >= 0 && $0 < size })).sorted()
        return flips.map { .flip($0) } + cuts.map { .truncate($0) }
    }

    /// Applies the damage to a copy, opens and reads everything; returns a problem, or nil
    /// when the outcome is acceptable. Also returns a one-word outcome for the summary.
    static func check(_ f: Fixture, file: String, damage: Damage, isTail: Bool) -> (String?, String) {
        let dir = makeTempDir("corrupt-case")
        defer { removeDir(dir) }
        do { try copyDir(f.dir, to: dir) } catch { return ("copy failed: \(error)", "error") }
        let path = "\(dir)/\(file)"
        var data = readFile(path)
        switch damage {
        case .flip(let o): data[o] ^= 0x5A
        case .truncate(let n): data.removeSubrange(n...)
        }
        writeFile(path, data)
        let fileName = String(file.split(separator: "/").last!)

        let db: DB
        do {
            var o = Options()
            o.createIfMissing = false
            db = try DB.open(dir, options: o)
        } catch let e as ShaleError {
            if e.status == .corruption && e.message.contains(fileName) { return (nil, "open:corruption") }
            return ("open failed with \(e) (expected CORRUPTION naming \(fileName))", "open:\(e.status.name)")
        } catch {
            return ("open failed with \(error)", "open:other")
        }
        var missing: [String] = []
        var outcome = "clean"
        var problem: String? = nil
        reading: for (k, v) in f.expected {
            do {
                let got = try db.get(bytes(k))
                if got == v { continue }
                if got == nil { missing.append(k); continue }
                problem = "\(k): wrong value (\(got.map { String(decoding: $0.prefix(24), as: UTF8.self) } ?? "absent"))"
                break reading
            } catch let e as ShaleError where e.status == .corruption && e.message.contains(fileName) {
                outcome = "read:corruption"
                break reading
            } catch {
                problem = "get \(k): \(error)"
                break reading
            }
        }
        if problem == nil && !missing.isEmpty {
            // Only the newest records of the unsealed tail may go missing: a suffix of the
            // tail's writes; for a flipped byte, only the very last record.
            let tail = f.tailKeys
            let allowed: Bool
            if isTail, let first = missing.first, let at = tail.firstIndex(of: first) {
                let suffix = Array(tail[at...])
                allowed = suffix == missing && (suffix.count == 1 || { if case .truncate = damage { return true }; return false }())
            } else {
                allowed = false
            }
            if !allowed {
                problem = "\(missing.count) acknowledged keys missing without an error: \(missing.prefix(8))\(missing.count > 8 ? "..." : "")"
            } else {
                outcome = "torn-tail(-\(missing.count))"
            }
        }
        do {
            try db.close()
        } catch let e as ShaleError where e.status == .corruption {
            // Background work met the damage: reported, fine.
        } catch {
            if problem == nil { problem = "close: \(error)" }
        }
        return (problem, outcome)
    }

    func runMatrix(_ which: (Files) -> String?, isTail: Bool = false, _ label: String) throws {
        let f = try makeFixture()
        let fs = try files(of: f.dir)
        guard let file = which(fs) else {
            print("CorruptionTests \(label): no such file in the fixture; skipped")
            return
        }
        let size = readFile("\(f.dir)/\(file)").count
        var summary: [String] = []
        for d in Self.damages(size: size) {
            let result = Box<(String?, String)>((nil, "hang"))
            let finished = withTimeout(30, "\(label) \(file) \(d)") {
                result.value = Self.check(f, file: file, damage: d, isTail: isTail)
            }
            if !finished { break }
            let (problem, outcome) = result.value
            summary.append("\(d): \(outcome)")
            if let problem { XCTFail("\(label) \(file), \(d): \(problem)") }
        }
        print("CorruptionTests \(label) \(file) (\(size) bytes):\n  " + summary.joined(separator: "\n  "))
    }

    // MARK: tests

    func testFixtureIsWholeAndHasEveryKindOfFile() throws {
        let f = try makeFixture()
        let fs = try files(of: f.dir)
        XCTAssertNotNil(fs.sealedWAL, "the fixture should keep a sealed WAL segment in the replay range")
        XCTAssertGreaterThan(f.tailKeys.count, 0)
        // An undamaged copy opens and reads everything back.
        let dir = makeTempDir("corrupt-whole")
        defer { removeDir(dir) }
        try copyDir(f.dir, to: dir)
        let db = try DB.open(dir)
        for (k, v) in f.expected { XCTAssertEqual(try db.get(bytes(k)), v, k) }
        XCTAssertNotEqual(statsField(try db.statsJSON(), "replayed_records"), "0")
        try db.close()
        // And again after the clean close.
        let again = try DB.open(dir)
        for (k, v) in f.expected { XCTAssertEqual(try again.get(bytes(k)), v, k) }
        try again.close()
    }

    func testDamagedNewestManifest() throws { try runMatrix({ $0.manifest }, "manifest") }

    func testDamagedTable() throws { try runMatrix({ $0.table }, "table") }

    // BUG: a sealed WAL segment (not the newest) cut to fewer bytes than a header (0, 10 or
    // 24 bytes) opens cleanly and reads stale values: measureUnsealedSegments records a bound
    // of 0 for any segment shorter than a header ("created but its header never made it"),
    // not only for the newest one, so the segment's records are dropped silently while the
    // following segment is still replayed. Expected: CORRUPTION naming the segment.
    // (Cuts inside the records are reported since only the newest segment may be torn.)
    func testDamagedSealedWALSegment() throws { try runMatrix({ $0.sealedWAL }, "sealed-wal") }

    /// A sealed segment followed by another one loses its second half: CORRUPTION naming it,
    /// never a silent gap in the log.
    func testTruncatedSealedSegmentBeforeTailIsCorruption() throws {
        try truncatedSealedSegment(keep: { $0 / 2 })
    }

    // BUG: as above, the focused case: the sealed segment cut to 10 bytes (less than a header)
    // is skipped silently.
    func testSealedSegmentCutBelowHeaderIsCorruption() throws {
        try truncatedSealedSegment(keep: { _ in 10 })
    }

    func truncatedSealedSegment(keep: (Int) -> Int) throws {
        let f = try makeFixture()
        let fs = try files(of: f.dir)
        let sealed = try XCTUnwrap(fs.sealedWAL)
        let dir = makeTempDir("corrupt-sealed-cut")
        defer { removeDir(dir) }
        try copyDir(f.dir, to: dir)
        var data = readFile("\(dir)/\(sealed)")
        data.removeSubrange(keep(data.count)...)
        writeFile("\(dir)/\(sealed)", data)
        let name = String(sealed.split(separator: "/").last!)
        do {
            let db = try DB.open(dir)
            defer { try? db.close() }
            var lost = 0
            var wrong = 0
            for (k, v) in f.expected {
                let got = try db.get(bytes(k))
                if got == nil && v != nil { lost += 1 } else if got != v { wrong += 1 }
            }
            XCTFail("open of a database whose sealed segment \(name) was cut to \(data.count) bytes succeeded: \(lost) acknowledged keys missing, \(wrong) with a stale value, no error")
        } catch let e as ShaleError {
            XCTAssertEqual(e.status, .corruption, "\(e)")
            XCTAssertTrue(e.message.contains(name), "\(e)")
        }
    }

    func testDamagedUnsealedTailSegment() throws { try runMatrix({ $0.tailWAL }, isTail: true, "tail-wal") }

    func testStrayGarbageSegmentInWALDirectory() throws {
        let f = try makeFixture()
        let fs = try files(of: f.dir)
        let dir = makeTempDir("corrupt-stray")
        defer { removeDir(dir) }
        try copyDir(f.dir, to: dir)
        let tailId = try XCTUnwrap(WALFormat.segmentId(fromName: fs.tailWAL))
        let stray = WALFormat.segmentName(tailId + 5)
        writeFile("\(dir)/\(stray)", Array(repeating: 0x41, count: 300))
        XCTAssertThrowsError(try DB.open(dir)) { e in
            XCTAssertEqual(shaleStatus(e), .corruption, "\(e)")
            XCTAssertTrue("\(e)".contains(String(stray.split(separator: "/").last!)), "the error should name the stray file: \(e)")
        }
    }

    func testMissingTableNamedByManifest() throws {
        let f = try makeFixture()
        let fs = try files(of: f.dir)
        let dir = makeTempDir("corrupt-missing")
        defer { removeDir(dir) }
        try copyDir(f.dir, to: dir)
        try FileManager.default.removeItem(atPath: "\(dir)/\(fs.table)")
        XCTAssertThrowsError(try DB.open(dir)) { e in
            XCTAssertEqual(shaleStatus(e), .corruption, "\(e)")
            XCTAssertTrue("\(e)".contains(String(fs.table.split(separator: "/").last!)), "the error should name the table: \(e)")
        }
    }
}
