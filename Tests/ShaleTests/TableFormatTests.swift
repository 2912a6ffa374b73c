import Dispatch
import XCTest
@testable import Shale

/// A tiny deterministic generator so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct Entry {
    var key: [UInt8]  // internal key
    var value: [UInt8]
}

final class TableFormatTests: XCTestCase {
    // MARK: Helpers

    func ik(_ user: [UInt8], _ seq: UInt64, _ kind: EntryKind = .value) -> [UInt8] {
        InternalKey.make(user, trailer: InternalKey.trailer(seq, kind))
    }

    func sorted(_ entries: [Entry]) -> [Entry] {
        entries.sorted { InternalKey.compare($0.key, $1.key) < 0 }
    }

    func build(_ entries: [Entry], _ options: TableOptions = TableOptions()) throws -> [UInt8] {
        let b = TableBuilder(options: options)
        for e in entries {
            try e.key.withUnsafeBytes { k in try e.value.withUnsafeBytes { v in try b.add(internalKey: k, value: v) } }
        }
        XCTAssertEqual(b.entryCount, entries.count)
        return try b.finish()
    }

    func open(_ bytes: [UInt8]) throws -> TableReader {
        try TableReader(region: ByteRegion(copying: bytes), name: "test.sst")
    }

    func get(_ t: TableReader, _ user: [UInt8], _ snapshot: UInt64 = maxSequence) throws -> (EntryKind, UInt64, [UInt8])? {
        try user.withUnsafeBytes { u in try t.get(u, snapshot: snapshot) { k, s, v in (k, s, Array(v)) } }
    }

    func scan(_ t: TableReader) throws -> [Entry] {
        let it = t.makeIterator()
        var out: [Entry] = []
        try it.seekToFirst()
        while it.isValid {
            out.append(Entry(key: Array(it.key), value: Array(it.value)))
            try it.next()
        }
        return out
    }

