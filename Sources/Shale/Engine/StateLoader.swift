/// Loads the state a manifest version describes: its tables, plus the WAL records after its
/// replay position (up to a sequence, for a checkpoint) in a memtable. Opening a database,
/// opening a reader, restoring and cloning all start here.
struct LoadedState {
    let manifest: Manifest
    let version: Version
    let tableCache: [UInt64: TableHandle]
    /// The WAL writes: in `mem` for a writer, in `run` (sorted once) for read-only loads.
    let mem: MemTable
    let run: SortedRun?
    let lastSequence: UInt64
    /// WAL segments that were replayed, ascending.
    let segments: [UInt64]
    let replayedRecords: UInt64

    /// - Parameters:
    ///   - upTo: replay only writes with sequence <= this (a checkpoint's sequence).
    ///   - lastSegment: replay no segment after this one.
    ///   - tolerateTornTail: a damaged last record of the tail segment (see `WALTail`) ends
    ///     the log (a reader beside a live writer, a read-only open after a crash). Without
    ///     it the tail is read strictly: a writer's open has bounded it already.
    ///   - readOnly: load the WAL writes into a `SortedRun` instead of the memtable.
    static func load(store: ObjectStore, manifest: Manifest, upTo: UInt64? = nil, lastSegment: UInt64? = nil,
                     tolerateTornTail: Bool, memtableBytes: Int, readOnly: Bool = false) throws -> LoadedState {
        var cache: [UInt64: TableHandle] = [:]
        let version = try Version.open(manifest, store: store, cache: &cache)
        var lastSeq = manifest.flushedSequence
        for t in manifest.allTables { lastSeq = max(lastSeq, t.maxSequence) }
        let allSegments = try DB.walSegmentIds(store)
        var segments = allSegments.filter { $0 >= manifest.walReplayFrom }
        if let lastSegment { segments = segments.filter { $0 <= lastSegment } }
        let mem = MemTable(walSegment: segments.last ?? (manifest.walReplayFrom - 1), capacity: readOnly ? 64 << 10 : memtableBytes)
        let run: SortedRun? = readOnly ? SortedRun() : nil
        // The tail is judged within the range being read: a checkpoint's last segment may
        // have been live (footer-less) when the checkpoint was taken.
        let kinds = try WALTail.classify(store: store, ids: allSegments.filter { $0 <= (lastSegment ?? .max) },
                                         manifest: manifest)
        var replayed: UInt64 = 0
        replay: for id in segments {
            let path = WALFormat.segmentName(id)
            let file = "\(store.location)/\(path)"
            var limit = manifest.bound(of: id)
            var tolerant = false
            if limit == nil, let (kind, _) = kinds[id] {
                switch kind {
                case .empty: limit = 0
                case .tail: tolerant = tolerateTornTail
                case .sealed: break
                }
            }
            if limit == 0 { continue }
            let region = try kinds[id]?.1 ?? store.map(path)
            run?.retain(region)
            var reachedLimit = false
            try WALFormat.scan(region.bytes, file: file, limit: limit, tolerateTornTail: tolerant) { rec in
                if reachedLimit { return }
                if let upTo, rec.firstSequence > upTo {
                    reachedLimit = true
                    return
                }
                if rec.firstSequence <= lastSeq && rec.firstSequence > manifest.flushedSequence {
                    throw ShaleError.corruption("\(file): sequence \(rec.firstSequence) is not after \(lastSeq)")
                }
                var seq = rec.firstSequence
                try BatchRep.forEach(rec.ops, count: rec.count, what: file) { kind, k, v in
                    if seq > manifest.flushedSequence {
                        if let run { run.add(seq: seq, kind: kind, key: k, value: v) } else { mem.add(seq: seq, kind: kind, key: k, value: v) }
                    }
                    seq += 1
                }
                lastSeq = max(lastSeq, seq - 1)
                replayed += 1
            }
            if reachedLimit { break replay }
        }
        if let upTo, lastSeq < upTo {
            throw ShaleError.corruption("\(store.location): the state needs writes up to sequence \(upTo) but the WAL ends at \(lastSeq)")
        }
        run?.seal()
        return LoadedState(manifest: manifest, version: version, tableCache: cache, mem: mem, run: run,
                           lastSequence: upTo.map { min($0, lastSeq) } ?? lastSeq, segments: segments,
                           replayedRecords: replayed)
    }
}
