/// Opening a database: find the newest manifest, take the writer epoch, replay the WAL after
/// the manifest's replay position, start background work.
extension DB {
    public static func open(_ location: String, options: Options = Options()) throws -> DB {
        let started = monotonicNs()
        let store = try StoreLocation.open(location, createIfMissing: options.createIfMissing && !options.readOnly)
        let manifests = ManifestStore(store: store)
        if options.readOnly {
            guard let m = try manifests.loadLatest() else { throw ShaleError.notFound("no database at \(location)") }
            let db = try openState(location: location, options: options, store: store, manifest: m, epoch: 0,
                                   fence: nil, segment: nil)
            db.stats.openTimeUs = (monotonicNs() - started) / 1000
            return db
        }
        let fence = try store.fenceWord()
        var attempts = 0
        while true {
            attempts += 1
            let latest = try manifests.loadLatest()
            if latest == nil && !options.createIfMissing { throw ShaleError.notFound("no database at \(location)") }
            var m = latest ?? Manifest()
            let epoch = m.writerEpoch + 1
            // Raise the shared word first: an older writer checks it after every fsync and
            // stops acknowledging, so nothing it acknowledges can fall outside what we replay.
            fence.raise(to: epoch)
            let previousId = m.id
            m.id = previousId + 1
            m.writerEpoch = epoch
            m.createTimeMs = wallClockMs()
            // The segments that exist now are the log to replay; claim the next id for our
            // own first segment (created exclusively, before the manifest) so that a fenced
            // writer rolling its segment cannot slip one in between.
            let ids = try walSegmentIds(store)
            m.walBounds = try measureUnsealedSegments(store: store, manifest: m, ids: ids)
            let first = max(ids.last ?? 0, m.walReplayFrom - 1) + 1
            let segment: WALSegmentWriter
            do {
                segment = try WALSegmentWriter(store: store, id: first, syncHeader: true)
            } catch let e as ShaleError where e.status == .fenced {
                if attempts > 50 { throw e }
                continue
            }
            if try manifests.tryWrite(m) {
                let db = try openState(location: location, options: options, store: store, manifest: m, epoch: epoch,
                                       fence: fence, segment: segment)
                db.stats.openTimeUs = (monotonicNs() - started) / 1000
                db.startBackgroundWork()
                OpenRegistry.add(location)
                return db
            }
            // Another opener published first: drop our segment and start over.
            try? segment.abandon()
            try? store.delete(WALFormat.segmentName(first))
            if attempts > 50 { throw ShaleError.busy("\(location): could not claim the manifest (others keep writing it)") }
        }
    }

    /// Records the valid length of each segment in the replay range no manifest has bounded
    /// yet: its writer is gone (crashed or fenced), so what is whole now is the log.
    static func measureUnsealedSegments(store: ObjectStore, manifest m: Manifest, ids: [UInt64]) throws -> [WALBound] {
        var bounds = m.walBounds.filter { $0.segment >= m.walReplayFrom }
        let kinds = try WALTail.classify(store: store, ids: ids, manifest: m)
        for (id, (kind, region)) in kinds.sorted(by: { $0.key < $1.key }) {
            switch kind {
            case .sealed:
                continue
            case .empty:
                bounds.append(WALBound(segment: id, length: 0))
            case .tail:
                let file = "\(store.location)/\(WALFormat.segmentName(id))"
                switch try WALFormat.scan(region.bytes, file: file, limit: nil, tolerateTornTail: true, { _ in }) {
                case .clean: bounds.append(WALBound(segment: id, length: UInt64(region.bytes.count)))
                case .torn(let n): bounds.append(WALBound(segment: id, length: UInt64(n)))
                }
            }
        }
        return bounds.sorted { $0.segment < $1.segment }
    }

    static func walSegmentIds(_ store: ObjectStore) throws -> [UInt64] {
        try store.list(prefix: "wal/").compactMap { WALFormat.segmentId(fromName: $0) }.sorted()
    }

    /// Loads tables, replays the WAL into a memtable and opens the next WAL segment.
    private static func openState(location: String, options: Options, store: ObjectStore, manifest: Manifest,
                                  epoch: UInt64, fence: FenceWord?, segment: WALSegmentWriter?) throws -> DB {
        // A writer replays exactly the segments before its own first one.
        let state = try LoadedState.load(store: store, manifest: manifest, lastSegment: segment.map { $0.id - 1 },
                                         tolerateTornTail: epoch == 0, memtableBytes: options.memtableBytes)
        if let segment { state.mem.walSegment = segment.id }
        let db = DB(location: location, options: options, store: store, fence: fence, epoch: epoch,
                    manifest: manifest, version: state.version, tableCache: state.tableCache, mem: state.mem,
                    lastSequence: state.lastSequence, wal: segment)
        db.stats.replayedRecords.store(state.replayedRecords, ordering: .relaxed)
        return db
    }
}
