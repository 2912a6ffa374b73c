import Atomics
#if canImport(Glibc)
import Glibc
#endif

/// The in-memory table: a skip list in an arena. One thread inserts at a time (the commit
/// leader); any number of readers traverse it at the same time without locks, because a node
/// is fully written before the release-store that links it in.
///
/// Node layout (8-byte aligned):
///   ikeyLen u32 | valueLen u32 | height u32 | pad u32 | key prefix 2 x u64 | next[height]
///   (8 bytes each) | internal key (user key + 8-byte trailer) | value
/// The key prefix (first 16 key bytes as two big-endian numbers, zero-padded) decides most
/// comparisons during a search without touching the key bytes.
public final class MemTable: @unchecked Sendable {
    static let maxHeight = 12
    private let arena: Arena
    private let head: UnsafeMutableRawPointer
    private let heightAtomic = ManagedAtomic<Int>(1)
    private let bytesAtomic = ManagedAtomic<Int>(0)
    private var rng: UInt64
    /// Highest WAL segment whose records this memtable holds; flushing it lets the WAL replay
    /// position move past that segment.
    public var walSegment: UInt64
    private let entriesAtomic = ManagedAtomic<Int>(0)
    /// Predecessors found by an insert; reused, since only one thread inserts.
    private let insertScratch = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: MemTable.maxHeight)
    private let lastSeqAtomic = ManagedAtomic<UInt64>(0)

    /// `capacity`: the memtable size limit, which sizes the arena's blocks.
    public init(walSegment: UInt64, capacity: Int = 64 << 20) {
        self.walSegment = walSegment
        arena = Arena(blockSize: min(4 << 20, max(64 << 10, capacity / 8)))
        rng = UInt64.random(in: 1...UInt64.max)
        head = arena.allocate(32 + 8 * Self.maxHeight)
        head.storeBytes(of: UInt32(0), toByteOffset: 0, as: UInt32.self)
        head.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
        head.storeBytes(of: UInt32(Self.maxHeight), toByteOffset: 8, as: UInt32.self)
        head.storeBytes(of: UInt64(0), toByteOffset: 16, as: UInt64.self)
        head.storeBytes(of: UInt64(0), toByteOffset: 24, as: UInt64.self)
        for i in 0..<Self.maxHeight { head.storeBytes(of: 0, toByteOffset: 32 + 8 * i, as: Int.self) }
    }

    deinit { insertScratch.deallocate() }

    /// Arena bytes in use: the size that decides when the memtable is full.
    public var approximateBytes: Int { bytesAtomic.load(ordering: .relaxed) }
    public var entryCount: Int { entriesAtomic.load(ordering: .relaxed) }
    public var lastSequence: UInt64 { lastSeqAtomic.load(ordering: .acquiring) }
    public var isEmpty: Bool { entryCount == 0 }

    // MARK: node accessors

    @inline(__always) static func ikeyLen(_ n: UnsafeMutableRawPointer) -> Int { Int(n.load(as: UInt32.self)) }
    @inline(__always) static func valueLen(_ n: UnsafeMutableRawPointer) -> Int { Int(n.load(fromByteOffset: 4, as: UInt32.self)) }
    @inline(__always) static func height(_ n: UnsafeMutableRawPointer) -> Int { Int(n.load(fromByteOffset: 8, as: UInt32.self)) }

    @inline(__always) static func nextSlot(_ n: UnsafeMutableRawPointer, _ level: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic<Int>(at: (n + 32 + 8 * level).assumingMemoryBound(to: Int.AtomicRepresentation.self))
    }

    @inline(__always) static func next(_ n: UnsafeMutableRawPointer, _ level: Int) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: nextSlot(n, level).load(ordering: .acquiring))
    }

    @inline(__always) static func internalKey(_ n: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: n + 32 + 8 * height(n), count: ikeyLen(n))
    }

    @inline(__always) static func value(_ n: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: n + 32 + 8 * height(n) + ikeyLen(n), count: valueLen(n))
    }

    /// The first 16 bytes of a key as two big-endian numbers, zero-padded: comparing them as
    /// numbers orders them like their bytes.
    @inline(__always)
    static func prefix(_ key: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        if key.count >= 16 {
            return (UInt64(bigEndian: key.loadUnaligned(as: UInt64.self)),
                    UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        var p1: UInt64 = 0
        var p2: UInt64 = 0
        for i in 0..<key.count {
            if i < 8 { p1 |= UInt64(key[i]) << (56 - 8 * UInt64(i)) } else { p2 |= UInt64(key[i]) << (56 - 8 * UInt64(i - 8)) }
        }
        return (p1, p2)
    }

    /// Compares a node's internal key with (userKey, trailer), whose prefix is `keyPrefix`.
    @inline(__always)
    static func compare(_ n: UnsafeMutableRawPointer, _ userKey: UnsafeRawBufferPointer, _ keyPrefix: (UInt64, UInt64), _ trailer: UInt64) -> Int {
        let n1 = n.load(fromByteOffset: 16, as: UInt64.self)
        if n1 != keyPrefix.0 { return n1 < keyPrefix.0 ? -1 : 1 }
        let n2 = n.load(fromByteOffset: 24, as: UInt64.self)
        if n2 != keyPrefix.1 { return n2 < keyPrefix.1 ? -1 : 1 }
        let ik = internalKey(n)
        let c = compareBytes(InternalKey.userKey(ik), userKey)
        if c != 0 { return c }
        let t = InternalKey.trailer(of: ik)
        return t > trailer ? -1 : (t < trailer ? 1 : 0)
    }

    /// The first node >= (userKey, trailer); fills `prev` with the predecessors per level.
    @inline(__always)
    func findGreaterOrEqual(_ userKey: UnsafeRawBufferPointer, _ trailer: UInt64,
                            _ prev: UnsafeMutablePointer<UnsafeMutableRawPointer>?) -> UnsafeMutableRawPointer? {
        var x = head
        var level = heightAtomic.load(ordering: .relaxed) - 1
        let keyPrefix = Self.prefix(userKey)
        while true {
            let n = Self.next(x, level)
            if let n, Self.compare(n, userKey, keyPrefix, trailer) < 0 {
                x = n
            } else {
                prev?[level] = x
                if level == 0 { return n }
                level -= 1
            }
        }
    }

    private func randomHeight() -> Int {
        var h = 1
        while h < Self.maxHeight {
            rng ^= rng << 13
            rng ^= rng >> 7
            rng ^= rng << 17
            if rng & 3 != 0 { break }
            h += 1
        }
        return h
    }

    /// Inserts one entry. Only the commit leader calls this (one inserter at a time).
    public func add(seq: UInt64, kind: EntryKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let trailer = InternalKey.trailer(seq, kind)
        let h = randomHeight()
        let ikeyLen = key.count + 8
        let size = 32 + 8 * h + ikeyLen + value.count
        let n = arena.allocate(size)
        n.storeBytes(of: UInt32(ikeyLen), toByteOffset: 0, as: UInt32.self)
        n.storeBytes(of: UInt32(value.count), toByteOffset: 4, as: UInt32.self)
        n.storeBytes(of: UInt32(h), toByteOffset: 8, as: UInt32.self)
        let (p1, p2) = Self.prefix(key)
        n.storeBytes(of: p1, toByteOffset: 16, as: UInt64.self)
        n.storeBytes(of: p2, toByteOffset: 24, as: UInt64.self)
        let keyAt = n + 32 + 8 * h
        if key.count > 0 { keyAt.copyMemory(from: key.baseAddress!, byteCount: key.count) }
        (keyAt + key.count).storeBytes(of: trailer.littleEndian, as: UInt64.self)
        if value.count > 0 { (keyAt + ikeyLen).copyMemory(from: value.baseAddress!, byteCount: value.count) }

        let pv = insertScratch
        do {
            _ = findGreaterOrEqual(key, trailer, pv)
            let cur = heightAtomic.load(ordering: .relaxed)
            if h > cur {
                for i in cur..<h { pv[i] = head }
                heightAtomic.store(h, ordering: .relaxed)
            }
            for i in 0..<h {
                Self.nextSlot(n, i).store(Self.nextSlot(pv[i], i).load(ordering: .relaxed), ordering: .relaxed)
                Self.nextSlot(pv[i], i).store(Int(bitPattern: n), ordering: .releasing)
            }
        }
        bytesAtomic.store(arena.usedBytes, ordering: .relaxed)
        entriesAtomic.wrappingIncrement(ordering: .relaxed)
        if seq > lastSeqAtomic.load(ordering: .relaxed) { lastSeqAtomic.store(seq, ordering: .releasing) }
    }

    /// Finds the newest entry of `userKey` with sequence <= `snapshot` and hands it to `found`.
    @inline(__always)
    public func get<T>(_ userKey: UnsafeRawBufferPointer, snapshot: UInt64,
                       _ found: (EntryKind, UInt64, UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        guard let n = findGreaterOrEqual(userKey, InternalKey.seekTrailer(snapshot), nil) else { return nil }
        let ik = Self.internalKey(n)
        guard compareBytes(InternalKey.userKey(ik), userKey) == 0 else { return nil }
        let t = InternalKey.trailer(of: ik)
        let kind: EntryKind = (t & 0xff) == 0 ? .deletion : .value
        return try found(kind, t >> 8, Self.value(n))
    }

    public func makeIterator() -> MemTableIterator { MemTableIterator(self) }

    fileprivate var headNode: UnsafeMutableRawPointer { head }
}

/// Walks a memtable in internal-key order; safe while the leader inserts.
public final class MemTableIterator: InternalIterator {
    private let table: MemTable
    private var node: UnsafeMutableRawPointer?

    init(_ t: MemTable) { table = t }

    public var isValid: Bool { node != nil }
    public var key: UnsafeRawBufferPointer { MemTable.internalKey(node!) }
    public var value: UnsafeRawBufferPointer { MemTable.value(node!) }

    public func seekToFirst() { node = MemTable.next(table.headNode, 0) }

    public func seek(_ target: UnsafeRawBufferPointer) {
        if target.count < 8 {
            node = table.findGreaterOrEqual(target, UInt64.max, nil)
            return
        }
        node = table.findGreaterOrEqual(InternalKey.userKey(target), InternalKey.trailer(of: target), nil)
    }

    public func next() { if let n = node { node = MemTable.next(n, 0) } }
}
