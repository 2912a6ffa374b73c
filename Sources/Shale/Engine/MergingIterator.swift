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
