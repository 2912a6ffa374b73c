/// The read path: point lookups through memtables and tables, newest source first.
extension DB {
    /// Looks up `key` as of `snapshot` (nil = now) and hands the value to `body`.
    /// Returns nil when the key is absent or deleted.
    @inline(__always)
    public func get<T>(_ key: UnsafeRawBufferPointer, snapshot: Snapshot? = nil,
                       _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        try checkOpen()
        try validate(key: key)
        stats.gets.wrappingIncrement(ordering: .relaxed)
        let seq = snapshot?.sequence ?? visibleSequence.load(ordering: .acquiring)
        let v = snapshot?.view ?? currentView()
        return try DB.lookup(key, seq: seq, in: v, body)
    }

    public func get(_ key: [UInt8], snapshot: Snapshot? = nil) throws -> [UInt8]? {
        try key.withUnsafeBytes { k in try get(k, snapshot: snapshot) { Array($0) } }
    }

    /// Lookup in one view at one sequence. The first source that has any version of the key
    /// decides: a value is returned, a deletion means absent.
    static func lookup<T>(_ key: UnsafeRawBufferPointer, seq: UInt64, in v: ReadView,
                          _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        var result: T? = nil
        // Any version of the key settles the lookup: a value is handed to `body`.
        func settle(_ kind: EntryKind, _: UInt64, _ value: UnsafeRawBufferPointer) throws -> Bool {
            if kind == .value { result = try body(value) }
            return true
        }
        if try v.mem.get(key, snapshot: seq, settle) != nil { return result }
        for m in v.imms where try m.get(key, snapshot: seq, settle) != nil { return result }
        for r in v.runs where try r.get(key, snapshot: seq, settle) != nil { return result }
        let levels = v.version.levels
        for t in levels[0] where try t.reader.get(key, snapshot: seq, settle) != nil { return result }
        for level in levels.dropFirst() {
            if let t = tableCovering(key, in: level), try t.reader.get(key, snapshot: seq, settle) != nil { return result }
        }
        return nil
    }

    /// The table of a sorted level whose key range may hold `key`.
    static func tableCovering(_ key: UnsafeRawBufferPointer, in level: [TableHandle]) -> TableHandle? {
        var lo = 0
        var hi = level.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let c = level[mid].meta.largest.withUnsafeBytes { compareBytes($0, key) }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        guard lo < level.count else { return nil }
        let t = level[lo]
        return t.meta.smallest.withUnsafeBytes { compareBytes($0, key) } <= 0 ? t : nil
    }

    // MARK: snapshots

    /// Pins the current state for consistent reads.
    public func snapshot() throws -> Snapshot {
        try checkOpen()
        return mutex.withLock {
            let seq = visibleSequence.load(ordering: .acquiring)
            snapshots[seq, default: 0] += 1
            return Snapshot(db: self, sequence: seq, view: currentView())
        }
    }

    func releaseSnapshot(_ seq: UInt64) {
        mutex.withLock {
            if let n = snapshots[seq] {
                if n <= 1 { snapshots.removeValue(forKey: seq) } else { snapshots[seq] = n - 1 }
            }
        }
    }

    /// Sequences of live snapshots, ascending; the caller holds `mutex`.
    func liveSnapshotSequences() -> [UInt64] { snapshots.keys.sorted() }

    // MARK: scans

    /// Iterates live keys in [start, end) at the snapshot (nil = now).
    public func scan(start: [UInt8]? = nil, end: [UInt8]? = nil, snapshot: Snapshot? = nil) throws -> DBIterator {
        try checkOpen()
        let seq = snapshot?.sequence ?? visibleSequence.load(ordering: .acquiring)
        let v = snapshot?.view ?? currentView()
        return try DBIterator(view: v, sequence: seq, start: start, end: end)
    }
}

/// A pinned sequence number: reads through it ignore later writes. Compaction keeps the
/// versions it needs until it is released.
public final class Snapshot: @unchecked Sendable {
    public let sequence: UInt64
    /// The tree as it was: later flushes and compactions do not change what it reads.
    let view: ReadView
    private weak var db: DB?
    private let releaseLock = Lock()
    private var released = false

    init(db: DB, sequence: UInt64, view: ReadView) {
        self.db = db
        self.sequence = sequence
        self.view = view
    }

    public func release() {
        let first = releaseLock.withLock { () -> Bool in
            if released { return false }
            released = true
            return true
        }
        if first { db?.releaseSnapshot(sequence) }
    }

    public var isReleased: Bool { releaseLock.withLock { released } }

    deinit { release() }
}
