/// What restore and clone share: checking a checkpoint's tables and writing a loaded
/// state's WAL part as tables.
extension CheckpointAdmin {
    /// Restore and clone take a checkpoint's tables whole, so none may hold a later write
    /// (checkpoint creation guarantees it; this says so loudly if it ever stops being true).
    static func checkPinnedTables(_ pinned: Manifest, upTo c: CheckpointEntry, location: String) throws {
        if let t = pinned.allTables.first(where: { $0.maxSequence > c.sequence }) {
            throw ShaleError.internalError("\(location): checkpoint \(c.idText) pins \(t.path) with writes after its sequence \(c.sequence)")
        }
    }

    /// Writes the WAL writes of a loaded view (its memtable and sorted runs) as tables (ids
    /// carry `epoch`), returning their records.
    static func writeTables(of view: ReadView, to store: ObjectStore, epoch: UInt64, counter: inout UInt64) throws -> [TableMeta] {
        if view.mem.isEmpty && view.runs.allSatisfy({ $0.isEmpty }) { return [] }
        let it = MergingIterator([view.mem.makeIterator()] + view.runs.map { $0.makeIterator() })
        try it.seekToFirst()
        var n = counter
        var writer = TableWriter(store: store, options: TableOptions(), targetBytes: 64 << 20) {
            defer { n += 1 }
            return (epoch << 40) | (n & ((1 << 40) - 1))
        }
        // Only the newest version of each key matters to the new database.
        var filter = VersionFilter(snapshots: [], dropTombstones: false)
        while it.isValid {
            if filter.keep(it.key) { try writer.add(it.key, it.value) }
            try it.next()
        }
        try writer.finishTable()
        counter = n
        return writer.outputs
    }
}
