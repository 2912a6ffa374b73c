/// Rolling a database back to a checkpoint, in place.
extension CheckpointAdmin {
    /// Makes the checkpoint's state the database's state, as one new manifest version (a crash
    /// leaves either the old state or the restored one). The state before the restore is kept
    /// as a checkpoint named `pre-restore-<unix ms>`, and every other checkpoint survives, so a
    /// restore can be undone by restoring a later checkpoint. A writer open in another process
    /// is fenced; one open in this process makes the restore answer BUSY.
    /// Returns the `pre-restore-…` checkpoint holding the state that was replaced.
    @discardableResult
    public static func restore(_ location: String, checkpointId: String) throws -> CheckpointEntry {
        _ = try CheckpointId.parse(checkpointId)
        if OpenRegistry.isOpen(location) {
            throw ShaleError.busy("\(location) is open in this process; close it before restoring")
        }
        let store = try openStore(location)
        let manifests = ManifestStore(store: store)
        let fence = try store.fenceWord()
        for _ in 0..<50 {
            let current = try latest(store)
            let target = try find(current, id: checkpointId, location: location)
            let epoch = current.writerEpoch + 1
            fence.raise(to: epoch)

            // The state being replaced, as a checkpoint: its tree, its WAL range as measured
            // now (the fenced writer acknowledges nothing more), up to its last sequence.
            var before = current
            let segments = try DB.walSegmentIds(store)
            before.walBounds = try DB.measureUnsealedSegments(store: store, manifest: current, ids: segments)
            let lastSegment = max(segments.last ?? 0, current.walReplayFrom - 1)
            // Claim the next segment id (an empty segment, created exclusively) so a fenced
            // writer cannot roll into the range the restored state will replay.
            do {
                try WALSegmentWriter(store: store, id: lastSegment + 1, syncHeader: true).abandon()
            } catch let e as ShaleError where e.status == .fenced {
                continue
            }
            let beforeState = try LoadedState.load(store: store, manifest: before, tolerateTornTail: false,
                                                   memtableBytes: 1 << 20, readOnly: true)

            // The restored state, with its WAL writes turned into tables so the new version
            // needs no WAL at all.
            let pinned = try manifests.load(target.manifestId)
            try checkPinnedTables(pinned, upTo: target, location: location)
            let state = try LoadedState.load(store: store, manifest: pinned, upTo: target.sequence, lastSegment: target.walTo,
                                             tolerateTornTail: true, memtableBytes: 1 << 20, readOnly: true)

            // The pre-restore checkpoint pins a copy of the current version that carries the
            // measured WAL bounds, written first; the restored version follows it.
            let now = wallClockMs()
            before.id = current.id + 1
            before.writerEpoch = epoch
            before.createTimeMs = now
            before.nextTableNumber = max(current.nextTableNumber, pinned.nextTableNumber)
            let pre = CheckpointEntry(id: CheckpointId.random(), name: "pre-restore-\(now)", manifestId: before.id,
                                      sequence: beforeState.lastSequence, createTimeMs: now, expireTimeMs: 0,
                                      walFrom: before.walReplayFrom, walTo: lastSegment, formatVersion: Manifest.formatVersion)
            before.checkpoints.append(pre)
            // Published first, so the epoch is taken before any file of ours carries it.
            guard try manifests.tryWrite(before) else { continue }

            var next = pinned
            next.nextTableNumber = before.nextTableNumber
            let loaded = ReadView(mem: state.mem, imms: [], runs: state.run.map { [$0] } ?? [], version: state.version)
            let tables = try writeTables(of: loaded, to: store, epoch: epoch, counter: &next.nextTableNumber)

            next.id = before.id + 1
            next.writerEpoch = epoch
            next.createTimeMs = now
            next.levels[0].insert(contentsOf: tables, at: 0)
            next.flushedSequence = max(pinned.flushedSequence, state.lastSequence)
            next.walReplayFrom = lastSegment + 1
            next.walBounds = []
            next.checkpoints = before.checkpoints
            if try manifests.tryWrite(next) { return pre }
            // Someone wrote in between: the pre-restore version is harmless (it equals the
            // old state); start again from the newest version.
        }
        throw ShaleError.busy("\(location): the manifest keeps changing; try the restore again")
    }
}
