import Foundation
import XCTest
@testable import Shale

/// The object-store contract, checked on both local backends, plus location parsing and
/// injected system-call failures.
final class StorageTests: XCTestCase {
    var dirs: [TempDir] = []

    override func tearDown() {
        Syscalls.faultInjector = nil
        for d in dirs { d.remove() }
        dirs = []
        super.tearDown()
    }

    func memoryStore() -> MemoryStore { MemoryStore(name: freshMemoryName("storage")) }

    func localStore() throws -> (LocalDirectoryStore, TempDir) {
        let d = TempDir("shale-storage")
        dirs.append(d)
        return (try LocalDirectoryStore(root: d.path, createIfMissing: true), d)
    }

    func append(_ f: AppendableFile, _ b: [UInt8]) throws { try b.withUnsafeBytes { try f.append($0) } }

    func bothStores() throws -> [ObjectStore] { [memoryStore(), try localStore().0] }

    // MARK: contract

    func testPutGetRangeSize() throws {
        for s in try bothStores() {
            let data = Array(0..<200).map { UInt8($0) }
            try s.put("sst/a.sst", data)
            XCTAssertEqual(try s.get("sst/a.sst"), data, s.location)
            XCTAssertEqual(try s.size("sst/a.sst"), 200, s.location)
            XCTAssertEqual(try s.get("sst/a.sst", range: 10..<15), [10, 11, 12, 13, 14], s.location)
            XCTAssertEqual(try s.get("sst/a.sst", range: 195..<300), [195, 196, 197, 198, 199], s.location)
            XCTAssertEqual(try s.get("sst/a.sst", range: 250..<300), [], s.location)
            XCTAssertTrue(try s.exists("sst/a.sst"), s.location)
            // put replaces
            try s.put("sst/a.sst", [9, 9])
            XCTAssertEqual(try s.get("sst/a.sst"), [9, 9], s.location)
            XCTAssertEqual(try s.size("sst/a.sst"), 2, s.location)
            // empty object
            try s.put("x/empty", [])
            XCTAssertEqual(try s.get("x/empty"), [], s.location)
            XCTAssertEqual(try s.size("x/empty"), 0, s.location)
        }
    }

    func testMissingObjectIsNotFound() throws {
        for s in try bothStores() {
            assertThrowsStatus(.notFound, "get \(s.location)") { try s.get("sst/none.sst") }
            assertThrowsStatus(.notFound, "range get \(s.location)") { try s.get("sst/none.sst", range: 0..<4) }
            assertThrowsStatus(.notFound, "size \(s.location)") { try s.size("sst/none.sst") }
            XCTAssertFalse(try s.exists("sst/none.sst"), s.location)
        }
    }

    func testListByPrefixIsSorted() throws {
        for s in try bothStores() {
            for name in ["wal/3", "wal/1", "wal/20", "wal/2", "sst/1", "walrus/1", "manifest/7"] {
                try s.put(name, [1])
            }
            XCTAssertEqual(try s.list(prefix: "wal/"), ["wal/1", "wal/2", "wal/20", "wal/3"], s.location)
            XCTAssertEqual(try s.list(prefix: "wal/2"), ["wal/2", "wal/20"], s.location)
            XCTAssertEqual(try s.list(prefix: "sst/"), ["sst/1"], s.location)
            XCTAssertEqual(try s.list(prefix: "nothing/"), [], s.location)
        }
    }

    func testDeleteAndDeleteAbsent() throws {
        for s in try bothStores() {
            try s.put("a/b", [1, 2])
            try s.delete("a/b")
            XCTAssertFalse(try s.exists("a/b"), s.location)
            XCTAssertEqual(try s.list(prefix: "a/"), [], s.location)
            XCTAssertNoThrow(try s.delete("a/b"), s.location)
            XCTAssertNoThrow(try s.delete("never/was"), s.location)
        }
    }

    func testPutIfAbsentKeepsFirst() throws {
        for s in try bothStores() {
            XCTAssertTrue(try s.putIfAbsent("manifest/1", [1, 1, 1]), s.location)
            XCTAssertFalse(try s.putIfAbsent("manifest/1", [2, 2]), s.location)
            XCTAssertEqual(try s.get("manifest/1"), [1, 1, 1], s.location)
            XCTAssertEqual(try s.list(prefix: "manifest/"), ["manifest/1"], s.location)
        }
    }

