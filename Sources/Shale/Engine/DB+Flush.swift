/// Background work: flushing full memtables to L0 tables, compaction, removing files no
/// manifest needs, and the interval WAL syncer.
extension DB {
    func startBackgroundWork() {
        backgroundThread = BackgroundThread { [unowned self] in self.backgroundLoop() }
        if options.walSync == .interval {
            syncThread = BackgroundThread { [unowned self] in self.syncLoop() }
        }
    }

    private func backgroundLoop() {
        mutex.lock()
        while true {
            if bgError == nil && stickyError == nil && (!imms.isEmpty || needsCompaction() || !pendingCheckpoints.isEmpty) {
                bgBusy = true
                mutex.unlock()
                do {
                    try doBackgroundWork()
                } catch let e as ShaleError {
                    mutex.withLock {
                        bgError = e
                        // A fenced writer must stop accepting writes too.
                        if e.status == .fenced && stickyError == nil { stickyError = e }
                    }
                } catch {
                    mutex.withLock { bgError = ShaleError.internalError("\(error)") }
                }
                mutex.lock()
                bgBusy = false
                bgCond.broadcast()
                continue
            }
            if closing { break }
            bgCond.wait(mutex, timeoutMs: 1000)
        }
        mutex.unlock()
    }

    private func syncLoop() {
        let interval = options.walFlushIntervalMs
        mutex.lock()
        while !closing {
            bgCond.wait(mutex, timeoutMs: interval)
            if closing { break }
            guard walDirty.exchange(false, ordering: .relaxed), let segment = wal else { continue }
            mutex.unlock()
            do {
                try segment.sync()
                stats.walSyncs.wrappingIncrement(ordering: .relaxed)
            } catch let e as ShaleError {
                mutex.withLock { if stickyError == nil { stickyError = e } }
            } catch {}
            mutex.lock()
        }
        mutex.unlock()
    }

    /// With `mutex` held.
    func needsCompaction() -> Bool { version.levels[0].count >= options.l0CompactionTrigger }

    private func doBackgroundWork() throws {
        if let cp = mutex.withLock({ pendingCheckpoints.first }) {
            try writeCheckpoint(cp)
            mutex.withLock { pendingCheckpoints.removeFirst() }
        } else if let imm = mutex.withLock({ imms.first }) {
            try flush(imm)
        } else if mutex.withLock({ needsCompaction() }) {
            try compact()
        }
    }

    /// Allocates a table id unique across writers: the epoch in the high bits.
    func allocateTableId() -> UInt64 {
        mutex.withLock {
            let n = manifest.nextTableNumber
            manifest.nextTableNumber += 1
            return (epoch << 40) | (n & ((1 << 40) - 1))
        }
    }

    /// Writes the oldest immutable memtable as L0 tables and moves the WAL replay position
    /// past its segment.
    func flush(_ imm: MemTable) throws {
        let snaps = mutex.withLock { liveSnapshotSequences() }
        var writer = TableWriter(store: store, options: options.tableOptions, targetBytes: Int.max,
                                 nextId: { [unowned self] in self.allocateTableId() })
        var filter = VersionFilter(snapshots: snaps, dropTombstones: false)
        let it = imm.makeIterator()
        it.seekToFirst()
        while it.isValid {
            if filter.keep(it.key) { try writer.add(it.key, it.value) }
            it.next()
        }
        try writer.finishTable()
        let tables = writer.outputs
        try installManifest { m in
            m.levels[0].insert(contentsOf: tables, at: 0)
            m.walReplayFrom = max(m.walReplayFrom, imm.walSegment + 1)
            m.walBounds.removeAll { $0.segment < m.walReplayFrom }
            m.flushedSequence = max(m.flushedSequence, imm.lastSequence)
        } apply: {
            self.imms.removeFirst()
        }
        stats.flushes.wrappingIncrement(ordering: .relaxed)
        stats.bytesFlushed.wrappingIncrement(by: tables.reduce(0) { $0 + $1.fileBytes }, ordering: .relaxed)
        try deleteObsoleteFiles()
    }

