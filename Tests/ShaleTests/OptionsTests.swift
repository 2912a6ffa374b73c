import XCTest
@testable import Shale

/// Options set from strings, as the C ABI and the bindings pass them.
final class OptionsTests: XCTestCase {
    func testEveryDocumentedKeyAcceptsAGoodValue() throws {
        var o = Options()
        try o.set("create_if_missing", "false")
        XCTAssertFalse(o.createIfMissing)
        try o.set("create_if_missing", "TRUE")
        XCTAssertTrue(o.createIfMissing)
        try o.set("read_only", "1")
        XCTAssertTrue(o.readOnly)
        try o.set("read_only", "off")
        XCTAssertFalse(o.readOnly)
        for p in ["always", "interval", "none"] {
            try o.set("wal_sync", p)
            XCTAssertEqual(o.walSync.rawValue, p)
        }
        try o.set("wal_flush_interval_ms", "25")
        XCTAssertEqual(o.walFlushIntervalMs, 25)
        try o.set("memtable_bytes", "1048576")
        XCTAssertEqual(o.memtableBytes, 1 << 20)
        try o.set("sst_target_bytes", "2MiB")
        XCTAssertEqual(o.sstTargetBytes, 2 << 20)
        try o.set("block_bytes", "16KiB")
        XCTAssertEqual(o.blockBytes, 16 << 10)
        for c in ["none", "zstd", "lz4"] {
            try o.set("compression", c)
            XCTAssertEqual(o.compression.rawValue, c)
        }
        try o.set("bloom_bits_per_key", "12")
        XCTAssertEqual(o.bloomBitsPerKey, 12)
        try o.set("max_value_bytes", "1MiB")
        XCTAssertEqual(o.maxValueBytes, 1 << 20)
        try o.set("checkpoint_interval_ms", "0")
        XCTAssertEqual(o.checkpointIntervalMs, 0)
        try o.set("checkpoint_interval_ms", "60000")
        XCTAssertEqual(o.checkpointIntervalMs, 60_000)
        try o.set("wal_retention_ms", "3600000")
        XCTAssertEqual(o.walRetentionMs, 3_600_000)
        try o.set("gc_interval_ms", "500")
        XCTAssertEqual(o.gcIntervalMs, 500)
        try o.set("gc_min_age_ms", "0")
        XCTAssertEqual(o.gcMinAgeMs, 0)
        try o.set("l0_compaction_trigger", "8")
        XCTAssertEqual(o.l0CompactionTrigger, 8)
    }

    func testDocumentedKeysAreKnown() {
        // The keys C-API.md promises.
        let documented = ["create_if_missing", "wal_sync", "wal_flush_interval_ms", "memtable_bytes", "sst_target_bytes",
                          "block_bytes", "compression", "checkpoint_interval_ms", "wal_retention_ms", "gc_interval_ms",
                          "gc_min_age_ms", "read_only"]
        for k in documented { XCTAssertTrue(Options.keys.contains(k), k) }
    }

    func testDefaults() {
        let o = Options()
        XCTAssertTrue(o.createIfMissing)
        XCTAssertFalse(o.readOnly)
        XCTAssertEqual(o.compression, .none)
        XCTAssertEqual(o.checkpointIntervalMs, 0)
    }

    func testSizeSuffixes() throws {
        let cases: [(String, Int)] = [("64KiB", 64 << 10), ("1MiB", 1 << 20), ("1GiB", 1 << 30), ("128K", 128 << 10),
                                      ("2M", 2 << 20), ("64KB", 64 << 10), ("3MB", 3 << 20), ("65536", 65536),
                                      ("65536B", 65536), (" 1MiB ", 1 << 20), ("64 KiB", 64 << 10)]
        for (text, n) in cases {
            var o = Options()
            try o.set("memtable_bytes", text)
            XCTAssertEqual(o.memtableBytes, n, text)
        }
    }

    func testBadValuesNameTheKey() {
        let bad: [(String, String)] = [
            ("wal_sync", "sometimes"), ("wal_sync", ""), ("wal_sync", "ALWAYS2"),
            ("memtable_bytes", "-1"), ("memtable_bytes", "1"), ("memtable_bytes", "64KiBs"), ("memtable_bytes", "1.5MiB"),
            ("memtable_bytes", "99999999999999999999"), ("memtable_bytes", "8GiB"), ("memtable_bytes", ""),
            ("memtable_bytes", "9223372036854775807K"),
            ("compression", "brotli"), ("compression", ""),
            ("create_if_missing", "maybe"), ("read_only", "2"),
            ("wal_flush_interval_ms", "0"), ("wal_flush_interval_ms", "abc"),
            ("block_bytes", "1"), ("bloom_bits_per_key", "65"), ("bloom_bits_per_key", "-1"),
            ("max_value_bytes", "65MiB"), ("gc_interval_ms", "-5"), ("l0_compaction_trigger", "0"),
            ("checkpoint_interval_ms", "1e3"),
        ]
        for (k, v) in bad {
            var o = Options()
            let before = "\(o)"
            let e = assertThrowsStatus(.invalidArgument, "\(k)=\(v)") { try o.set(k, v) }
            if let e { XCTAssertTrue(e.message.contains(k), "\(k)=\(v): message '\(e.message)' should name the key") }
            XCTAssertEqual("\(o)", before, "\(k)=\(v): a rejected value must not change the options")
        }
    }

    func testUnknownKey() {
        var o = Options()
        let e = assertThrowsStatus(.invalidArgument, "unknown key") { try o.set("memtable_size", "1MiB") }
        XCTAssertTrue(e?.message.contains("memtable_size") ?? false, "\(String(describing: e))")
        assertThrowsStatus(.invalidArgument, "empty key") { try o.set("", "1") }
        assertThrowsStatus(.invalidArgument, "key case matters") { try o.set("WAL_SYNC", "always") }
    }
}
