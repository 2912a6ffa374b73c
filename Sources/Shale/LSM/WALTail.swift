/// Sorts the WAL segments no manifest has bounded yet into what a crash can legitimately
/// leave and what only damage can.
///
/// A writer seals (footer, fsync) each segment before it creates the next, and an opener
/// creates its first segment (header only) before it publishes its manifest. So among the
/// unbounded segments, at most one holds records without a footer — the tail, the last one
/// with more than a header — and after it there can only be segments with no records.
/// A footer-less or cut-short segment before the tail is corruption.
enum WALTail {
    enum Kind: Equatable {
        /// Has its footer: read strictly.
        case sealed
        /// The live segment of a writer that went away: a torn last record is the end.
        case tail
        /// No records (at most a header): nothing to replay.
        case empty
    }

    static func classify(store: ObjectStore, ids: [UInt64], manifest m: Manifest) throws -> [UInt64: (Kind, ByteRegion)] {
        var regions: [(UInt64, ByteRegion)] = []
        for id in ids where id >= m.walReplayFrom && m.bound(of: id) == nil {
            regions.append((id, try store.map(WALFormat.segmentName(id))))
        }
        // A foreign or damaged header is reported against its own file first.
        for (id, region) in regions where region.bytes.count >= FileEnvelope.headerSize {
            _ = try FileEnvelope.readHeader(region.bytes, kind: .wal, supported: WALFormat.version,
                                            file: "\(store.location)/\(WALFormat.segmentName(id))")
        }
        let tailIndex = regions.lastIndex { $0.1.bytes.count > FileEnvelope.headerSize } ?? -1
        var out: [UInt64: (Kind, ByteRegion)] = [:]
        for (i, (id, region)) in regions.enumerated() {
            let file = "\(store.location)/\(WALFormat.segmentName(id))"
            let bytes = region.bytes
            if i > tailIndex {
                out[id] = (.empty, region)
            } else if FileEnvelope.hasFooter(bytes) {
                out[id] = (.sealed, region)
            } else if i == tailIndex {
                out[id] = (.tail, region)
            } else if bytes.count < FileEnvelope.headerSize {
                throw ShaleError.corruption("\(file): cut short to \(bytes.count) bytes, but later segments exist")
            } else {
                throw ShaleError.corruption("\(file): missing or damaged footer, but later segments exist")
            }
        }
        return out
    }
}
