/// Opening a database: find the newest manifest, take the writer epoch, replay the WAL after
/// the manifest's replay position, start background work.
extension DB {
    public static func open(_ location: String, options: Options = Options()) throws -> DB {
        let started = monotonicNs()
        let store = try StoreLocation.open(location, createIfMissing: options.createIfMissing && !options.readOnly)
        let manifests = ManifestStore(store: store)
        if options.readOnly {
            guard let m = try manifests.loadLatest() else { throw ShaleError.notFound("no database at \(location)") }
            let db = try openState(location: location, options: options, store: store, manifest: m, epoch: 0, fence: nil)
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
            m.walBounds = try measureUnsealedSegments(store: store, manifest: m)
            if try manifests.tryWrite(m) {
                let db = try openState(location: location, options: options, store: store, manifest: m, epoch: epoch, fence: fence)
                db.stats.openTimeUs = (monotonicNs() - started) / 1000
                db.startBackgroundWork()
                OpenRegistry.add(location)
                return db
            }
            if attempts > 50 { throw ShaleError.busy("\(location): could not claim the manifest (others keep writing it)") }
        }
    }

    /// Records the valid length of each unsealed segment in the replay range that no manifest
    /// has bounded yet: its writer is gone (crashed or fenced), so what is whole now is the log.
    static func measureUnsealedSegments(store: ObjectStore, manifest m: Manifest) throws -> [WALBound] {
        var bounds = m.walBounds.filter { $0.segment >= m.walReplayFrom }
        let ids = try walSegmentIds(store)
        for id in ids where id >= m.walReplayFrom && m.bound(of: id) == nil {
            let path = WALFormat.segmentName(id)
            let region = try store.map(path)
            let bytes = region.bytes
            if bytes.count < FileEnvelope.headerSize {
                // Created but its header never made it: an empty log.
                bounds.append(WALBound(segment: id, length: 0))
                continue
            }
            if FileEnvelope.hasFooter(bytes) { continue }
            // A segment is sealed (footer fsynced) before the next one is created, so only
            // the newest segment may lack its footer: anywhere else that is damage.
            let end = try WALFormat.scan(bytes, file: "\(store.location)/\(path)", limit: nil,
                                         tolerateTornTail: id == ids.last) { _ in }
            switch end {
            case .clean: bounds.append(WALBound(segment: id, length: UInt64(bytes.count)))
            case .torn(let n): bounds.append(WALBound(segment: id, length: UInt64(n)))
            }
        }
        return bounds
    }

    static func walSegmentIds(_ store: ObjectStore) throws -> [UInt64] {
        try store.list(prefix: "wal/").compactMap { WALFormat.segmentId(fromName: $0) }.sorted()
    }

    /// Loads tables, replays the WAL into a memtable and opens the next WAL segment.
    private static func openState(location: String, options: Options, store: ObjectStore, manifest: Manifest,
                                  epoch: UInt64, fence: FenceWord?) throws -> DB {
        let state = try LoadedState.load(store: store, manifest: manifest, tolerateTornTail: epoch == 0,
                                         memtableBytes: options.memtableBytes)
        var wal: WALSegmentWriter? = nil
        if epoch != 0 {
            let nextId = max(try walSegmentIds(store).last ?? 0, manifest.walReplayFrom - 1) + 1
            wal = try WALSegmentWriter(store: store, id: nextId, syncHeader: options.walSync != .none)
            state.mem.walSegment = nextId
        }
        let db = DB(location: location, options: options, store: store, fence: fence, epoch: epoch,
                    manifest: manifest, version: state.version, tableCache: state.tableCache, mem: state.mem,
                    lastSequence: state.lastSequence, wal: wal)
        db.stats.replayedRecords.store(state.replayedRecords, ordering: .relaxed)
        return db
    }
}
