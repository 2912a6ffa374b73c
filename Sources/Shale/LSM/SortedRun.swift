/// Read-only entries kept in one sorted array, pointing into mapped WAL segments: what readers,
/// restore and clone load a WAL range into. Sorting once is several times faster than
/// inserting into a skip list entry by entry, whose every hop misses the cache.
public final class SortedRun: @unchecked Sendable {
    struct Entry {
        /// The first 16 key bytes as numbers (see MemTable.prefix): most comparisons while
        /// sorting end here, without touching the key in the mapped segment.
        let p1: UInt64
        let p2: UInt64
        let key: UnsafeRawPointer   // user key
        let keyCount: Int
        let trailer: UInt64
        let value: UnsafeRawPointer?
        let valueCount: Int

        var userKey: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: key, count: keyCount) }
    }

    private var entries: [Entry] = []
    /// Keeps the mapped segments alive while entries point into them.
    private var regions: [ByteRegion] = []

    init() {}

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    func retain(_ region: ByteRegion) { regions.append(region) }

    func add(seq: UInt64, kind: EntryKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let (p1, p2) = MemTable.prefix(key)
        entries.append(Entry(p1: p1, p2: p2, key: key.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, keyCount: key.count,
                             trailer: InternalKey.trailer(seq, kind), value: value.baseAddress, valueCount: value.count))
    }

    static func less(_ a: Entry, _ b: Entry) -> Bool {
        if a.p1 != b.p1 { return a.p1 < b.p1 }
        if a.p2 != b.p2 { return a.p2 < b.p2 }
        let c = compareBytes(a.userKey, b.userKey)
        return c != 0 ? c < 0 : a.trailer > b.trailer
    }

    /// Sorts the entries; call once, after the last `add`.
    func seal() { entries.sort(by: Self.less) }

    /// Index of the first entry >= (userKey, trailer).
    private func lowerBound(_ userKey: UnsafeRawBufferPointer, _ trailer: UInt64) -> Int {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let e = entries[mid]
            let c = compareBytes(e.userKey, userKey)
            if c < 0 || (c == 0 && e.trailer > trailer) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The newest entry of `userKey` with sequence <= `snapshot`.
    func get<T>(_ userKey: UnsafeRawBufferPointer, snapshot: UInt64,
                _ found: (EntryKind, UInt64, UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        let i = lowerBound(userKey, InternalKey.seekTrailer(snapshot))
        guard i < entries.count, compareBytes(entries[i].userKey, userKey) == 0 else { return nil }
        let e = entries[i]
        let kind: EntryKind = (e.trailer & 0xff) == 0 ? .deletion : .value
        return try found(kind, e.trailer >> 8, UnsafeRawBufferPointer(start: e.value, count: e.valueCount))
    }

    func makeIterator() -> SortedRunIterator { SortedRunIterator(self) }

    fileprivate func entry(_ i: Int) -> Entry { entries[i] }
}

/// Walks a sorted run in internal-key order.
public final class SortedRunIterator: InternalIterator {
    private let run: SortedRun
    private var index = 0
    private let total: Int
    /// The current internal key (user key + trailer), rebuilt at each move.
    private var keyBuffer: UnsafeMutableRawPointer
    private var keyCapacity = 64
    private var keyCount = 0

    init(_ r: SortedRun) {
        run = r
        total = r.count
        index = total
        keyBuffer = .allocate(byteCount: keyCapacity, alignment: 8)
    }

    deinit { keyBuffer.deallocate() }

    public var isValid: Bool { index < total }

    public var key: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: keyBuffer, count: keyCount) }

    public var value: UnsafeRawBufferPointer {
        let e = run.entry(index)
        return UnsafeRawBufferPointer(start: e.value, count: e.valueCount)
    }

    private func load() {
        guard index < total else { return }
        let e = run.entry(index)
        let need = e.keyCount + 8
        if need > keyCapacity {
            keyBuffer.deallocate()
            keyCapacity = need
            keyBuffer = .allocate(byteCount: keyCapacity, alignment: 8)
        }
        keyBuffer.copyMemory(from: e.key, byteCount: e.keyCount)
        (keyBuffer + e.keyCount).storeBytes(of: e.trailer.littleEndian, as: UInt64.self)
        keyCount = need
    }

    public func seekToFirst() {
        index = 0
        load()
    }

    public func seek(_ target: UnsafeRawBufferPointer) {
        var lo = 0
        var hi = total
        let uk = target.count >= 8 ? InternalKey.userKey(target) : target
        let t = target.count >= 8 ? InternalKey.trailer(of: target) : UInt64.max
        while lo < hi {
            let mid = (lo + hi) / 2
            let e = run.entry(mid)
            let c = compareBytes(e.userKey, uk)
            if c < 0 || (c == 0 && e.trailer > t) { lo = mid + 1 } else { hi = mid }
        }
        index = lo
        load()
    }

    public func next() {
        index += 1
        load()
    }
}
