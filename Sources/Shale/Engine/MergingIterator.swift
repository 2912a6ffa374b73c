/// Merges child iterators into one stream in internal-key order. Children are few (the
/// memtables, L0 tables and one per deeper level's table), so a linear pick of the smallest
/// beats a heap's bookkeeping.
final class MergingIterator: InternalIterator {
    private let children: [InternalIterator]
    private var current: Int = -1

    init(_ children: [InternalIterator]) { self.children = children }

    var isValid: Bool { current >= 0 }
    var key: UnsafeRawBufferPointer { children[current].key }
    var value: UnsafeRawBufferPointer { children[current].value }

    func seekToFirst() throws {
        for c in children { try c.seekToFirst() }
        pickSmallest()
    }

    func seek(_ target: UnsafeRawBufferPointer) throws {
        for c in children { try c.seek(target) }
        pickSmallest()
    }

    func next() throws {
        guard current >= 0 else { return }
        try children[current].next()
        pickSmallest()
    }

    private func pickSmallest() {
        var best = -1
        for i in children.indices where children[i].isValid {
            if best < 0 || InternalKey.compare(children[i].key, children[best].key) < 0 { best = i }
        }
        current = best
    }
}

/// Walks the tables of one sorted level in key order, opening one table iterator at a time.
final class LevelIterator: InternalIterator {
    private let tables: [TableHandle]
    private var index = 0
    private var iter: TableIterator?

    init(_ tables: [TableHandle]) { self.tables = tables }

    var isValid: Bool { iter?.isValid ?? false }
    var key: UnsafeRawBufferPointer { iter!.key }
    var value: UnsafeRawBufferPointer { iter!.value }

    func seekToFirst() throws {
        index = 0
        iter = tables.first?.reader.makeIterator()
        try iter?.seekToFirst()
        try skipEmpty()
    }

    func seek(_ target: UnsafeRawBufferPointer) throws {
        let uk = target.count >= 8 ? InternalKey.userKey(target) : target
        var lo = 0
        var hi = tables.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if tables[mid].meta.largest.withUnsafeBytes({ compareBytes($0, uk) }) < 0 { lo = mid + 1 } else { hi = mid }
        }
        index = lo
        guard index < tables.count else {
            iter = nil
            return
        }
        iter = tables[index].reader.makeIterator()
        try iter!.seek(target)
        try skipEmpty()
    }

    func next() throws {
        try iter?.next()
        try skipEmpty()
    }

    private func skipEmpty() throws {
        while let it = iter, !it.isValid {
            index += 1
            guard index < tables.count else {
                iter = nil
                return
            }
            iter = tables[index].reader.makeIterator()
            try iter!.seekToFirst()
        }
    }
}

/// Iterates the live keys of a view at one sequence within [start, end): for each user key,
/// the newest version at or below the sequence, skipping deletions.
public final class DBIterator {
    private let view: ReadView
    private let sequence: UInt64
    private let end: [UInt8]?
    private let merged: MergingIterator
    private var keyBuffer: [UInt8] = []
    private var valueBuffer: [UInt8] = []
    private var started = false
    private var finished = false
    /// Keeps the database state alive for `DB.isClosed` checks by the owner.
    public weak var owner: DB?

    init(view: ReadView, sequence: UInt64, start: [UInt8]?, end: [UInt8]?, owner: DB?) throws {
        self.view = view
        self.sequence = sequence
        self.end = end
        self.owner = owner
        var children: [InternalIterator] = [view.mem.makeIterator()]
        for m in view.imms { children.append(m.makeIterator()) }
        for r in view.runs { children.append(r.makeIterator()) }
        for t in view.version.levels[0] { children.append(t.reader.makeIterator()) }
        for level in view.version.levels.dropFirst() where !level.isEmpty { children.append(LevelIterator(level)) }
        merged = MergingIterator(children)
        if let start, !start.isEmpty {
            let target = InternalKey.make(start, trailer: InternalKey.seekTrailer(sequence))
            try target.withUnsafeBytes { try merged.seek($0) }
        } else {
            try merged.seekToFirst()
        }
    }

    /// The current key and value (copies).
    public var currentKey: [UInt8] { keyBuffer }
    public var currentValue: [UInt8] { valueBuffer }

    /// Moves to the next live key; false at the end.
    public func next() throws -> Bool {
        if finished { return false }
        var haveLast = started
        started = true
        while merged.isValid {
            let ik = merged.key
            let uk = InternalKey.userKey(ik)
            if let end, end.withUnsafeBytes({ compareBytes(uk, $0) }) >= 0 { break }
            let trailer = InternalKey.trailer(of: ik)
            if haveLast && keyBuffer.withUnsafeBytes({ compareBytes(uk, $0) }) == 0 {
                try merged.next()
                continue
            }
            if InternalKey.sequence(ofTrailer: trailer) > sequence {
                try merged.next()
                continue
            }
            keyBuffer.removeAll(keepingCapacity: true)
            keyBuffer.append(contentsOf: uk)
            haveLast = true
            if trailer & 0xff == UInt64(EntryKind.value.rawValue) {
                valueBuffer.removeAll(keepingCapacity: true)
                valueBuffer.append(contentsOf: merged.value)
                try merged.next()
                return true
            }
            try merged.next()
        }
        finished = true
        return false
    }

    /// Borrowed access to the current entry without copying out.
    public func withCurrent<T>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try keyBuffer.withUnsafeBytes { k in try valueBuffer.withUnsafeBytes { v in try body(k, v) } }
    }
}
