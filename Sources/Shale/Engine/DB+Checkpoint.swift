/// Creating checkpoints from an open database. A checkpoint copies nothing: it is an entry in
/// the manifest that pins the manifest version it is written in (and so that version's
/// tables) plus the WAL range holding the writes not yet in those tables, up to a sequence.
extension DB {
    public static let maxCheckpointNameBytes = 63

    /// Creates a checkpoint holding every write acknowledged before the call.
    /// - waitDurable: return once the checkpoint is on storage; otherwise return at once and
    ///   let the background thread write it (durable by the next `flush` or `close`).
    @discardableResult
    public func createCheckpoint(name: String? = nil, lifetimeMs: Int64 = 0, waitDurable: Bool = true) throws -> CheckpointEntry {
        try checkOpen()
        if options.readOnly { throw ShaleError.notSupported("\(location) was opened read-only") }
        let name = name ?? ""
        if name.utf8.count > DB.maxCheckpointNameBytes {
            throw ShaleError.invalid("checkpoint name is \(name.utf8.count) bytes; the limit is \(DB.maxCheckpointNameBytes)")
        }
        if lifetimeMs < 0 { throw ShaleError.invalid("checkpoint lifetime \(lifetimeMs) ms is negative") }
        let now = wallClockMs()
        let entry = CheckpointEntry(
            id: CheckpointId.random(), name: name, manifestId: 0,
            sequence: visibleSequence.load(ordering: .acquiring), createTimeMs: now,
            expireTimeMs: lifetimeMs > 0 ? now + lifetimeMs : 0, walFrom: 0, walTo: 0,
            formatVersion: Manifest.formatVersion)
        if waitDurable {
            return try writeCheckpoint(entry)
        }
        try mutex.withLock {
            if let e = stickyError ?? bgError { throw e }
            pendingCheckpoints.append(entry)
            bgCond.broadcast()
        }
        return entry
    }

    /// Makes the WAL durable up to the entry's sequence, then records the entry in a new
    /// manifest version, which it pins. Returns the entry as written.
    @discardableResult
    func writeCheckpoint(_ e: CheckpointEntry) throws -> CheckpointEntry {
        // Every write up to the entry's sequence is appended already (it was acknowledged),
        // in the live segment or in sealed (fsynced) ones: fsync the live segment directly.
        // Not through the commit queue, whose leader may be stalled waiting for this very
        // background thread to flush.
        if let segment = mutex.withLock({ wal }) {
            try segment.sync()
            stats.walSyncs.wrappingIncrement(ordering: .relaxed)
        }
        var written = e
        try installManifest { m in
            written.manifestId = m.id
            written.walFrom = m.walReplayFrom
            written.walTo = self.mutex.withLock { self.wal?.id ?? m.walReplayFrom }
            m.checkpoints.append(written)
        } apply: {}
        return written
    }

    /// Waits until checkpoints created without waiting are written.
    func waitForPendingCheckpoints() throws {
        mutex.lock()
        defer { mutex.unlock() }
        while !pendingCheckpoints.isEmpty {
            if let e = bgError ?? stickyError { throw e }
            bgCond.broadcast()
            bgCond.wait(mutex, timeoutMs: 20)
        }
    }

    /// The checkpoints of this database as its manifest lists them now.
    public func checkpoints() throws -> [CheckpointEntry] {
        try checkOpen()
        return try CheckpointAdmin.list(store: store)
    }
}
