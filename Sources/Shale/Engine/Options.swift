/// How the WAL reaches storage.
public enum WALSyncPolicy: String, Sendable {
    /// A write returns after fsync; concurrent writers share one fsync (group commit).
    case always
    /// fsync at least every `walFlushIntervalMs`.
    case interval
    /// Left to the operating system.
    case none
}

/// Database options, settable from strings (the C ABI and the bindings pass strings).
public struct Options: Sendable {
    public var createIfMissing = true
    public var readOnly = false
    public var walSync: WALSyncPolicy = .interval
    public var walFlushIntervalMs = 100
    public var memtableBytes = 64 << 20
    public var sstTargetBytes = 64 << 20
    public var blockBytes = 4096
    public var compression: Compression = .none
    public var bloomBitsPerKey = 10
    public var maxValueBytes = 64 << 20
    public var checkpointIntervalMs = 0
    public var walRetentionMs = 0
    public var gcIntervalMs = 60_000
    public var gcMinAgeMs = 300_000
    public var l0CompactionTrigger = 4
    /// Immutable memtables waiting for flush before writers stall.
    public var maxImmutableMemtables = 2

    public static let maxKeyBytes = 64 << 10
    public static let maxValueLimit = 64 << 20

    public init() {}

    public static let keys = [
        "create_if_missing", "read_only", "wal_sync", "wal_flush_interval_ms", "memtable_bytes",
        "sst_target_bytes", "block_bytes", "compression", "bloom_bits_per_key", "max_value_bytes",
        "checkpoint_interval_ms", "wal_retention_ms", "gc_interval_ms", "gc_min_age_ms",
        "l0_compaction_trigger",
    ]

    /// Sets one option from its string form; unknown keys and bad values are invalid arguments.
    public mutating func set(_ key: String, _ value: String) throws {
        let v = value.trimmingSpaces
        switch key {
        case "create_if_missing": createIfMissing = try Self.bool(key, v)
        case "read_only": readOnly = try Self.bool(key, v)
        case "wal_sync":
            guard let p = WALSyncPolicy(rawValue: v) else {
                throw ShaleError.invalid("option wal_sync: '\(value)' is not one of always, interval, none")
            }
            walSync = p
        case "wal_flush_interval_ms": walFlushIntervalMs = try Self.int(key, v, 1...3_600_000)
        case "memtable_bytes": memtableBytes = try Self.size(key, v, (64 << 10)...(4 << 30))
        case "sst_target_bytes": sstTargetBytes = try Self.size(key, v, (64 << 10)...(4 << 30))
        case "block_bytes": blockBytes = try Self.size(key, v, 256...(4 << 20))
        case "compression":
            guard let c = Compression(rawValue: v) else {
                throw ShaleError.invalid("option compression: '\(value)' is not one of none, zstd, lz4")
            }
            compression = c
        case "bloom_bits_per_key": bloomBitsPerKey = try Self.int(key, v, 0...64)
        case "max_value_bytes": maxValueBytes = try Self.size(key, v, 0...Self.maxValueLimit)
        case "checkpoint_interval_ms": checkpointIntervalMs = try Self.int(key, v, 0...Int(Int32.max))
        case "wal_retention_ms": walRetentionMs = try Self.int(key, v, 0...Int(Int32.max))
        case "gc_interval_ms": gcIntervalMs = try Self.int(key, v, 0...Int(Int32.max))
        case "gc_min_age_ms": gcMinAgeMs = try Self.int(key, v, 0...Int(Int32.max))
        case "l0_compaction_trigger": l0CompactionTrigger = try Self.int(key, v, 1...1000)
        default:
            throw ShaleError.invalid("unknown option '\(key)' (known: \(Self.keys.joined(separator: ", ")))")
        }
    }

    static func bool(_ key: String, _ v: String) throws -> Bool {
        switch v.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ShaleError.invalid("option \(key): '\(v)' is not true or false")
        }
    }

    static func int(_ key: String, _ v: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let n = Int(v), range.contains(n) else {
            throw ShaleError.invalid("option \(key): '\(v)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// A byte count with an optional KiB/MiB/GiB (or K/M/G, KB/MB/GB) suffix.
    static func size(_ key: String, _ v: String, _ range: ClosedRange<Int>) throws -> Int {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
                                      ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30),
                                      ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        var digits = v
        var mult = 1
        for (suffix, m) in units where v.hasSuffix(suffix) {
            digits = String(v.dropLast(suffix.count)).trimmingSpaces
            mult = m
            break
        }
        guard let n = Int(digits), n >= 0, n <= Int.max / mult, range.contains(n * mult) else {
            throw ShaleError.invalid("option \(key): '\(v)' is not a size in \(range.lowerBound)...\(range.upperBound) bytes")
        }
        return n * mult
    }

    var tableOptions: TableOptions {
        var t = TableOptions()
        t.blockBytes = blockBytes
        t.compression = compression
        t.bloomBitsPerKey = bloomBitsPerKey
        return t
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
