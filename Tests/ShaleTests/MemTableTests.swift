import XCTest
@testable import Shale

/// The skip-list memtable: versions, snapshots, iteration order, and lock-free reads while
/// one thread inserts.
final class MemTableTests: XCTestCase {
    func add(_ m: MemTable, _ seq: UInt64, _ kind: EntryKind, _ key: [UInt8], _ value: [UInt8] = []) {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in m.add(seq: seq, kind: kind, key: k, value: v) } }
    }

    func get(_ m: MemTable, _ key: [UInt8], _ snapshot: UInt64) -> (EntryKind, UInt64, [UInt8])? {
        key.withUnsafeBytes { k in m.get(k, snapshot: snapshot) { kind, seq, v in (kind, seq, Array(v)) } }
    }

    func entries(_ it: MemTableIterator) -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        while it.isValid {
            out.append((Array(it.key), Array(it.value)))
            it.next()
        }
        return out
    }

    func testGetAtSnapshots() {
        let m = MemTable(walSegment: 1, capacity: 1 << 20)
        XCTAssertTrue(m.isEmpty)
        XCTAssertNil(get(m, bytes("a"), maxSequence))
        add(m, 1, .value, bytes("a"), bytes("a1"))
        add(m, 2, .value, bytes("b"), bytes("b2"))
        add(m, 3, .value, bytes("a"), bytes("a3"))
        add(m, 4, .deletion, bytes("a"))
        add(m, 5, .value, bytes("a"), [])
        XCTAssertEqual(m.entryCount, 5)
        XCTAssertEqual(m.lastSequence, 5)
        XCTAssertGreaterThan(m.approximateBytes, 0)
        XCTAssertNil(get(m, bytes("a"), 0))
        XCTAssertEqual(get(m, bytes("a"), 1)?.2, bytes("a1"))
        XCTAssertEqual(get(m, bytes("a"), 2)?.1, 1)
        XCTAssertEqual(get(m, bytes("a"), 3)?.2, bytes("a3"))
        XCTAssertEqual(get(m, bytes("a"), 4)?.0, .deletion)
        XCTAssertEqual(get(m, bytes("a"), 4)?.1, 4)
        let newest = get(m, bytes("a"), maxSequence)
        XCTAssertEqual(newest?.0, .value)
        XCTAssertEqual(newest?.1, 5)
        XCTAssertEqual(newest?.2, [])
        XCTAssertNil(get(m, bytes("b"), 1))
        XCTAssertEqual(get(m, bytes("b"), 2)?.2, bytes("b2"))
        // Prefixes and extensions of a key are other keys.
        XCTAssertNil(get(m, bytes(""), maxSequence))
        XCTAssertNil(get(m, bytes("aa"), maxSequence))
        XCTAssertNil(get(m, bytes("0"), maxSequence))
        XCTAssertNil(get(m, bytes("c"), maxSequence))
    }

    func testBinaryKeysAndLargeValues() {
        let m = MemTable(walSegment: 1, capacity: 64 << 10)
        let k1: [UInt8] = [0, 0, 1]
        let k2: [UInt8] = [0, 0]
        let k3: [UInt8] = [0xFF]
        let big = [UInt8](repeating: 7, count: 300_000)  // larger than an arena block
        add(m, 1, .value, k1, big)
        add(m, 2, .value, k2, [1])
        add(m, 3, .value, k3, [2])
        XCTAssertEqual(get(m, k1, 9)?.2, big)
        XCTAssertEqual(get(m, k2, 9)?.2, [1])
        XCTAssertEqual(get(m, k3, 9)?.2, [2])
        let it = m.makeIterator()
        it.seekToFirst()
        let keys = entries(it).map { e in e.0.withUnsafeBytes { Array(InternalKey.userKey($0)) } }
        XCTAssertEqual(keys, [k2, k1, k3])
    }

    func testIteratorOrderMatchesSortedModel() {
        var rng = SplitMix(42)
        let m = MemTable(walSegment: 1, capacity: 4 << 20)
        var model: [[UInt8]: [UInt8]] = [:]  // internal key -> value
        for seq in 1...5000 {
            let key = bytes("k\(Int.random(in: 0..<700, using: &rng))")
            let kind: EntryKind = Int.random(in: 0..<5, using: &rng) == 0 ? .deletion : .value
            let value = kind == .value ? bytes("v\(seq)") : []
            add(m, UInt64(seq), kind, key, value)
            model[InternalKey.make(key, trailer: InternalKey.trailer(UInt64(seq), kind))] = value
        }
        let sorted = model.keys.sorted { InternalKey.compare($0, $1) < 0 }
        let it = m.makeIterator()
        it.seekToFirst()
        let got = entries(it)
        XCTAssertEqual(got.map(\.0), sorted)
        XCTAssertEqual(got.map(\.1), sorted.map { model[$0]! })

        // Seeks land on the first internal key >= the target.
        for _ in 0..<500 {
            let user = bytes("k\(Int.random(in: 0..<750, using: &rng))")
            let seq = UInt64.random(in: 0...5001, using: &rng)
            let target = InternalKey.make(user, trailer: InternalKey.seekTrailer(seq))
            target.withUnsafeBytes { it.seek($0) }
            let expected = sorted.first { InternalKey.compare($0, target) >= 0 }
            XCTAssertEqual(it.isValid ? Array(it.key) : nil, expected, "seek \(String(decoding: user, as: UTF8.self))@\(seq)")
        }
        // A bare user key (shorter than a trailer) seeks to that key's newest version.
        func userKey(_ ik: [UInt8]) -> [UInt8] { Array(ik[0..<(ik.count - 8)]) }
        bytes("k1").withUnsafeBytes { it.seek($0) }
        XCTAssertEqual(it.isValid ? Array(it.key) : nil, sorted.first { compareBytes(userKey($0), bytes("k1")) >= 0 })
        XCTAssertEqual(it.isValid ? userKey(Array(it.key)) : nil, bytes("k1"))
        bytes("z").withUnsafeBytes { it.seek($0) }
        XCTAssertFalse(it.isValid)
    }

    /// Keys that share 8-byte prefixes, differ only in length or trailing zeros, and hold
    /// bytes above 0x7f: the order must be plain byte order, then newest first.
    func testPrefixHeavyKeysOrder() {
        var rng = SplitMix(99)
        let alphabet: [UInt8] = [0, 1, 0x61, 0x7F, 0x80, 0xFF]
        let m = MemTable(walSegment: 1, capacity: 4 << 20)
        var model: [[UInt8]: [UInt8]] = [:]
        var newest: [[UInt8]: UInt64] = [:]
        for seq in 1...6000 {
            let len = Int.random(in: 1...12, using: &rng)
            var key = [UInt8](repeating: 0x61, count: min(len, 7))
            while key.count < len { key.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]) }
            if Int.random(in: 0..<3, using: &rng) == 0 { key[0] = alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            add(m, UInt64(seq), .value, key, bytes("\(seq)"))
            model[InternalKey.make(key, trailer: InternalKey.trailer(UInt64(seq), .value))] = bytes("\(seq)")
            newest[key] = UInt64(seq)
        }
        func lexLess(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }
        let sorted = model.keys.sorted { a, b in
            let ua = Array(a.dropLast(8)), ub = Array(b.dropLast(8))
            if ua != ub { return lexLess(ua, ub) }
            return a.withUnsafeBytes { InternalKey.trailer(of: $0) } > b.withUnsafeBytes { InternalKey.trailer(of: $0) }
        }
        let it = m.makeIterator()
        it.seekToFirst()
        XCTAssertEqual(entries(it).map(\.0), sorted)
        for (k, seq) in newest {
            XCTAssertEqual(get(m, k, maxSequence)?.1, seq, "\(k)")
            XCTAssertNil(get(m, k + [0], 0))
        }
        // Keys that were never written, next to ones that were.
        for k in newest.keys.prefix(300) {
            for probe in [k + [0], Array(k.dropLast()), k + [0xFF]] where newest[probe] == nil && !probe.isEmpty {
                XCTAssertNil(get(m, probe, maxSequence), "\(probe)")
            }
        }
    }

    // MARK: one writer, many readers

    static let keySpace = 50_000

    static func keyName(_ index: Int) -> [UInt8] {
        // Spread keys over the order so inserts land everywhere in the list.
        let h = (UInt64(index) &* 0x9E37_79B9_7F4A_7C15) >> 40
        return bytes("key-\(h)-\(index)")
    }

    /// The value written at `seq`: the sequence and key repeated, so a torn read shows.
    static func valueFor(_ seq: UInt64, _ key: [UInt8]) -> [UInt8] {
        var v: [UInt8] = []
        withUnsafeBytes(of: seq.littleEndian) { v.append(contentsOf: $0) }
        for _ in 0..<Int(seq % 4) { v += key }
        return v
    }

    /// Entry `seq` (1-based) writes key index (seq - 1) % keySpace.
    static func keyIndex(_ seq: UInt64) -> Int { Int((seq - 1) % UInt64(keySpace)) }

    func testConcurrentReadersDuringInserts() {
        let total: UInt64 = 200_000
        let m = MemTable(walSegment: 1, capacity: 64 << 20)
        let names = (0..<Self.keySpace).map(Self.keyName)
        let problems = ProblemLog()
        let done = ManagedFlag()

        let writer = BackgroundThread {
            for seq in 1...total {
                let k = names[Self.keyIndex(seq)]
                let v = Self.valueFor(seq, k)
                k.withUnsafeBytes { kp in v.withUnsafeBytes { vp in m.add(seq: seq, kind: .value, key: kp, value: vp) } }
            }
            done.set()
        }
        let getter = BackgroundThread {
            var rng = SplitMix(1)
            var checks = 0
            while !done.isSet || checks < 1000 {
                let snap = m.lastSequence
                if snap == 0 { continue }
                let idx = Int.random(in: 0..<Self.keySpace, using: &rng)
                let k = names[idx]
                // The newest write of this key at or below the snapshot.
                let first = UInt64(idx + 1)
                let expected: UInt64? = first > snap ? nil : first + (snap - first) / UInt64(Self.keySpace) * UInt64(Self.keySpace)
                let got = k.withUnsafeBytes { kp in m.get(kp, snapshot: snap) { kind, seq, v in (kind, seq, Array(v)) } }
                if got?.1 != expected { problems.add("get \(idx) at \(snap): seq \(String(describing: got?.1)), expected \(String(describing: expected))") }
                if let got, got.2 != Self.valueFor(got.1, k) { problems.add("get \(idx) at \(snap): torn value") }
                checks += 1
                if problems.count > 20 { break }
            }
        }
        let iterator = BackgroundThread {
            var rounds = 0
            while !done.isSet || rounds < 2 {
                let before = m.lastSequence
                let it = m.makeIterator()
                it.seekToFirst()
                var prev: [UInt8]? = nil
                var seen = 0
                while it.isValid {
                    let ik = Array(it.key)
                    if let p = prev, InternalKey.compare(p, ik) >= 0 { problems.add("iteration out of order") }
                    let (user, seq) = ik.withUnsafeBytes { (Array(InternalKey.userKey($0)), InternalKey.trailer(of: $0) >> 8) }
                    if seq < 1 || seq > total || names[Self.keyIndex(seq)] != user { problems.add("entry with key/seq mismatch") }
                    if Array(it.value) != Self.valueFor(seq, user) { problems.add("torn value in iteration") }
                    prev = ik
                    seen += 1
                    it.next()
                }
                if seen < Int(before) { problems.add("iteration saw \(seen) entries, \(before) were published before it began") }
                rounds += 1
                if problems.count > 20 { break }
            }
        }
        writer.join()
        getter.join()
        iterator.join()
        XCTAssertEqual(problems.all, [])
        XCTAssertEqual(m.entryCount, Int(total))
        XCTAssertEqual(m.lastSequence, total)
        let it = m.makeIterator()
        it.seekToFirst()
        var n = 0
        while it.isValid { n += 1; it.next() }
        XCTAssertEqual(n, Int(total))
    }
}

/// Thread-safe list of problems found by test threads.
final class ProblemLog: @unchecked Sendable {
    private let lock = Lock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var count: Int { lock.withLock { items.count } }
    var all: [String] { lock.withLock { Array(items.prefix(20)) } }
}

/// A flag one thread sets and others poll.
final class ManagedFlag: @unchecked Sendable {
    private let lock = Lock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var isSet: Bool { lock.withLock { flag } }
}