    func testPutIfAbsentRaceHasOneWinner() throws {
        for s in try bothStores() {
            let wins = ManagedCounter()
            let threads = (0..<4).map { i in
                BackgroundThread {
                    for id in 0..<50 {
                        if (try? s.putIfAbsent("manifest/\(id)", [UInt8(i)])) == true { wins.bump() }
                    }
                }
            }
            for t in threads { t.join() }
            XCTAssertEqual(wins.value, 50, s.location)
            XCTAssertEqual(try s.list(prefix: "manifest/").count, 50, s.location)
        }
    }

    func testAppendable() throws {
        for s in try bothStores() {
            guard let f = try s.createAppendable("wal/1.wal") else {
                XCTFail("\(s.location) has no appendable files")
                continue
            }
            XCTAssertEqual(f.size, 0, s.location)
            try append(f, [1, 2, 3])
            try append(f, [4, 5])
            try f.sync()
            XCTAssertEqual(f.size, 5, s.location)
            XCTAssertEqual(try s.size("wal/1.wal"), 5, s.location)
            XCTAssertEqual(try s.get("wal/1.wal"), [1, 2, 3, 4, 5], s.location)
            XCTAssertEqual(try s.get("wal/1.wal", range: 3..<5), [4, 5], s.location)
            // A segment is never shared: creating an existing one fails and leaves it alone.
            assertThrowsStatus(.ioError, "second createAppendable \(s.location)") { try s.createAppendable("wal/1.wal") }
            try s.put("wal/2.wal", [7])
            assertThrowsStatus(.ioError, "createAppendable over a put \(s.location)") { try s.createAppendable("wal/2.wal") }
            XCTAssertEqual(try s.get("wal/1.wal"), [1, 2, 3, 4, 5], s.location)
            XCTAssertEqual(try s.get("wal/2.wal"), [7], s.location)
            try f.close()
        }
    }

    func testMemoryStoresOfOneNameAreShared() throws {
        let name = freshMemoryName("shared")
        defer { MemoryStore.drop(name) }
        try MemoryStore.named(name).put("k", [1])
        XCTAssertEqual(try MemoryStore.named(name).get("k"), [1])
        MemoryStore.drop(name)
        XCTAssertFalse(try MemoryStore.named(name).exists("k"))
    }

    func testLocalStoreLeavesNoTempFiles() throws {
        let (s, d) = try localStore()
        try s.put("sst/1.sst", [1])
        _ = try s.putIfAbsent("manifest/1", [1])
        _ = try s.putIfAbsent("manifest/1", [2])
        XCTAssertEqual(d.allFiles(), ["manifest/1", "sst/1.sst"])
    }

    func testLocalStoreCreateIfMissing() throws {
        let d = TempDir("shale-storage-missing")
        dirs.append(d)
        assertThrowsStatus(.notFound, "no dir, createIfMissing false") {
            try LocalDirectoryStore(root: d.path + "/deeper", createIfMissing: false)
        }
        let s = try LocalDirectoryStore(root: d.path + "/a/b/", createIfMissing: true)
        XCTAssertEqual(s.root, d.path + "/a/b")
        XCTAssertTrue(Syscalls.isDirectory(d.path + "/a/b"))
    }

    // MARK: locations

    func testStoreLocationParsing() throws {
        let name = freshMemoryName("loc")
        defer { MemoryStore.drop(name) }
        let m = try StoreLocation.open("memory://" + name, createIfMissing: true)
        XCTAssertTrue(m is MemoryStore)
        XCTAssertEqual(m.location, "memory://" + name)
        XCTAssertTrue(try StoreLocation.open("memory://" + name, createIfMissing: false) === m)

        let d = TempDir("shale-loc")
        dirs.append(d)
        let f = try StoreLocation.open("file://" + d.path, createIfMissing: true)
        XCTAssertEqual((f as? LocalDirectoryStore)?.root, d.path)
        let p = try StoreLocation.open(d.path + "/plain", createIfMissing: true)
        XCTAssertEqual((p as? LocalDirectoryStore)?.root, d.path + "/plain")
        XCTAssertTrue(Syscalls.isDirectory(d.path + "/plain"))

        assertThrowsStatus(.notFound, "missing dir") { try StoreLocation.open(d.path + "/nope", createIfMissing: false) }
        assertThrowsStatus(.notSupported, "s3") { try StoreLocation.open("s3://bucket/prefix", createIfMissing: true) }
        assertThrowsStatus(.invalidArgument, "ftp") { try StoreLocation.open("ftp://host/dir", createIfMissing: true) }
        assertThrowsStatus(.invalidArgument, "empty") { try StoreLocation.open("", createIfMissing: true) }
        assertThrowsStatus(.invalidArgument, "memory without name") { try StoreLocation.open("memory://", createIfMissing: true) }
        assertThrowsStatus(.invalidArgument, "file without path") { try StoreLocation.open("file://", createIfMissing: true) }
    }

