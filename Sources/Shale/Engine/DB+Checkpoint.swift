/// Creating checkpoints from an open database. A checkpoint copies nothing: it is an entry in
/// the manifest that pins the manifest version it is written in (and so that version's
/// tables) plus the WAL range holding the writes not yet in those tables, up to a sequence.
extension DB {
    public static let maxCheckpointNameBytes = 63

    /// Creates a checkpoint holding exactly the writes acknowledged before the call.
    /// - waitDurable: return once the checkpoint is on storage; otherwise return at once and
    ///   let the background thread write it (durable by the next `flush` or `close`).
    ///
    /// The entry pins the current manifest version (already on storage) and the WAL from its
    /// replay position up to the sequence taken now. `manifestLock` keeps any other version
    /// from being published while the two are taken, so that version's tables hold no write
    /// after the sequence, and its files stay pinned (pending entries count as pins) until the
    /// entry is written.
    @discardableResult
    public func createCheckpoint(name: String? = nil, lifetimeMs: Int64 = 0, waitDurable: Bool = true) throws -> CheckpointEntry {
        try checkOpen()
        if options.readOnly { throw ShaleError.notSupported("\(location) was opened read-only") }
        let name = name ?? ""
        if name.utf8.count > DB.maxCheckpointNameBytes {
            throw ShaleError.invalid("checkpoint name is \(name.utf8.count) bytes; the limit is \(DB.maxCheckpointNameBytes)")
        }
        if lifetimeMs < 0 { throw ShaleError.invalid("checkpoint lifetime \(lifetimeMs) ms is negative") }
        manifestLock.lock()
        defer { manifestLock.unlock() }
        let entry = try mutex.withLock { () -> CheckpointEntry in
            if let e = stickyError ?? bgError { throw e }
            let now = nextCheckpointTime()
            return CheckpointEntry(
                id: CheckpointId.random(), name: name, manifestId: manifest.id,
                sequence: visibleSequence.load(ordering: .acquiring), createTimeMs: now,
                expireTimeMs: lifetimeMs > 0 ? now + lifetimeMs : 0, walFrom: manifest.walReplayFrom,
                walTo: wal?.id ?? manifest.walReplayFrom, formatVersion: Manifest.formatVersion)
        }
        if waitDurable {
            try writeCheckpoint(entry, holdingManifestLock: true)
            return entry
        }
        mutex.withLock {
            pendingCheckpoints.append(entry)
            bgCond.broadcast()
        }
        return entry
    }

    /// Create times strictly increase per handle, so the list orders checkpoints made within
    /// one millisecond by creation. The caller holds `mutex`.
    private func nextCheckpointTime() -> Int64 {
        lastCheckpointTimeMs = max(wallClockMs(), lastCheckpointTimeMs + 1)
        return lastCheckpointTimeMs
    }

    /// Makes the WAL durable up to the entry's sequence, then records the entry in a new
    /// manifest version.
    func writeCheckpoint(_ e: CheckpointEntry, holdingManifestLock: Bool = false) throws {
        // Every write up to the sequence is appended already (it was acknowledged), in the live
        // segment or in sealed (fsynced) ones: fsync the live segment directly. Not through the
        // commit queue, whose leader may be stalled waiting for the background thread to flush.
        if let segment = mutex.withLock({ wal }) {
            try segment.sync()
            stats.walSyncs.wrappingIncrement(ordering: .relaxed)
        }
        let change: (inout Manifest) -> Void = { $0.checkpoints.append(e) }
        if holdingManifestLock {
            try installManifestLocked(change, apply: {})
        } else {
            try installManifest(change, apply: {})
        }
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