    func assertSame(_ a: [Entry], _ b: [Entry], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) where x.key != y.key || x.value != y.value {
            XCTFail("entries differ at key \(x.key.prefix(16))", file: file, line: line)
            return
        }
    }

    func randomBytes(_ n: Int, _ rng: inout SplitMix) -> [UInt8] {
        (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Mixed data: binary keys with NULs, empty values, a 64 KiB key, large values.
    func mixedEntries(count: Int, seed: UInt64) -> [Entry] {
        var rng = SplitMix(seed)
        var seen = Set<[UInt8]>()
        var out: [Entry] = []
        var seq: UInt64 = 1
        func add(_ user: [UInt8], _ value: [UInt8], _ kind: EntryKind = .value) {
            guard seen.insert(user).inserted else { return }
            out.append(Entry(key: ik(user, seq, kind), value: value))
            seq += 1
        }
        add([], Array("empty user key".utf8))
        add([0], [])
        add([0, 0, 0], [1, 0, 1])
        add([UInt8](repeating: 0x61, count: 65536), Array("big key".utf8))
        add(Array("large-value".utf8), randomBytes(300_000, &rng))
        for i in 0..<count {
            let n = Int.random(in: 1...24, using: &rng)
            var k = Array("key\(i % 97)-".utf8) + randomBytes(n, &rng)
            if i % 7 == 0 { k.insert(0, at: k.count / 2) }
            let v = i % 5 == 0 ? [] : randomBytes(Int.random(in: 0...200, using: &rng), &rng)
            add(k, v, i % 11 == 0 ? .deletion : .value)
        }
        return sorted(out)
    }

    func assertCorruption(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected corruption", file: file, line: line)
        } catch let e as ShaleError {
            XCTAssertEqual(e.status, .corruption, "\(e)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    // MARK: Pieces

    func testHashMatchesXXH64Vectors() {
        XCTAssertEqual([UInt8]().withUnsafeBytes { Hash64.hash($0) }, 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(Array("abc".utf8).withUnsafeBytes { Hash64.hash($0) }, 0x44BC_2CF5_AD77_0999)
    }

    func testBlockSeekAndNext() throws {
        var b = BlockBuilder(restartInterval: 4)
        var keys: [[UInt8]] = []
        for i in 0..<100 { keys.append(ik(Array("k\(1000 + i * 2)".utf8), 5)) }
        for k in keys { k.withUnsafeBytes { kk in [UInt8(k.count)].withUnsafeBytes { b.add(key: kk, value: $0) } } }
        let block = b.finish()
        let kb = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { kb.deallocate() }
        try block.withUnsafeBytes { bytes in
            var r = try BlockReader(bytes, keyBuffer: kb)
            try r.seekToFirst()
            var n = 0
            while r.isValid {
                XCTAssertEqual(Array(r.key), keys[n])
                XCTAssertEqual(Array(r.value), [UInt8(keys[n].count)])
                n += 1
                try r.next()
            }
            XCTAssertEqual(n, keys.count)
            for i in 0..<100 {
                let exact = keys[i]
                try exact.withUnsafeBytes { try r.seek($0) }
                XCTAssertEqual(Array(r.key), exact)
                let between = ik(Array("k\(1000 + i * 2 + 1)".utf8), 5)
                try between.withUnsafeBytes { try r.seek($0) }
                if i == 99 { XCTAssertFalse(r.isValid) } else { XCTAssertEqual(Array(r.key), keys[i + 1]) }
            }
        }
    }

    func testBlockReaderRejectsGarbage() {
        let kb = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { kb.deallocate() }
        var rng = SplitMix(7)
        for n in 0..<400 {
            let junk = randomBytes(n % 40, &rng)
            junk.withUnsafeBytes { bytes in
                do {
                    var r = try BlockReader(bytes, keyBuffer: kb)
                    try r.seekToFirst()
                    var steps = 0
                    while r.isValid && steps < 100 { try r.next(); steps += 1 }
                    try ik([1, 2], 3).withUnsafeBytes { try r.seek($0) }
                } catch let e as ShaleError {
                    XCTAssertEqual(e.status, .corruption)
                } catch {
                    XCTFail("\(error)")
                }
            }
        }
    }

    // MARK: Round trips

    func testRoundTripAllCompressions() throws {
        let entries = mixedEntries(count: 3000, seed: 42)
        for c in Compression.allCases {
            var o = TableOptions()
            o.compression = c
            let bytes = try build(entries, o)
            let t = try open(bytes)
            try t.verifyAll()
            let p = t.properties
            XCTAssertEqual(p.entryCount, entries.count)
            XCTAssertEqual(p.tombstoneCount, entries.filter { $0.key[$0.key.count - 8] == EntryKind.deletion.rawValue }.count)
            XCTAssertEqual(p.smallestKey, [])
            XCTAssertEqual(p.largestKey, Array(entries.last!.key.dropLast(8)))
            XCTAssertEqual(p.minSequence, 1)
            XCTAssertEqual(p.fileBytes, bytes.count)
            XCTAssertEqual(p.compression, c)
            if c != .none { XCTAssertLessThan(p.dataBytes, p.rawDataBytes, "\(c) should shrink the data") }
            assertSame(try scan(t), entries)
            for e in entries {
                let user = Array(e.key.dropLast(8))
                let trailer = e.key.withUnsafeBytes { InternalKey.trailer(of: $0) }
                guard let got = try get(t, user) else { XCTFail("missing key"); continue }
                XCTAssertEqual(got.0, try InternalKey.kind(ofTrailer: trailer))
                XCTAssertEqual(got.1, InternalKey.sequence(ofTrailer: trailer))
                XCTAssertEqual(got.2, e.value)
            }
            XCTAssertNil(try get(t, Array("absent-key".utf8)))
            XCTAssertNil(try get(t, [0xff, 0xff, 0xff]))
        }
    }

    func testVersionsAndDeletion() throws {
        let k = Array("k".utf8)
        let entries = sorted([
            Entry(key: ik(Array("a".utf8), 3), value: Array("a3".utf8)),
            Entry(key: ik(k, 10), value: Array("v10".utf8)),
            Entry(key: ik(k, 20, .deletion), value: []),
            Entry(key: ik(k, 30), value: Array("v30".utf8)),
            Entry(key: ik(Array("kk".utf8), 1), value: Array("kk1".utf8)),
        ])
        for c in Compression.allCases {
            var o = TableOptions()
            o.compression = c
            o.blockBytes = 64  // spread versions over blocks
            let t = try open(try build(entries, o))
            XCTAssertNil(try get(t, k, 5))
            XCTAssertNil(try get(t, k, 9))
            for (snap, kind, seq, val) in [(10, EntryKind.value, 10, "v10"), (15, .value, 10, "v10"), (20, .deletion, 20, ""),
                                           (29, .deletion, 20, ""), (30, .value, 30, "v30"), (1 << 60, .value, 30, "v30")] {
                let got = try get(t, k, UInt64(snap))
                XCTAssertEqual(got?.0, kind, "snapshot \(snap)")
                XCTAssertEqual(got?.1, UInt64(seq), "snapshot \(snap)")
                XCTAssertEqual(got?.2, Array(val.utf8), "snapshot \(snap)")
            }
            XCTAssertNil(try get(t, Array("a".utf8), 2))
            XCTAssertEqual(try get(t, Array("kk".utf8), 1)?.2, Array("kk1".utf8))
            XCTAssertEqual(try get(t, Array("kk".utf8), UInt64.max)?.2, Array("kk1".utf8))
            XCTAssertNil(try get(t, Array("j".utf8)))
            XCTAssertNil(try get(t, Array("kj".utf8)))
            XCTAssertNil(try get(t, Array("z".utf8)))
        }
    }

    func testIteratorSeekMatchesModel() throws {
        var rng = SplitMix(99)
        var entries: [Entry] = []
        for i in 0..<2000 {
            let user = Array("user\(i * 3)".utf8)
            for v in 0..<(i % 3 + 1) {
                entries.append(Entry(key: ik(user, UInt64(10 * i + v)), value: randomBytes(i % 40, &rng)))
            }
        }
        entries = sorted(entries)
        for c in Compression.allCases {
            var o = TableOptions()
            o.compression = c
            o.blockBytes = 512
            let t = try open(try build(entries, o))
            let it = t.makeIterator()
            for _ in 0..<1500 {
                let i = Int.random(in: 0..<6100, using: &rng)
                let target = ik(Array("user\(i)".utf8), UInt64.random(in: 0..<20_000, using: &rng))
                try target.withUnsafeBytes { try it.seek($0) }
                var m = 0, hi = entries.count
                while m < hi {
                    let mid = (m + hi) / 2
                    if InternalKey.compare(entries[mid].key, target) < 0 { m = mid + 1 } else { hi = mid }
                }
                for _ in 0..<5 {
                    if m == entries.count {
                        XCTAssertFalse(it.isValid)
                        break
                    }
                    XCTAssertTrue(it.isValid)
                    XCTAssertEqual(Array(it.key), entries[m].key)
                    XCTAssertEqual(Array(it.value), entries[m].value)
                    try it.next()
                    m += 1
                }
            }
            // Past the end, and before the start.
            try ik(Array("zzz".utf8), 1).withUnsafeBytes { try it.seek($0) }
            XCTAssertFalse(it.isValid)
            try ik([], 1).withUnsafeBytes { try it.seek($0) }
            XCTAssertEqual(Array(it.key), entries[0].key)
            XCTAssertThrowsError(try [UInt8(1)].withUnsafeBytes { try it.seek($0) })
        }
    }

    func testBloomFilterRates() throws {
        var entries: [Entry] = []
        for i in 0..<10_000 { entries.append(Entry(key: ik(Array("present-\(i)".utf8), 1), value: [])) }
        let t = try open(try build(sorted(entries)))
        for i in 0..<10_000 {
            XCTAssertTrue(Array("present-\(i)".utf8).withUnsafeBytes { t.mayContain($0) })
        }
        var fp = 0
        for i in 0..<20_000 where Array("absent-\(i)".utf8).withUnsafeBytes({ t.mayContain($0) }) { fp += 1 }
        XCTAssertLessThan(Double(fp) / 20_000, 0.03, "false positives: \(fp)")

        var o = TableOptions()
        o.bloomBitsPerKey = 0
        let nf = try open(try build(sorted(entries), o))
        XCTAssertTrue(Array("absent".utf8).withUnsafeBytes { nf.mayContain($0) })
        XCTAssertNotNil(try get(nf, Array("present-5".utf8)))
    }

    /// Filters in the classic layout (probes over the whole bit array) still read correctly,
    /// and the blocked layout keeps its false-positive rate near the classic one.
    func testClassicAndBlockedBloomLayouts() throws {
        let keys = (0..<5_000).map { Array("key-\($0)".utf8) }
        let hashes = keys.map { k in k.withUnsafeBytes { Hash64.hash($0) } }
        // The classic layout, built as it is specified in docs/format-table.md.
        let k = BloomFilter.probes(bitsPerKey: 10)
        var classic = [UInt8](repeating: 0, count: 1 + (keys.count * 10 + 7) / 8)
        classic[0] = UInt8(k)
        let bits = UInt64((classic.count - 1) * 8)
        for h in hashes {
            var x = h
            let delta = (h >> 33) | (h << 31) | 1
            for _ in 0..<k {
                let bit = Int(x.multipliedFullWidth(by: bits).high)
                classic[1 + (bit >> 3)] |= UInt8(1 << (bit & 7))
                x = x &+ delta
            }
        }
        let blocked = BloomFilter.build(hashes: hashes, bitsPerKey: 10)
        XCTAssertEqual(blocked[0], BloomFilter.blockedFlag | UInt8(k))
        XCTAssertEqual((blocked.count - 1) % BloomFilter.blockBytes, 0)
        for filter in [classic, blocked] {
            try filter.withUnsafeBytes { f in
                try BloomFilter.validate(f)
                for h in hashes { XCTAssertTrue(BloomFilter.mayContain(f, hash: h)) }
                var fp = 0
                for i in 0..<20_000 {
                    let h = Array("other-\(i)".utf8).withUnsafeBytes { Hash64.hash($0) }
                    if BloomFilter.mayContain(f, hash: h) { fp += 1 }
                }
                XCTAssertLessThan(Double(fp) / 20_000, 0.03, "layout \(filter[0]): \(fp) false positives")
            }
        }
        // A blocked filter whose bit array is not whole blocks is malformed.
        XCTAssertThrowsError(try Array(blocked.dropLast()).withUnsafeBytes { try BloomFilter.validate($0) })
    }

    func testBuilderRejectsBadInput() throws {
        let b = TableBuilder(options: TableOptions())
        let k = ik(Array("b".utf8), 5)
        try k.withUnsafeBytes { try b.add(internalKey: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
        for bad in [k, ik(Array("a".utf8), 9), ik(Array("b".utf8), 6), [1, 2, 3], InternalKey.make(Array("c".utf8), trailer: 5 << 8 | 7)] {
            XCTAssertThrowsError(try bad.withUnsafeBytes { try b.add(internalKey: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }) {
                XCTAssertEqual(($0 as? ShaleError)?.status, .invalidArgument)
            }
        }
        try ik(Array("b".utf8), 4, .deletion).withUnsafeBytes { try b.add(internalKey: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
        XCTAssertGreaterThan(b.estimatedSize, 0)
        _ = try b.finish()
        XCTAssertThrowsError(try b.finish())
    }

    func testEmptyTable() throws {
        let t = try open(try build([]))
        XCTAssertEqual(t.properties.entryCount, 0)
        try t.verifyAll()
        XCTAssertNil(try get(t, Array("x".utf8)))
        XCTAssertEqual(try scan(t).count, 0)
    }

    func testConcurrentGets() throws {
        let entries = mixedEntries(count: 500, seed: 5)
        var o = TableOptions()
        o.compression = .zstd
        let t = try open(try build(entries, o))
        let failures = ManagedCounter()
        DispatchQueue.concurrentPerform(iterations: 4) { n in
            for e in entries where e.key.count % 4 == n {
                let user = Array(e.key.dropLast(8))
                let got = try? user.withUnsafeBytes { u in try t.get(u, snapshot: maxSequence) { _, _, v in Array(v) } }
                if got != e.value { failures.bump() }
            }
        }
        XCTAssertEqual(failures.value, 0)
    }

    // MARK: Corruption

    /// Every operation on a damaged table must throw corruption or give the right answer.
    func checkDamaged(_ bytes: [UInt8], _ entries: [Entry], _ what: String) {
        let t: TableReader
        do {
            t = try open(bytes)
        } catch let e as ShaleError {
            XCTAssertEqual(e.status, .corruption, "\(what): \(e)")
            return
        } catch {
            XCTFail("\(what): \(error)")
            return
        }
        func judge(_ body: () throws -> Void) {
            do { try body() } catch let e as ShaleError {
                XCTAssertEqual(e.status, .corruption, "\(what): \(e)")
            } catch { XCTFail("\(what): \(error)") }
        }
        judge { try t.verifyAll() }
        judge {
            let it = t.makeIterator()
            try it.seekToFirst()
            var i = 0
            while it.isValid {
                guard i < entries.count, Array(it.key) == entries[i].key, Array(it.value) == entries[i].value else {
                    XCTFail("\(what): wrong data from iterator at \(i)")
                    return
                }
                i += 1
                try it.next()
            }
            XCTAssertEqual(i, entries.count, "\(what): iterator ended early without an error")
        }
        for e in entries {
            judge {
                let got = try get(t, Array(e.key.dropLast(8)))
                XCTAssertEqual(got?.2, e.value, "\(what): wrong data from get")
            }
        }
    }

    func smallEntries() -> [Entry] {
        var rng = SplitMix(3)
        var out: [Entry] = []
        for i in 0..<30 {
            out.append(Entry(key: ik(Array("key-\(i * 7)".utf8), UInt64(i + 1), i % 9 == 4 ? .deletion : .value),
                             value: i % 4 == 0 ? [] : Array(String(repeating: "value-\(i)-", count: 4).utf8) + randomBytes(i % 6, &rng)))
        }
        return sorted(out)
    }

    func testEverySingleByteFlip() throws {
        let entries = smallEntries()
        for c in Compression.allCases {
            var o = TableOptions()
            o.compression = c
            o.blockBytes = 200
            let good = try build(entries, o)
            let p = try open(good).properties
            XCTAssertGreaterThan(p.dataBlockCount, 3)
            if c != .none { XCTAssertLessThan(p.dataBytes, p.rawDataBytes, "\(c) blocks should be stored compressed") }
            for pos in 0..<good.count {
                for mask: UInt8 in [0x01, 0xff] {
                    var bad = good
                    bad[pos] ^= mask
                    checkDamaged(bad, entries, "\(c) flip \(mask) at \(pos)/\(good.count)")
                }
            }
        }
    }

    func testEveryTruncation() throws {
        let entries = smallEntries()
        for c in Compression.allCases {
            var o = TableOptions()
            o.compression = c
            o.blockBytes = 200
            let good = try build(entries, o)
            for n in 0..<good.count {
                XCTAssertThrowsError(try open(Array(good.prefix(n)))) {
                    XCTAssertEqual(($0 as? ShaleError)?.status, .corruption)
                }
            }
            // Extra bytes after a good file are damage too.
            XCTAssertThrowsError(try open(good + [0]))
        }
    }

    /// Damage that slips past a block's crc (crc recomputed) may give odd data, but must only
    /// ever throw corruption: this drives the block decoder and decompressors over bad bytes.
    func testDamageBehindValidCRCNeverCrashes() throws {
        let entries = smallEntries()
        for c in Compression.allCases {
            var o = TableOptions()
            o.compression = c
            o.blockBytes = 200
            let good = try build(entries, o)
            let handles = try open(good).blocks
            for h in handles {
                for pos in h.offset..<(h.offset + h.size - 4) {
                    for mask: UInt8 in [0x01, 0x80, 0xff] {
                        var bad = good
                        bad[pos] ^= mask
                        let crc = CRC32C.checksum(Array(bad[h.offset..<(h.offset + h.size - 4)]))
                        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bad[h.offset + h.size - 4 + i] = $0[i] } }
                        let t = try open(bad)
                        func tolerate(_ body: () throws -> Void) {
                            do { try body() } catch let e as ShaleError {
                                XCTAssertEqual(e.status, .corruption, "\(e)")
                            } catch { XCTFail("\(error)") }
                        }
                        tolerate { try t.verifyAll() }
                        tolerate { _ = try self.scan(t) }
                        for e in entries { tolerate { _ = try self.get(t, Array(e.key.dropLast(8))) } }
                    }
                }
            }
        }
    }

    func testDecompressionErrorsNameFileAndBlock() {
        let junk: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0x9a]
        let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 8)
        defer { dst.deallocate() }
        for c in [Compression.zstd, .lz4] {
            XCTAssertThrowsError(try junk.withUnsafeBytes {
                try BlockCodec.decompress(c, $0, into: dst, zstd: nil, file: "f.sst", block: 7)
            }) {
                let e = $0 as? ShaleError
                XCTAssertEqual(e?.status, .corruption)
                XCTAssertTrue(e?.message.contains("f.sst: block 7") ?? false, "\(String(describing: e))")
            }
        }
    }

    func testFlippedValueByteIsCaughtByBlockCRC() throws {
        let marker = Array("UNIQUE-VALUE-MARKER".utf8)
        var entries = smallEntries()
        entries.append(Entry(key: ik(Array("zz".utf8), 99), value: marker))
        let good = try build(entries)
        guard let at = (0..<(good.count - marker.count)).first(where: { Array(good[$0..<($0 + marker.count)]) == marker }) else {
            return XCTFail("value not found in file")
        }
        var bad = good
        bad[at + 3] ^= 0x20
        let t = try open(bad)  // opening reads only metadata
        assertCorruption { _ = try self.get(t, Array("zz".utf8)) }
        assertCorruption { try t.verifyAll() }
        assertCorruption { _ = try self.scan(t) }
    }
}

final class ManagedCounter: @unchecked Sendable {
    private let lock = Lock()
    private var n = 0
    func bump() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