    // MARK: injected failures

    func testENOSPCOnWriteFailsPutCleanly() throws {
        let (s, d) = try localStore()
        try s.put("sst/old.sst", [1, 2, 3])
        let root = d.path
        Syscalls.faultInjector = { call, path in
            call == .write && path.hasPrefix(root) ? ENOSPC : nil
        }
        let e = assertThrowsStatus(.ioError, "put with a full disk") { try s.put("sst/new.sst", [4, 5, 6]) }
        XCTAssertTrue(e?.message.contains("ENOSPC") ?? false, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains(root + "/sst") ?? false, "message should name the path: \(String(describing: e))")
        let e2 = assertThrowsStatus(.ioError, "putIfAbsent with a full disk") { try s.putIfAbsent("manifest/1", [1]) }
        XCTAssertTrue(e2?.message.contains("ENOSPC") ?? false, "\(String(describing: e2))")
        // A failed put replaces nothing.
        let e3 = assertThrowsStatus(.ioError, "overwrite with a full disk") { try s.put("sst/old.sst", [9]) }
        XCTAssertNotNil(e3)
        Syscalls.faultInjector = nil

        XCTAssertFalse(try s.exists("sst/new.sst"))
        XCTAssertFalse(try s.exists("manifest/1"))
        XCTAssertEqual(try s.get("sst/old.sst"), [1, 2, 3])
        XCTAssertEqual(try s.list(prefix: "sst/"), ["sst/old.sst"])
        XCTAssertEqual(d.allFiles(), ["sst/old.sst"], "no temporary file may be left behind")
        // The disk has room again: everything works.
        try s.put("sst/new.sst", [4, 5, 6])
        XCTAssertEqual(try s.get("sst/new.sst"), [4, 5, 6])
    }

    func testInjectedFsyncAndRenameFailures() throws {
        let (s, d) = try localStore()
        let root = d.path
        for call in [Syscalls.Call.fsync, .rename] {
            Syscalls.faultInjector = { c, path in c == call && path.hasPrefix(root) ? EIO : nil }
            let e = assertThrowsStatus(.ioError, "put with \(call) failing") { try s.put("sst/x.sst", [1]) }
            XCTAssertTrue(e?.message.contains("EIO") ?? false, "\(String(describing: e))")
            Syscalls.faultInjector = nil
            // The temporary file's fsync and the rename both come before the object is
            // visible: nothing may show.
            XCTAssertFalse(try s.exists("sst/x.sst"), "after \(call)")
            XCTAssertEqual(d.allFiles().filter { $0.contains(".tmp-") }, [], "temp files after \(call)")
        }
        Syscalls.faultInjector = { c, path in c == .link && path.hasPrefix(root) ? EIO : nil }
        assertThrowsStatus(.ioError, "putIfAbsent with link failing") { try s.putIfAbsent("manifest/1", [1]) }
        Syscalls.faultInjector = nil
        XCTAssertFalse(try s.exists("manifest/1"))
        XCTAssertEqual(d.allFiles(), [])
    }

    func testAppendFailureIsIOError() throws {
        let (s, d) = try localStore()
        let root = d.path
        let f = try XCTUnwrap(try s.createAppendable("wal/1.wal"))
        try append(f, [1, 2])
        Syscalls.faultInjector = { c, path in c == .write && path.hasPrefix(root) ? ENOSPC : nil }
        let e = assertThrowsStatus(.ioError, "append on a full disk") { try append(f, [3]) }
        XCTAssertTrue(e?.message.contains("wal/1.wal") ?? false, "\(String(describing: e))")
        Syscalls.faultInjector = nil
        XCTAssertEqual(f.size, 2)
        XCTAssertEqual(try s.get("wal/1.wal"), [1, 2])
        try f.close()
    }
}
