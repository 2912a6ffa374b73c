/// Writes a stream of internal entries as tables of about `targetBytes` each, cutting only
/// between user keys, and drops the versions no reader can see any more.
struct TableWriter {
    let store: ObjectStore
    let options: TableOptions
    let targetBytes: Int
    /// Allocates table ids.
    let nextId: () -> UInt64
    private(set) var outputs: [TableMeta] = []
    private var builder: TableBuilder?
    private var meta: TableMeta?
    private var lastUserKey: [UInt8] = []

    init(store: ObjectStore, options: TableOptions, targetBytes: Int, nextId: @escaping () -> UInt64) {
        self.store = store
        self.options = options
        self.targetBytes = targetBytes
        self.nextId = nextId
    }

    mutating func add(_ ik: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        let uk = InternalKey.userKey(ik)
        let seq = InternalKey.sequence(ofTrailer: InternalKey.trailer(of: ik))
        let newKey = lastUserKey.withUnsafeBytes { compareBytes($0, uk) } != 0 || builder == nil
        if newKey, let b = builder, b.estimatedSize >= targetBytes { try finishTable() }
        if builder == nil {
            builder = TableBuilder(options: options)
            meta = TableMeta(id: nextId(), fileBytes: 0, entryCount: 0, minSequence: seq, maxSequence: seq,
                             smallest: Array(uk), largest: Array(uk))
        }
        try builder!.add(internalKey: ik, value: value)
        meta!.entryCount += 1
        meta!.minSequence = min(meta!.minSequence, seq)
        meta!.maxSequence = max(meta!.maxSequence, seq)
        if newKey {
            lastUserKey.removeAll(keepingCapacity: true)
            lastUserKey.append(contentsOf: uk)
            meta!.largest = lastUserKey
        }
    }

    mutating func finishTable() throws {
        guard let b = builder, var m = meta else { return }
        let bytes = try b.finish()
        m.fileBytes = UInt64(bytes.count)
        // An id can be taken by an orphan of an operation that died before publishing its
        // manifest under the same epoch: move on to the next id.
        var attempts = 0
        while try !store.putIfAbsent(m.path, bytes) {
            attempts += 1
            if attempts > 1000 {
                throw ShaleError.fenced("\(store.location)/\(m.path) already exists: another writer owns this database")
            }
            m.id = nextId()
        }
        outputs.append(m)
        builder = nil
        meta = nil
    }
}

/// Decides which versions of a key survive a flush or compaction: the newest, and for each
/// live snapshot the newest version it can see. `dropTombstones` (bottom level only) also
/// drops a deletion no snapshot needs, with everything older.
struct VersionFilter {
    let snapshots: [UInt64]   // ascending
    let dropTombstones: Bool
    private var currentKey: [UInt8] = []
    private var haveKey = false
    /// Sequence of the last version kept for the current key.
    private var lastKeptSeq: UInt64 = 0

    init(snapshots: [UInt64], dropTombstones: Bool) {
        self.snapshots = snapshots
        self.dropTombstones = dropTombstones
    }

    /// Entries arrive in internal-key order (per key: newest first).
    mutating func keep(_ ik: UnsafeRawBufferPointer) -> Bool {
        let uk = InternalKey.userKey(ik)
        let trailer = InternalKey.trailer(of: ik)
        let seq = InternalKey.sequence(ofTrailer: trailer)
        var keepIt: Bool
        if !haveKey || currentKey.withUnsafeBytes({ compareBytes($0, uk) }) != 0 {
            currentKey.removeAll(keepingCapacity: true)
            currentKey.append(contentsOf: uk)
            haveKey = true
            keepIt = true
        } else {
            // An older version matters only to a snapshot s with seq <= s < lastKeptSeq.
            keepIt = snapshotBetween(seq, lastKeptSeq)
        }
        guard keepIt else { return false }
        lastKeptSeq = seq
        // At the bottom level a deletion nobody older needs hides nothing: drop it.
        let isDeletion = trailer & 0xff == UInt64(EntryKind.deletion.rawValue)
        if isDeletion && dropTombstones && !snapshotBetween(0, seq) { return false }
        return true
    }

    /// True when some snapshot s has lo <= s < hi.
    private func snapshotBetween(_ lo: UInt64, _ hi: UInt64) -> Bool {
        var l = 0
        var h = snapshots.count
        while l < h {
            let m = (l + h) / 2
            if snapshots[m] < lo { l = m + 1 } else { h = m }
        }
        return l < snapshots.count && snapshots[l] < hi
    }
}
