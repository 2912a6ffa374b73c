import XCTest
@testable import Shale

/// Pure byte formats: CRC32C, the bounds-checked reader, the file envelope, WAL segments,
/// manifest versions.
final class FormatTests: XCTestCase {
    // MARK: CRC32C

    func testCRC32CKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(bytes("123456789")), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([]), 0)
    }

    func testCRC32CExtendingInPiecesEqualsWhole() {
        var rng = SplitMix(7)
        for n in [1, 7, 8, 9, 63, 64, 65, 1000, 4099] {
            let data = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let whole = CRC32C.checksum(data)
            for _ in 0..<5 {
                var crc: UInt32 = 0
                var i = 0
                while i < n {
                    let step = Int.random(in: 0...min(70, n - i), using: &rng)
                    crc = CRC32C.checksum(Array(data[i..<(i + step)]), extending: crc)
                    i += step
                }
                XCTAssertEqual(crc, whole, "length \(n)")
            }
            var flipped = data
            flipped[n / 2] ^= 1
            XCTAssertNotEqual(CRC32C.checksum(flipped), whole)
        }
    }

    // MARK: ByteReader

    func read(_ b: [UInt8], _ body: (inout ByteReader) throws -> Void) throws {
        try b.withUnsafeBytes { p in
            var r = ByteReader(p, what: "test")
            try body(&r)
        }
    }

    func testByteReaderRoundTrip() throws {
        var w = ByteWriter()
        let varints: [UInt64] = [0, 1, 127, 128, 300, 16_383, 16_384, UInt64(UInt32.max), UInt64.max]
        for v in varints { w.varint(v) }
        w.u8(9); w.u32(0xDEAD_BEEF); w.u64(0x0102_0304_0506_0708); w.i64(-5)
        w.lengthPrefixed([1, 2, 3]); w.string("héllo")
        try read(w.bytes) { r in
            for v in varints { XCTAssertEqual(try r.varint(), v) }
            XCTAssertEqual(try r.u8(), 9)
            XCTAssertEqual(try r.u32(), 0xDEAD_BEEF)
            XCTAssertEqual(try r.u64(), 0x0102_0304_0506_0708)
            XCTAssertEqual(try r.i64(), -5)
            XCTAssertEqual(try r.lengthPrefixed(), [1, 2, 3])
            XCTAssertEqual(try r.string(), "héllo")
            XCTAssertTrue(r.atEnd)
            assertThrowsStatus(.corruption, "u8 at end") { try r.u8() }
        }
    }

    func testByteReaderRejectsTruncatedInput() throws {
        let cases: [(String, [UInt8], (inout ByteReader) throws -> Void)] = [
            ("varint cut", [0x80, 0x80], { _ = try $0.varint() }),
            ("varint empty", [], { _ = try $0.varint() }),
            ("varint too long", [UInt8](repeating: 0xFF, count: 11), { _ = try $0.varint() }),
            ("varint overflow", [UInt8](repeating: 0xFF, count: 9) + [0x02], { _ = try $0.varint() }),
            ("u32 cut", [1, 2, 3], { _ = try $0.u32() }),
            ("u64 cut", [1, 2, 3, 4, 5, 6, 7], { _ = try $0.u64() }),
            ("length past end", [5, 1, 2], { _ = try $0.length() }),
            ("huge length", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], { _ = try $0.lengthPrefixed() }),
            ("slice past end", [1, 2], { _ = try $0.slice(3) }),
            ("negative slice", [1, 2], { _ = try $0.slice(-1) }),
            ("string past end", [4, 0x41], { _ = try $0.string() }),
        ]
        for (what, b, op) in cases {
            try read(b) { r in
                assertThrowsStatus(.corruption, what) { try op(&r) }
            }
        }
    }

    func testByteReaderNeverTrapsOnRandomInput() throws {
        var rng = SplitMix(11)
        for _ in 0..<3000 {
            let n = Int.random(in: 0...24, using: &rng)
            let b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try read(b) { r in
                for _ in 0..<8 {
                    do {
                        switch Int.random(in: 0..<6, using: &rng) {
                        case 0: _ = try r.varint()
                        case 1: _ = try r.u32()
                        case 2: _ = try r.u64()
                        case 3: _ = try r.lengthPrefixed()
                        case 4: _ = try r.string()
                        default: _ = try r.u8()
                        }
                    } catch let e as ShaleError {
                        XCTAssertEqual(e.status, .corruption)
                    }
                    XCTAssertLessThanOrEqual(r.offset, n)
                }
            }
        }
    }

    // MARK: byte comparison

    func testCompareBytesMatchesLexicographicOrder() {
        var rng = SplitMix(5)
        let alphabet: [UInt8] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF]
        func sign(_ x: Int) -> Int { x < 0 ? -1 : (x > 0 ? 1 : 0) }
        for _ in 0..<20_000 {
            let n = [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 72, 130, 200][Int.random(in: 0..<14, using: &rng)]
            var a = (0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            var b = a
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: if !b.isEmpty { b[Int.random(in: 0..<b.count, using: &rng)] = alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            case 1: b.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)])
            case 2: if !a.isEmpty { a.removeLast(Int.random(in: 1...a.count, using: &rng)) }
            default: break
            }
            let expected = a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
            XCTAssertEqual(sign(compareBytes(a, b)), expected, "\(a) vs \(b)")
            XCTAssertEqual(sign(compareBytes(b, a)), -expected, "\(b) vs \(a)")
        }
    }

    // MARK: FileEnvelope

    func testEnvelopeRoundTrip() throws {
        for body in [[UInt8](), bytes("x"), (0..<1000).map { UInt8($0 & 0xff) }] {
            let file = FileEnvelope.wrap(.manifest, version: 3, body: body)
            XCTAssertEqual(file.count, FileEnvelope.headerSize + body.count + FileEnvelope.footerSize)
            try file.withUnsafeBytes { b in
                let h = try FileEnvelope.readHeader(b, kind: .manifest, supported: 3, file: "f")
                XCTAssertEqual(h.version, 3)
                XCTAssertTrue(FileEnvelope.hasFooter(b))
                XCTAssertEqual(Array(try FileEnvelope.readBody(b, file: "f")), body)
                assertThrowsStatus(.corruption, "newer version") {
                    try FileEnvelope.readHeader(b, kind: .manifest, supported: 2, file: "f")
                }
                assertThrowsStatus(.corruption, "other kind") {
                    try FileEnvelope.readHeader(b, kind: .wal, supported: 3, file: "f")
                }
            }
        }
        FileEnvelope.header(.table, version: 0).withUnsafeBytes { b in
            assertThrowsStatus(.corruption, "version 0") { try FileEnvelope.readHeader(b, kind: .table, supported: 1, file: "f") }
        }
    }

    /// Header and body checks together, as a reader of a whole file does them.
    func readEnvelope(_ file: [UInt8]) throws -> [UInt8] {
        try file.withUnsafeBytes { b in
            _ = try FileEnvelope.readHeader(b, kind: .table, supported: 1, file: "damaged.sst")
            return Array(try FileEnvelope.readBody(b, file: "damaged.sst"))
        }
    }

    func testEnvelopeDetectsEveryFlipAndTruncation() throws {
        let body = (0..<100).map { UInt8(($0 * 7) & 0xff) }
        let file = FileEnvelope.wrap(.table, version: 1, body: body)
        XCTAssertEqual(try readEnvelope(file), body)
        for i in 0..<file.count {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var d = file
                d[i] ^= mask
                let e = assertThrowsStatus(.corruption, "flip \(mask) at byte \(i)") { try readEnvelope(d) }
                if let e { XCTAssertTrue(e.message.contains("damaged.sst"), e.message) }
            }
        }
        for n in 0..<file.count {
            assertThrowsStatus(.corruption, "truncated to \(n)") { try readEnvelope(Array(file[0..<n])) }
        }
        assertThrowsStatus(.corruption, "extra byte") { try readEnvelope(file + [0]) }
    }

    // MARK: WAL

    struct WalRecord: Equatable {
        var seq: UInt64
        var ops: [Op]
        struct Op: Equatable {
            var kind: EntryKind
            var key: [UInt8]
            var value: [UInt8]
        }
    }

    func sampleRecords() -> [WalRecord] {
        var out: [WalRecord] = []
        var seq: UInt64 = 1
        for i in 0..<6 {
            var ops: [WalRecord.Op] = []
            for j in 0..<(i + 1) {
                if j % 3 == 2 {
                    ops.append(.init(kind: .deletion, key: bytes("k\(i)-\(j)"), value: []))
                } else {
                    ops.append(.init(kind: .value, key: bytes("k\(i)-\(j)"), value: [UInt8](repeating: UInt8(i), count: j * 10)))
                }
            }
            out.append(WalRecord(seq: seq, ops: ops))
            seq += UInt64(ops.count)
        }
        return out
    }

    /// A segment of `records`; returns the bytes and each record's start offset.
    func buildSegment(_ records: [WalRecord], sealed: Bool = false) -> ([UInt8], [Int]) {
        var out = FileEnvelope.header(.wal, version: WALFormat.version)
        var starts: [Int] = []
        for r in records {
            var rep = BatchRep()
            for op in r.ops {
                op.key.withUnsafeBytes { k in
                    op.value.withUnsafeBytes { v in
                        if op.kind == .value { rep.put(k, v) } else { rep.delete(k) }
                    }
                }
            }
            let start = out.count
            starts.append(start)
            out.append(contentsOf: [UInt8](repeating: 0, count: WALFormat.recordHeaderSize))
            withUnsafeBytes(of: r.seq.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(rep.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: rep.bytes)
            WALFormat.sealRecord(&out, headerAt: start)
        }
        if sealed {
            let body = Array(out[FileEnvelope.headerSize...])
            out += FileEnvelope.footer(bodyLength: UInt64(body.count), bodyCRC: CRC32C.checksum(body))
        }
        return (out, starts)
    }

    func scanSegment(_ seg: [UInt8], limit: Int? = nil, tolerate: Bool) throws -> ([WalRecord], [Int], WALFormat.ScanEnd) {
        var recs: [WalRecord] = []
        var ends: [Int] = []
        let end = try seg.withUnsafeBytes { b in
            try WALFormat.scan(b, file: "wal/00000000000000000001.wal", limit: limit, tolerateTornTail: tolerate) { rec in
                var ops: [WalRecord.Op] = []
                try BatchRep.forEach(rec.ops, count: rec.count, what: "rec") { kind, k, v in
                    ops.append(.init(kind: kind, key: Array(k), value: Array(v)))
                }
                recs.append(WalRecord(seq: rec.firstSequence, ops: ops))
                ends.append(rec.end)
            }
        }
        return (recs, ends, end)
    }

    func testWALRoundTrip() throws {
        let records = sampleRecords()
        for sealed in [false, true] {
            let (seg, starts) = buildSegment(records, sealed: sealed)
            for tolerate in [false, true] {
                let (got, ends, end) = try scanSegment(seg, tolerate: tolerate)
                XCTAssertEqual(got, records, "sealed \(sealed)")
                XCTAssertEqual(end, .clean)
                XCTAssertEqual(Array(ends.dropLast()), Array(starts.dropFirst()))
                XCTAssertEqual(ends.last, seg.count - (sealed ? FileEnvelope.footerSize : 0))
            }
        }
        // A header-only segment holds no records.
        let (none, _, end) = try scanSegment(FileEnvelope.header(.wal, version: WALFormat.version), tolerate: false)
        XCTAssertEqual(none, [])
        XCTAssertEqual(end, .clean)
    }

    func testWALTornTail() throws {
        let records = sampleRecords()
        let (seg, starts) = buildSegment(records)
        let last = starts.last!
        XCTAssertEqual(try scanSegment(Array(seg[0..<last]), tolerate: true).2, .clean)
        for cut in (last + 1)..<seg.count {
            let torn = Array(seg[0..<cut])
            let (got, _, end) = try scanSegment(torn, tolerate: true)
            XCTAssertEqual(end, .torn(validLength: last), "cut at \(cut)")
            XCTAssertEqual(got, Array(records.dropLast()), "cut at \(cut)")
            assertThrowsStatus(.corruption, "cut at \(cut) without tolerance") { try scanSegment(torn, tolerate: false) }
        }
        // Zeros after the last whole record (a preallocated or half-written tail).
        let zeroed = seg + [UInt8](repeating: 0, count: 40)
        let (got, _, end) = try scanSegment(zeroed, tolerate: true)
        XCTAssertEqual(end, .torn(validLength: seg.count))
        XCTAssertEqual(got, records)
    }

    func testWALDamageInAMiddleRecordIsCorruption() throws {
        let records = sampleRecords()
        let (seg, starts) = buildSegment(records)
        let mid = 2
        for i in starts[mid]..<starts[mid + 1] {
            var d = seg
            d[i] ^= 0x10
            for tolerate in [false, true] {
                let e = assertThrowsStatus(.corruption, "flip at \(i), tolerate \(tolerate)") { try scanSegment(d, tolerate: tolerate) }
                if let e { XCTAssertTrue(e.message.contains("wal/00000000000000000001.wal"), e.message) }
            }
        }
        // A damaged header is corruption whatever follows.
        var h = seg
        h[3] ^= 1
        assertThrowsStatus(.corruption, "bad header") { try scanSegment(h, tolerate: true) }
    }

    func testWALSealedSegmentDamageInRecordsIsCorruption() throws {
        let (seg, starts) = buildSegment(sampleRecords(), sealed: true)
        let footer = seg.count - FileEnvelope.footerSize
        for i in 0..<footer {
            var d = seg
            d[i] ^= 0x04
            assertThrowsStatus(.corruption, "sealed, flip at \(i)") { try scanSegment(d, tolerate: true) }
        }
        // Damage in the last record of a sealed segment is not a torn tail.
        var d = seg
        d[starts.last! + WALFormat.recordHeaderSize + 2] ^= 0xFF
        assertThrowsStatus(.corruption, "sealed, last record") { try scanSegment(d, tolerate: true) }
    }

    /// Without torn-tail tolerance any footer damage is corruption. With it (the caller says
    /// this is the newest segment, whose footer write may itself have been cut short), a
    /// damaged footer reads as a torn tail right after the last whole record: no record is lost.
    /// Recovery only grants tolerance to the newest segment (SealedSegmentDamageTests).
    func testWALSealedSegmentDamagedFooter() throws {
        let records = sampleRecords()
        let (seg, _) = buildSegment(records, sealed: true)
        let footer = seg.count - FileEnvelope.footerSize
        for i in footer..<seg.count {
            var d = seg
            d[i] ^= 0x04
            assertThrowsStatus(.corruption, "sealed, footer flip at \(i), no tolerance") { try scanSegment(d, tolerate: false) }
            let (got, _, end) = try scanSegment(d, tolerate: true)
            XCTAssertEqual(end, .torn(validLength: footer), "footer flip at \(i)")
            XCTAssertEqual(got, records, "footer flip at \(i)")
        }
    }

    func testWALLimit() throws {
        let records = sampleRecords()
        let (seg, starts) = buildSegment(records)
        // A limit at a record boundary reads the records before it, even with bytes after.
        let (got, _, end) = try scanSegment(seg, limit: starts[3], tolerate: true)
        XCTAssertEqual(got, Array(records[0..<3]))
        XCTAssertEqual(end, .clean)
        XCTAssertEqual(try scanSegment(seg, limit: FileEnvelope.headerSize, tolerate: false).0, [])
        assertThrowsStatus(.corruption, "limit beyond the file") { try scanSegment(seg, limit: seg.count + 1, tolerate: true) }
        assertThrowsStatus(.corruption, "limit below the header") { try scanSegment(seg, limit: 10, tolerate: true) }
        // A bounded segment must hold whole records up to the bound: no torn-tail tolerance.
        assertThrowsStatus(.corruption, "limit inside a record") { try scanSegment(seg, limit: starts[3] + 5, tolerate: true) }
        let truncated = Array(seg[0..<(starts[4] + 3)])
        assertThrowsStatus(.corruption, "bounded segment cut short") { try scanSegment(truncated, limit: starts[5], tolerate: true) }
    }

    func testWALSegmentNames() {
        XCTAssertEqual(WALFormat.segmentName(42), "wal/00000000000000000042.wal")
        XCTAssertEqual(WALFormat.segmentId(fromName: "wal/00000000000000000042.wal"), 42)
        XCTAssertNil(WALFormat.segmentId(fromName: "wal/x.wal"))
        XCTAssertNil(WALFormat.segmentId(fromName: "sst/00000000000000000042.sst"))
        XCTAssertLessThan(WALFormat.segmentName(9), WALFormat.segmentName(10))
    }

    func testBatchRepRejectsMalformedOps() throws {
        var rep = BatchRep()
        bytes("key").withUnsafeBytes { k in bytes("value").withUnsafeBytes { v in rep.put(k, v) } }
        bytes("gone").withUnsafeBytes { rep.delete($0) }
        let good = rep.bytes
        try good.withUnsafeBytes { b in
            var n = 0
            try BatchRep.forEach(b, count: 2, what: "ops") { _, _, _ in n += 1 }
            XCTAssertEqual(n, 2)
            assertThrowsStatus(.corruption, "count too high") { try BatchRep.forEach(b, count: 3, what: "ops") { _, _, _ in } }
            assertThrowsStatus(.corruption, "count too low") { try BatchRep.forEach(b, count: 1, what: "ops") { _, _, _ in } }
        }
        for n in 0..<good.count {
            Array(good[0..<n]).withUnsafeBytes { b in
                assertThrowsStatus(.corruption, "ops cut to \(n)") { try BatchRep.forEach(b, count: 2, what: "ops") { _, _, _ in } }
            }
        }
        var bad = good
        bad[0] = 7
        bad.withUnsafeBytes { b in
            assertThrowsStatus(.corruption, "unknown kind") { try BatchRep.forEach(b, count: 2, what: "ops") { _, _, _ in } }
        }
    }

    // MARK: Manifest

    func sampleManifest() -> Manifest {
        var m = Manifest()
        m.id = 17
        m.writerEpoch = 3
        m.flushedSequence = 12_345
        m.walReplayFrom = 9
        m.walBounds = [WALBound(segment: 9, length: 4096), WALBound(segment: 10, length: 24)]
        m.nextTableNumber = 77
        m.createTimeMs = 1_700_000_000_000
        let t1 = TableMeta(id: 5, fileBytes: 1000, entryCount: 10, minSequence: 1, maxSequence: 10,
                           smallest: bytes("a"), largest: bytes("m\u{0}z"))
        let t2 = TableMeta(id: (3 << 40) | 6, fileBytes: 2000, entryCount: 20, minSequence: 11, maxSequence: 30,
                           smallest: [], largest: [0xFF, 0xFF])
        let t3 = TableMeta(id: 8, fileBytes: 3, entryCount: 1, minSequence: 31, maxSequence: 31,
                           smallest: bytes("q"), largest: bytes("q"))
        m.levels = [[t3, t1], [], [t2]]
        m.checkpoints = [
            CheckpointEntry(id: Array(0..<16), name: "nightly", manifestId: 15, sequence: 12_000, createTimeMs: 1_700_000_000_001,
                            expireTimeMs: 0, walFrom: 8, walTo: 9, formatVersion: 1),
            CheckpointEntry(id: [UInt8](repeating: 0xAB, count: 16), name: "", manifestId: 16, sequence: 12_300,
                            createTimeMs: 5, expireTimeMs: 99, walFrom: 9, walTo: 10, formatVersion: 1),
        ]
        return m
    }

    func decode(_ b: [UInt8]) throws -> Manifest {
        try b.withUnsafeBytes { try Manifest.decode($0, file: "manifest/00000000000000000017.manifest") }
    }

    func testManifestRoundTrip() throws {
        let m = sampleManifest()
        XCTAssertEqual(try decode(m.encode()), m)
        let empty = Manifest()
        XCTAssertEqual(try decode(empty.encode()), empty)
        XCTAssertEqual(m.allTables.map(\.id), [8, 5, (3 << 40) | 6])
        XCTAssertEqual(m.bound(of: 10), 24)
        XCTAssertNil(m.bound(of: 11))
        XCTAssertEqual(Manifest.path(17), "manifest/00000000000000000017.manifest")
        XCTAssertEqual(Manifest.id(fromPath: Manifest.path(17)), 17)
        XCTAssertEqual(TableMeta.path(5), "sst/00000000000000000005.sst")
    }

    func testManifestEveryFlipAndTruncationIsCorruption() throws {
        let enc = sampleManifest().encode()
        for i in 0..<enc.count {
            var d = enc
            d[i] ^= 0x20
            let e = assertThrowsStatus(.corruption, "flip at \(i)") { try decode(d) }
            if let e { XCTAssertTrue(e.message.contains("00000000000000000017.manifest"), e.message) }
        }
        for n in 0..<enc.count {
            assertThrowsStatus(.corruption, "cut to \(n)") { try decode(Array(enc[0..<n])) }
        }
    }

    func testManifestBodyWithBadStructureIsCorruption() throws {
        // Well-enveloped bodies whose contents do not parse.
        var w = ByteWriter()
        for _ in 0..<6 { w.u64(1) }
        w.varint(0)   // no wal bounds
        w.varint(0)   // no levels: invalid
        w.varint(0)
        let noLevels = FileEnvelope.wrap(.manifest, version: Manifest.formatVersion, body: w.bytes)
        assertThrowsStatus(.corruption, "no levels") { try decode(noLevels) }
        let stray = FileEnvelope.wrap(.manifest, version: Manifest.formatVersion,
                                      body: Array(sampleManifest().encode().dropFirst(24).dropLast(24)) + [0])
        assertThrowsStatus(.corruption, "stray bytes") { try decode(stray) }
        let huge = FileEnvelope.wrap(.manifest, version: Manifest.formatVersion,
                                     body: [UInt8](repeating: 0, count: 48) + [0xFF, 0xFF, 0xFF, 0x0F])
        assertThrowsStatus(.corruption, "huge count") { try decode(huge) }
    }

    func testManifestStore() throws {
        let name = freshMemoryName("manifests")
        defer { MemoryStore.drop(name) }
        let store = MemoryStore.named(name)
        let ms = ManifestStore(store: store)
        XCTAssertNil(try ms.loadLatest())
        var m = sampleManifest()
        m.id = 1
        XCTAssertTrue(try ms.tryWrite(m))
        var other = m
        other.writerEpoch = 99
        XCTAssertFalse(try ms.tryWrite(other), "an id is written once")
        XCTAssertEqual(try ms.load(1).writerEpoch, 3)
        m.id = 2
        m.flushedSequence += 1
        XCTAssertTrue(try ms.tryWrite(m))
        XCTAssertEqual(try ms.versionIds(), [1, 2])
        XCTAssertEqual(try ms.loadLatest(), m)
        // A version whose content names another id is damage.
        var wrong = m
        wrong.id = 5
        try store.put(Manifest.path(3), wrong.encode())
        assertThrowsStatus(.corruption, "id mismatch") { try ms.load(3) }
        // A damaged newest version is reported, not skipped.
        var damaged = m
        damaged.id = 4
        var enc = damaged.encode()
        enc[40] ^= 1
        try store.put(Manifest.path(4), enc)
        assertThrowsStatus(.corruption, "damaged newest") { try ms.loadLatest() }
    }
}