    /// Merges every L0 table with the overlapping tables of L1 into new L1 tables.
    func compact() throws {
        let (inputs0, inputs1, keep1, snaps) = mutex.withLock { () -> ([TableHandle], [TableHandle], [TableHandle], [UInt64]) in
            let l0 = version.levels[0]
            let l1 = version.levels.count > 1 ? version.levels[1] : []
            var lo = l0.first!.meta.smallest
            var hi = l0.first!.meta.largest
            for t in l0 {
                if compareBytes(t.meta.smallest, lo) < 0 { lo = t.meta.smallest }
                if compareBytes(t.meta.largest, hi) > 0 { hi = t.meta.largest }
            }
            let overlapping = l1.filter { compareBytes($0.meta.largest, lo) >= 0 && compareBytes($0.meta.smallest, hi) <= 0 }
            let rest = l1.filter { compareBytes($0.meta.largest, lo) < 0 || compareBytes($0.meta.smallest, hi) > 0 }
            return (l0, overlapping, rest, liveSnapshotSequences())
        }
        var children: [InternalIterator] = inputs0.map { $0.reader.makeIterator() }
        if !inputs1.isEmpty { children.append(LevelIterator(inputs1)) }
        let merged = MergingIterator(children)
        try merged.seekToFirst()
        var writer = TableWriter(store: store, options: options.tableOptions, targetBytes: options.sstTargetBytes,
                                 nextId: { [unowned self] in self.allocateTableId() })
        var filter = VersionFilter(snapshots: snaps, dropTombstones: true)
        while merged.isValid {
            if filter.keep(merged.key) { try writer.add(merged.key, merged.value) }
            try merged.next()
        }
        try writer.finishTable()
        let outputs = writer.outputs
        let removed0 = Set(inputs0.map { $0.meta.id })
        try installManifest { m in
            m.levels[0].removeAll { removed0.contains($0.id) }
            if m.levels.count < 2 { m.levels.append([]) }
            m.levels[1] = (keep1.map { $0.meta } + outputs).sorted { compareBytes($0.smallest, $1.smallest) < 0 }
        } apply: {}
        stats.compactions.wrappingIncrement(ordering: .relaxed)
        stats.bytesCompacted.wrappingIncrement(by: outputs.reduce(0) { $0 + $1.fileBytes }, ordering: .relaxed)
        try deleteObsoleteFiles()
    }

    /// Writes the next manifest version with `change` applied, retrying when another editor
    /// (a checkpoint tool) took the id: their checkpoint list wins, our tree fields win. A
    /// higher writer epoch means this writer was fenced. `apply` runs with `mutex` held once
    /// the version is durable, before the new view is published.
    func installManifest(_ change: (inout Manifest) -> Void, apply: () -> Void) throws {
        manifestLock.lock()
        defer { manifestLock.unlock() }
        try installManifestLocked(change, apply: apply)
    }

    /// `installManifest` for a caller that holds `manifestLock`.
    func installManifestLocked(_ change: (inout Manifest) -> Void, apply: () -> Void) throws {
        var base = mutex.withLock { manifest }
        while true {
            var next = base
            next.id = base.id + 1
            next.createTimeMs = wallClockMs()
            change(&next)
            if try manifests.tryWrite(next) {
                var cache = mutex.withLock { tableCache }
                let v = try Version.open(next, store: store, cache: &cache)
                mutex.withLock {
                    // Keep the table-id counter moving forward past ids allocated meanwhile.
                    next.nextTableNumber = max(next.nextTableNumber, manifest.nextTableNumber)
                    manifest = next
                    version = v
                    tableCache = cache
                    apply()
                    publishView()
                }
                return
            }
            guard let remote = try manifests.loadLatest() else {
                throw ShaleError.corruption("\(location): manifest versions disappeared")
            }
            if remote.writerEpoch > epoch {
                throw ShaleError.fenced("another writer opened \(location) (epoch \(remote.writerEpoch) > \(epoch)); reopen to continue")
            }
            var merged = mutex.withLock { manifest }
            merged.id = remote.id
            merged.checkpoints = remote.checkpoints
            base = merged
        }
    }

    /// Deletes what neither the current state nor a live checkpoint needs: WAL segments below
    /// the low-water mark, unreferenced tables, old manifest versions. Pins are read from the
    /// newest manifest on storage too, since other processes edit checkpoints.
    func deleteObsoleteFiles() throws {
        var (local, pending) = mutex.withLock { (manifest, pendingCheckpoints) }
        // Checkpoints not yet written pin as much as written ones.
        local.checkpoints += pending
        let remote = try manifests.loadLatest()
        let pins = try Pins.compute(current: [local] + (remote.map { [$0] } ?? []), manifests: manifests)
        for id in try DB.walSegmentIds(store) where id < pins.walLowWater {
            try store.delete(WALFormat.segmentName(id))
            stats.walSegmentsDeleted.wrappingIncrement(ordering: .relaxed)
        }
        for path in try store.list(prefix: "sst/") {
            guard path.hasSuffix(".sst"), let id = UInt64(path.dropFirst(4).dropLast(4)) else { continue }
            // This runs on the background thread between jobs, so none of our tables is being
            // written; never touch a newer writer's files.
            if !pins.tables.contains(id) && id >> 40 <= epoch {
                try store.delete(path)
                stats.tablesDeleted.wrappingIncrement(ordering: .relaxed)
            }
        }
        // Old manifest versions: keep the newest few for readers that are mid-open, and every
        // version a checkpoint pins.
        let ids = try manifests.versionIds()
        if ids.count > 10 {
            for id in ids.dropLast(10) where !pins.manifests.contains(id) { try store.delete(Manifest.path(id)) }
        }
    }
}
