/// What one table file holds, as the manifest records it.
public struct TableMeta: Sendable, Equatable {
    public var id: UInt64
    public var fileBytes: UInt64
    public var entryCount: UInt64
    public var minSequence: UInt64
    public var maxSequence: UInt64
    /// Smallest and largest user keys in the table.
    public var smallest: [UInt8]
    public var largest: [UInt8]

    public init(id: UInt64, fileBytes: UInt64, entryCount: UInt64, minSequence: UInt64, maxSequence: UInt64,
                smallest: [UInt8], largest: [UInt8]) {
        self.id = id
        self.fileBytes = fileBytes
        self.entryCount = entryCount
        self.minSequence = minSequence
        self.maxSequence = maxSequence
        self.smallest = smallest
        self.largest = largest
    }

    public var path: String { TableMeta.path(id) }
    public static func path(_ id: UInt64) -> String { "sst/" + paddedId(id) + ".sst" }
}

/// A durable, named reference to one manifest version.
public struct CheckpointEntry: Sendable, Equatable {
    public var id: [UInt8]            // 16-byte UUID
    public var name: String
    public var manifestId: UInt64
    public var sequence: UInt64
    public var createTimeMs: Int64
    public var expireTimeMs: Int64    // 0 = never
    /// The WAL range the pinned state still needs: [walFrom, walTo].
    public var walFrom: UInt64
    public var walTo: UInt64
    public var formatVersion: UInt32
}

/// A WAL segment's length as measured when its writer went away: replay reads that much and
/// ignores anything a fenced writer appended later.
public struct WALBound: Sendable, Equatable {
    public var segment: UInt64
    public var length: UInt64
}

/// One manifest version: a full snapshot of the tree's state.
public struct Manifest: Sendable, Equatable {
    public static let formatVersion: UInt32 = 1

    public var id: UInt64 = 0
    public var writerEpoch: UInt64 = 0
    /// Highest sequence number stored in tables.
    public var flushedSequence: UInt64 = 0
    /// First WAL segment recovery replays.
    public var walReplayFrom: UInt64 = 1
    public var walBounds: [WALBound] = []
    public var nextTableNumber: UInt64 = 1
    /// levels[0] is L0, newest table first (tables may overlap); deeper levels are sorted by key
    /// and do not overlap.
    public var levels: [[TableMeta]] = [[]]
    public var checkpoints: [CheckpointEntry] = []
    public var createTimeMs: Int64 = 0

    public init() {}

    public static func path(_ id: UInt64) -> String { "manifest/" + paddedId(id) + ".manifest" }

    public static func id(fromPath p: String) -> UInt64? {
        guard p.hasPrefix("manifest/"), p.hasSuffix(".manifest") else { return nil }
        return UInt64(p.dropFirst("manifest/".count).dropLast(".manifest".count))
    }

    public var allTables: [TableMeta] { levels.flatMap { $0 } }

    public func bound(of segment: UInt64) -> Int? {
        walBounds.first { $0.segment == segment }.map { Int($0.length) }
    }

    // MARK: encoding

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 256)
        w.u64(id)
        w.u64(writerEpoch)
        w.u64(flushedSequence)
        w.u64(walReplayFrom)
        w.u64(nextTableNumber)
        w.i64(createTimeMs)
        w.varint(UInt64(walBounds.count))
        for b in walBounds {
            w.u64(b.segment)
            w.u64(b.length)
        }
        w.varint(UInt64(levels.count))
        for level in levels {
            w.varint(UInt64(level.count))
            for t in level {
                w.u64(t.id)
                w.u64(t.fileBytes)
                w.u64(t.entryCount)
                w.u64(t.minSequence)
                w.u64(t.maxSequence)
                w.lengthPrefixed(t.smallest)
                w.lengthPrefixed(t.largest)
            }
        }
        w.varint(UInt64(checkpoints.count))
        for c in checkpoints {
            w.raw(c.id)
            w.string(c.name)
            w.u64(c.manifestId)
            w.u64(c.sequence)
            w.i64(c.createTimeMs)
            w.i64(c.expireTimeMs)
            w.u64(c.walFrom)
            w.u64(c.walTo)
            w.u32(c.formatVersion)
        }
        return FileEnvelope.wrap(.manifest, version: Self.formatVersion, body: w.bytes)
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Manifest {
        _ = try FileEnvelope.readHeader(bytes, kind: .manifest, supported: formatVersion, file: file)
        let body = try FileEnvelope.readBody(bytes, file: file)
        var r = ByteReader(body, what: file)
        var m = Manifest()
        m.id = try r.u64()
        m.writerEpoch = try r.u64()
        m.flushedSequence = try r.u64()
        m.walReplayFrom = try r.u64()
        m.nextTableNumber = try r.u64()
        m.createTimeMs = try r.i64()
        let nb = try r.length()
        m.walBounds = []
        for _ in 0..<nb { m.walBounds.append(WALBound(segment: try r.u64(), length: try r.u64())) }
        let nl = try r.length()
        if nl == 0 { throw ShaleError.corruption("\(file): manifest has no levels") }
        m.levels = []
        for _ in 0..<nl {
            let nt = try r.length()
            var level: [TableMeta] = []
            for _ in 0..<nt {
                level.append(TableMeta(id: try r.u64(), fileBytes: try r.u64(), entryCount: try r.u64(),
                                       minSequence: try r.u64(), maxSequence: try r.u64(),
                                       smallest: try r.lengthPrefixed(), largest: try r.lengthPrefixed()))
            }
            m.levels.append(level)
        }
        let nc = try r.length()
        m.checkpoints = []
        for _ in 0..<nc {
            m.checkpoints.append(CheckpointEntry(
                id: try r.bytes(16), name: try r.string(), manifestId: try r.u64(), sequence: try r.u64(),
                createTimeMs: try r.i64(), expireTimeMs: try r.i64(), walFrom: try r.u64(), walTo: try r.u64(),
                formatVersion: try r.u32()))
        }
        if !r.atEnd { throw ShaleError.corruption("\(file): \(r.remaining) stray bytes after the manifest") }
        return m
    }
}
