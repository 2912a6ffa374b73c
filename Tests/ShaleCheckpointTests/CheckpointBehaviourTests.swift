import Foundation
import XCTest
@testable import Shale

/// What a checkpoint promises beside concurrent work, and how bad input is refused.
final class CheckpointBehaviourTests: XCTestCase {
    var cleanups: [() -> Void] = []

    override func tearDown() {
        for c in cleanups { c() }
        cleanups = []
        super.tearDown()
    }

    func directory(_ tag: String) -> CPLocation {
        let l = CPLocation.directory(tag)
        cleanups.append { l.cleanup() }
        return l
    }

    func memory(_ tag: String) -> CPLocation {
        let l = CPLocation.memory(tag)
        cleanups.append { l.cleanup() }
        return l
    }

    static let smallTree = [("memtable_bytes", "64KiB"), ("l0_compaction_trigger", "2"), ("sst_target_bytes", "128KiB")]

    // MARK: every acknowledged write is in

    /// Writer threads put unique keys and overwrite a few hot keys with a growing counter. Just
    /// before each create, the main thread records each thread's last acknowledged write; the
    /// reader at the checkpoint must hold it, and every hot key at least its acknowledged value.
    func checkAcknowledgedWritesIncluded(_ loc: CPLocation, waitDurable: Bool, options: [(String, String)] = smallTree) throws {
        let db = try DB.open(loc.location, options: try makeOptions(options))
        let threads = 4, hot = 4
        let acked = Locked([Int](repeating: -1, count: threads))
        let stop = Locked(false)
        let failure = Locked<String?>(nil)
        let filler = [UInt8](repeating: 0x5a, count: 150)
        var workers: [TestThread] = []
        for t in 0..<threads {
            workers.append(TestThread {
                var n = 0
                while !stop.get() {
                    do {
                        try db.put(bytes("t\(t)-\(String(format: "%08d", n))"), be64(UInt64(n)) + filler)
                        try db.put(bytes("hot-\(t)-\(n % hot)"), be64(UInt64(n)))
                    } catch {
                        failure.set("writer \(t): \(error)")
                        return
                    }
                    acked.update { $0[t] = n }
                    n += 1
                }
            })
        }
        var taken: [(CheckpointEntry, [Int])] = []
        for i in 0..<30 {
            usleep(UInt32.random(in: 1000...15000))
            let before = acked.get()
            let e = try db.createCheckpoint(name: "ack-\(i)", waitDurable: waitDurable)
            taken.append((e, before))
        }
        stop.set(true)
        for w in workers where !w.join(timeoutSeconds: 60) {
            // Regression test: the background thread used to write a pending checkpoint through
            // the commit queue (syncWAL), behind a group-commit leader stalled in
            // makeRoomForWrite waiting for that same thread to flush: a deadlock (fixed in
            // c79ff38, which fsyncs the live segment directly). The db is leaked if it recurs.
            return XCTFail("writers did not finish within 60 s after \(taken.count) checkpoints "
                           + "(waitDurable: \(waitDurable)): deadlock between a pending checkpoint and a write stall")
        }
        if let f = failure.get() { XCTFail(f) }
        if !waitDurable { try db.flush() }

        func check(_ e: CheckpointEntry, _ before: [Int]) throws {
            let r = try Reader.open(loc.location, checkpointId: e.idText)
            defer { r.close() }
            for t in 0..<threads where before[t] >= 0 {
                let n = before[t]
                for m in Set([0, n / 2, max(n - 1, 0), n]) {
                    let got = try r.get(bytes("t\(t)-\(String(format: "%08d", m))"))
                    XCTAssertEqual(got.map { fromBE64($0) }, UInt64(m),
                                   "checkpoint \(e.name) misses write \(m) of thread \(t), acknowledged before the call (last acked \(n))")
                }
                for j in 0..<hot {
                    // The last write to hot-t-j at or before n.
                    let want = n - ((n - j) % hot + hot) % hot
                    guard want >= 0 else { continue }
                    let got = try r.get(bytes("hot-\(t)-\(j)"))
                    // Guards a race: a flush between the checkpoint's sequence being taken and
                    // its manifest being written could drop the version the checkpoint needs
                    // (checkpoints being written are not among the sequences flush keeps).
                    XCTAssertTrue(got.map { fromBE64($0) >= UInt64(want) } ?? false,
                                  "checkpoint \(e.name): hot-\(t)-\(j) is \(got.map { "\(fromBE64($0))" } ?? "absent"), but \(want) was acknowledged before the call")
                }
            }
        }
        for (e, before) in taken { try check(e, before) }
        try db.close()
        // And the same after the writer is gone.
        for (e, before) in taken.suffix(5) { try check(e, before) }
    }

    func testAcknowledgedWritesIncludedSync() throws {
        try checkAcknowledgedWritesIncluded(directory("shale-cpack"), waitDurable: true)
    }

    /// Asynchronous checkpoints with a memtable big enough that writers never stall.
    func testAcknowledgedWritesIncludedAsync() throws {
        try checkAcknowledgedWritesIncluded(memory("cpack"), waitDurable: false, options: [("memtable_bytes", "64MiB")])
    }

    /// Asynchronous checkpoints while writers fill small memtables faster than they flush.
    func testAsyncCheckpointsBesideStalledWriters() throws {
        try checkAcknowledgedWritesIncluded(memory("cpstall"), waitDurable: false)
    }

    // MARK: restore and clone of checkpoints taken under concurrent writes

    /// A clone of a checkpoint and a database restored to it hold exactly what the reader at
    /// the checkpoint holds, also when writes went on while the checkpoint was taken.
    func testCloneAndRestoreOfCheckpointsTakenUnderWrites() throws {
        let loc = directory("shale-cpconc")
        let db = try DB.open(loc.location, options: try makeOptions([("memtable_bytes", "64KiB"), ("l0_compaction_trigger", "2")]))
        let stop = Locked(false)
        let failure = Locked<String?>(nil)
        var workers: [TestThread] = []
        for t in 0..<3 {
            workers.append(TestThread {
                var n: UInt64 = 0
                while !stop.get() {
                    do {
                        try db.put(bytes("w\(t)-\(n % 500)"), be64(n) + [UInt8](repeating: UInt8(t), count: 100))
                        if n % 7 == 0 { try db.delete(bytes("w\(t)-\((n / 7) % 500)")) }
                    } catch {
                        failure.set("writer \(t): \(error)")
                        return
                    }
                    n += 1
                }
            })
        }
        var ids: [String] = []
        for i in 0..<30 {
            usleep(UInt32.random(in: 1000...10000))
            ids.append(try db.createCheckpoint(name: "conc-\(i)").idText)
        }
        stop.set(true)
        for w in workers where !w.join(timeoutSeconds: 60) { return XCTFail("writers did not finish within 60 s") }
        if let f = failure.get() { XCTFail(f) }
        try db.close()

        var states: [String: KV] = [:]
        for id in ids { states[id] = try readerContents(loc.location, id) }
        for (i, id) in ids.enumerated() {
            let dest = directory("shale-cpconc-clone")
            try CheckpointAdmin.clone(loc.location, checkpointId: id, destination: dest.location)
            let got = try readerContents(dest.location, nil)
            // Guards a race: the clone takes the pinned manifest's tables whole, and a table
            // flushed while the checkpoint was being written may hold writes after its sequence.
            XCTAssertEqual(got, states[id]!, "clone of checkpoint conc-\(i): \(diff(got, states[id]!))")
        }
        let newest = try readerContents(loc.location, nil)
        for (i, id) in ids.enumerated().filter({ $0.offset % 4 == 1 }) {
            try CheckpointAdmin.restore(loc.location, checkpointId: id)
            let rdb = try DB.open(loc.location)
            let got = try contents(rdb)
            try rdb.close()
            // Same race as for clones: restore installs the pinned tables whole.
            XCTAssertEqual(got, states[id]!, "restored to conc-\(i): \(diff(got, states[id]!))")
        }
        // Undo all of it: the first pre-restore checkpoint holds the newest state.
        let pre = try CheckpointAdmin.list(loc.location).filter { $0.name.hasPrefix("pre-restore-") }
        XCTAssertEqual(pre.count, ids.indices.filter { $0 % 4 == 1 }.count)
        if let first = pre.first {
            try CheckpointAdmin.restore(loc.location, checkpointId: first.idText)
            let rdb = try DB.open(loc.location)
            let got = try contents(rdb)
            try rdb.close()
            XCTAssertEqual(got, newest, "undoing the restores: \(diff(got, newest))")
        }
    }

    // MARK: creation does not block

    func testCreationDoesNotBlockPutsAndGets() throws {
        let loc = directory("shale-cplat")
        let db = try DB.open(loc.location, options: try makeOptions([("memtable_bytes", "256KiB"), ("wal_sync", "none")]))
        for i in 0..<2000 { try db.put(bytes("pre-\(i)"), bytes("v\(i)")) }
        let stop = Locked(false)
        let longestPutNs = Locked<UInt64>(0), longestGetNs = Locked<UInt64>(0)
        let puts = Locked(0), gets = Locked(0)
        let failure = Locked<String?>(nil)
        let writer = TestThread {
            var n = 0
            while !stop.get() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                do { try db.put(bytes("lat-\(n % 5000)"), [UInt8](repeating: 1, count: 100)) } catch {
                    failure.set("put: \(error)")
                    return
                }
                let dt = DispatchTime.now().uptimeNanoseconds - t0
                longestPutNs.update { $0 = max($0, dt) }
                n += 1
            }
            puts.set(n)
        }
        let reader = TestThread {
            var n = 0
            while !stop.get() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                do {
                    let v = try db.get(bytes("pre-\(n % 2000)"))
                    if v != bytes("v\(n % 2000)") { failure.set("get pre-\(n % 2000) gave \(String(describing: v))") }
                } catch {
                    failure.set("get: \(error)")
                    return
                }
                let dt = DispatchTime.now().uptimeNanoseconds - t0
                longestGetNs.update { $0 = max($0, dt) }
                n += 1
            }
            gets.set(n)
        }
        var longestCreateNs: UInt64 = 0
        let t0 = Date()
        for i in 0..<50 {
            let c0 = DispatchTime.now().uptimeNanoseconds
            // Synchronous only, so a recurrence of the stalled-writer deadlock (see
            // testAsyncCheckpointsBesideStalledWriters) fails there instead of hanging here.
            try db.createCheckpoint(name: "lat-\(i)", waitDurable: true)
            longestCreateNs = max(longestCreateNs, DispatchTime.now().uptimeNanoseconds - c0)
            usleep(2000)
        }
        let elapsed = Date().timeIntervalSince(t0)
        stop.set(true)
        guard writer.join(timeoutSeconds: 60), reader.join(timeoutSeconds: 60) else {
            return XCTFail("the writer or reader did not finish within 60 s")
        }
        if let f = failure.get() { XCTFail(f) }
        try db.flush()
        XCTAssertEqual(try db.checkpoints().count, 50)
        print(String(format: "50 checkpoints in %.2f s beside %d puts and %d gets: longest put %.2f ms, longest get %.2f ms, longest create %.2f ms",
                     elapsed, puts.get(), gets.get(), Double(longestPutNs.get()) / 1e6, Double(longestGetNs.get()) / 1e6,
                     Double(longestCreateNs) / 1e6))
        try db.close()
    }

    // MARK: readers beside a busy writer

    func testReaderSurvivesFlushCompactionAndCheckpointDeletion() throws {
        for loc in [directory("shale-cpsurv"), memory("cpsurv")] {
            let db = try DB.open(loc.location, options: try makeOptions(Self.smallTree))
            var model: KV = [:]
            for i in 0..<3000 {
                let k = bytes(String(format: "s%05d", i % 1200)), v = bytes("first-\(i)") + [UInt8](repeating: 7, count: 60)
                try db.put(k, v)
                model[k] = v
            }
            let a = try db.createCheckpoint(name: "a")
            let stateA = model
            for i in 0..<400 { let k = bytes(String(format: "s%05d", i * 3)); try db.delete(k); model[k] = nil }
            let b = try db.createCheckpoint(name: "b", waitDurable: false)
            let stateB = model
            try db.flush()
            let ra = try Reader.open(loc.location, checkpointId: a.idText)
            let rb = try Reader.open(loc.location, checkpointId: b.idText)
            let itA = try ra.scan()   // an iterator opened before the churn
            // Churn: overwrite everything several times so flushes and compactions replace
            // every table, delete both checkpoints, reopen the writer.
            for round in 0..<4 {
                for i in 0..<1200 { try db.put(bytes(String(format: "s%05d", i)), bytes("round-\(round)-\(i)") + [UInt8](repeating: 9, count: 80)) }
                if round == 1 {
                    try CheckpointAdmin.delete(loc.location, id: a.idText)
                    try CheckpointAdmin.delete(loc.location, id: b.idText)
                }
            }
            try db.flush()
            try db.close()
            let db2 = try DB.open(loc.location, options: try makeOptions(Self.smallTree))
            for i in 0..<1500 { try db2.put(bytes(String(format: "x%05d", i)), [UInt8](repeating: 3, count: 100)) }
            try db2.flush()

            XCTAssertEqual(try contents(ra), stateA, "\(loc.location): reader at a after churn")
            XCTAssertEqual(try drain(itA), stateA, "\(loc.location): iterator opened before churn")
            XCTAssertEqual(try contents(rb), stateB, "\(loc.location): reader at b after churn")
            for i in stride(from: 0, to: 1200, by: 37) {
                let k = bytes(String(format: "s%05d", i))
                XCTAssertEqual(try ra.get(k), stateA[k])
                XCTAssertEqual(try rb.get(k), stateB[k])
            }
            ra.close()
            rb.close()
            assertThrowsStatus(.closed, "get on a closed reader") { try ra.get(bytes("s00001")) }
            assertThrowsStatus(.closed, "scan on a closed reader") { try ra.scan() }
            assertThrowsStatus(.notFound, "reader at a deleted checkpoint") { try Reader.open(loc.location, checkpointId: a.idText) }
            try db2.close()
        }
    }

    // MARK: bad input

    func testMalformedAndUnknownIds() throws {
        let loc = directory("shale-cpbad")
        let db = try DB.open(loc.location)
        try db.put(bytes("k"), bytes("v"))
        let real = try db.createCheckpoint(name: "real")
        try db.close()
        let malformed = ["", "nope", "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5b-d9cb-469f-a165-70867728950ez",
                         "0f8fad5bxd9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950g"]
        let dest = freshTempPath("shale-cpbad-dest")
        for id in malformed {
            assertThrowsStatus(.invalidArgument, "reader '\(id)'") { try Reader.open(loc.location, checkpointId: id) }
            assertThrowsStatus(.invalidArgument, "refresh '\(id)'") { try CheckpointAdmin.refresh(loc.location, id: id, lifetimeMs: 0) }
            assertThrowsStatus(.invalidArgument, "delete '\(id)'") { try CheckpointAdmin.delete(loc.location, id: id) }
            assertThrowsStatus(.invalidArgument, "restore '\(id)'") { try CheckpointAdmin.restore(loc.location, checkpointId: id) }
            assertThrowsStatus(.invalidArgument, "clone '\(id)'") { try CheckpointAdmin.clone(loc.location, checkpointId: id, destination: dest) }
        }
        let unknown = CheckpointId.text(CheckpointId.random())
        assertThrowsStatus(.notFound, "reader unknown") { try Reader.open(loc.location, checkpointId: unknown) }
        assertThrowsStatus(.notFound, "refresh unknown") { try CheckpointAdmin.refresh(loc.location, id: unknown, lifetimeMs: 0) }
        assertThrowsStatus(.notFound, "delete unknown") { try CheckpointAdmin.delete(loc.location, id: unknown) }
        assertThrowsStatus(.notFound, "restore unknown") { try CheckpointAdmin.restore(loc.location, checkpointId: unknown) }
        assertThrowsStatus(.notFound, "clone unknown") { try CheckpointAdmin.clone(loc.location, checkpointId: unknown, destination: dest) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest), "a failed clone left \(dest)")
        // Upper-case hex is the same id.
        XCTAssertEqual(try readerContents(loc.location, real.idText.uppercased()), [bytes("k"): bytes("v")])
        // Nothing changed.
        XCTAssertEqual(try CheckpointAdmin.list(loc.location).map { $0.idText }, [real.idText])
        // No database at all.
        let nowhere = freshTempPath("shale-cpnone")
        assertThrowsStatus(.notFound, "list without a database") { try CheckpointAdmin.list(nowhere) }
        assertThrowsStatus(.notFound, "reader without a database") { try Reader.open(nowhere, checkpointId: nil) }
        assertThrowsStatus(.notFound, "refresh without a database") { try CheckpointAdmin.refresh(nowhere, id: unknown, lifetimeMs: 0) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: nowhere), "looking at \(nowhere) created it")
    }

    func testExpiredCheckpoint() throws {
        let loc = memory("cpexp")
        let db = try DB.open(loc.location)
        try db.put(bytes("k"), bytes("v"))
        let short = try db.createCheckpoint(name: "short", lifetimeMs: 1)
        let long = try db.createCheckpoint(name: "long", lifetimeMs: 600_000)
        XCTAssertEqual(short.expireTimeMs, short.createTimeMs + 1)
        XCTAssertEqual(long.expireTimeMs, long.createTimeMs + 600_000)
        usleep(20_000)
        assertThrowsStatus(.notFound, "reader at an expired checkpoint") { try Reader.open(loc.location, checkpointId: short.idText) }
        assertThrowsStatus(.notFound, "refreshing an expired checkpoint") {
            try CheckpointAdmin.refresh(loc.location, id: short.idText, lifetimeMs: 600_000)
        }
        let dest = memory("cpexp-clone")
        assertThrowsStatus(.notFound, "cloning an expired checkpoint") {
            try CheckpointAdmin.clone(loc.location, checkpointId: short.idText, destination: dest.location)
        }
        XCTAssertEqual(try readerContents(loc.location, long.idText), [bytes("k"): bytes("v")])
        // Refresh to "never" and back.
        try CheckpointAdmin.refresh(loc.location, id: long.idText, lifetimeMs: 0)
        XCTAssertEqual(try db.checkpoints().first { $0.idText == long.idText }?.expireTimeMs, 0)
        try db.close()
        assertThrowsStatus(.notFound, "restoring an expired checkpoint") {
            try CheckpointAdmin.restore(loc.location, checkpointId: short.idText)
        }
    }

    func testNameAndLifetimeLimits() throws {
        let loc = memory("cpnames")
        let db = try DB.open(loc.location)
        try db.put(bytes("k"), bytes("v"))
        assertThrowsStatus(.invalidArgument, "64-byte name") { try db.createCheckpoint(name: String(repeating: "n", count: 64)) }
        assertThrowsStatus(.invalidArgument, "64-byte UTF-8 name") { try db.createCheckpoint(name: String(repeating: "é", count: 32)) }
        assertThrowsStatus(.invalidArgument, "64-byte name, async") {
            try db.createCheckpoint(name: String(repeating: "n", count: 64), waitDurable: false)
        }
        assertThrowsStatus(.invalidArgument, "negative lifetime") { try db.createCheckpoint(lifetimeMs: -1) }
        assertThrowsStatus(.invalidArgument, "negative lifetime, async") { try db.createCheckpoint(lifetimeMs: -5, waitDurable: false) }
        try db.flush()
        XCTAssertEqual(try db.checkpoints().count, 0, "refused checkpoints must not be created")
        let name63 = String(repeating: "m", count: 63)
        let ok = try db.createCheckpoint(name: name63)
        let utf = try db.createCheckpoint(name: "é" + String(repeating: "x", count: 61))
        let unnamed = try db.createCheckpoint()
        // (Order is checked in testListIsInCreationOrder.)
        XCTAssertEqual(Set(try db.checkpoints().map { $0.name }), [name63, "é" + String(repeating: "x", count: 61), ""])
        assertThrowsStatus(.invalidArgument, "negative lifetime in refresh") {
            try CheckpointAdmin.refresh(loc.location, id: ok.idText, lifetimeMs: -1)
        }
        XCTAssertEqual(try db.checkpoints().first { $0.idText == ok.idText }?.expireTimeMs, 0)
        // Names need not be unique.
        let twin = try db.createCheckpoint(name: name63)
        XCTAssertNotEqual(twin.idText, ok.idText)
        XCTAssertEqual(Set(try db.checkpoints().map { $0.idText }), Set([ok.idText, utf.idText, unnamed.idText, twin.idText]))
        try db.close()
    }

    /// The list comes in creation order (C-API: "in creation order"), also for checkpoints
    /// created within one millisecond.
    func testListIsInCreationOrder() throws {
        let loc = memory("cporder")
        let db = try DB.open(loc.location)
        var ids: [String] = []
        for i in 0..<40 {
            try db.put(bytes("k\(i)"), bytes("v"))
            ids.append(try db.createCheckpoint(name: "o-\(i)", waitDurable: i % 3 != 0).idText)
        }
        try db.flush()
        let listed = try CheckpointAdmin.list(loc.location)
        // Regression test: list used to sort by (createTimeMs, idText), so checkpoints made in
        // the same millisecond came back in the random order of their UUIDs (fixed in c79ff38).
        XCTAssertEqual(listed.map { $0.name }, (0..<40).map { "o-\($0)" }, "list order")
        XCTAssertEqual(listed.map { $0.idText }, ids)
        let seqs = listed.map { $0.sequence }
        XCTAssertEqual(seqs, seqs.sorted(), "sequences in list order")
        try db.close()
    }

    // MARK: clone destinations

    func testCloneRefusesBadDestinations() throws {
        let loc = directory("shale-cpdest")
        let db = try DB.open(loc.location)
        for i in 0..<100 { try db.put(bytes("k\(i)"), bytes("v\(i)")) }
        let c = try db.createCheckpoint(name: "c")
        try db.close()
        let listBefore = try CheckpointAdmin.list(loc.location)
        let filesBefore = try FileManager.default.subpathsOfDirectory(atPath: loc.location).sorted()
        let stateBefore = try readerContents(loc.location, nil)

        // An existing destination (empty directory, non-empty directory, a file).
        let existingEmpty = directory("shale-cpdest-empty")
        try FileManager.default.createDirectory(atPath: existingEmpty.location, withIntermediateDirectories: false)
        let existingFull = directory("shale-cpdest-full")
        try FileManager.default.createDirectory(atPath: existingFull.location, withIntermediateDirectories: false)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existingFull.location + "/note.txt"))
        let existingFile = directory("shale-cpdest-file")
        try Data("a file".utf8).write(to: URL(fileURLWithPath: existingFile.location))
        for dest in [existingEmpty.location, existingFull.location, existingFile.location] {
            for id in [c.idText, nil] {
                assertThrowsStatus(.invalidArgument, "clone to existing \(dest)") {
                    try CheckpointAdmin.clone(loc.location, checkpointId: id, destination: dest)
                }
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: existingEmpty.location), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: existingFull.location), ["note.txt"])
        XCTAssertEqual(try String(contentsOfFile: existingFile.location, encoding: .utf8), "a file")

        // The source itself, spelled several ways, and places inside it.
        let sourceSpellings = [loc.location, loc.location + "/", "file://" + loc.location, loc.location + "/sst/.."]
        for dest in sourceSpellings {
            assertThrowsStatus(.invalidArgument, "clone onto the source as \(dest)") {
                try CheckpointAdmin.clone(loc.location, checkpointId: c.idText, destination: dest)
            }
        }
        let insides = [loc.location + "/inner", loc.location + "/sst/inner", "file://" + loc.location + "/inner2"]
        for dest in insides {
            assertThrowsStatus(.invalidArgument, "clone inside the source to \(dest)") {
                try CheckpointAdmin.clone(loc.location, checkpointId: c.idText, destination: dest)
            }
        }
        assertThrowsStatus(.invalidArgument, "clone to an empty destination") {
            try CheckpointAdmin.clone(loc.location, checkpointId: c.idText, destination: "")
        }

        // Nothing changed at the source, and no staging directory was left beside it.
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: loc.location).sorted(), filesBefore)
        XCTAssertEqual(try CheckpointAdmin.list(loc.location), listBefore)
        XCTAssertEqual(try readerContents(loc.location, nil), stateBefore)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "/tmp").filter { $0.hasPrefix(".clone-\(getpid())-") }
        XCTAssertEqual(leftovers, [], "staging directories left behind")

        // A good destination still works, and a second clone to it is refused.
        let good = directory("shale-cpdest-good")
        try CheckpointAdmin.clone(loc.location, checkpointId: c.idText, destination: good.location)
        XCTAssertEqual(try readerContents(good.location, nil), stateBefore)
        assertThrowsStatus(.invalidArgument, "clone twice to one place") {
            try CheckpointAdmin.clone(loc.location, checkpointId: c.idText, destination: good.location)
        }
        XCTAssertEqual(try readerContents(good.location, nil), stateBefore)

        // memory:// destinations: existing and the source.
        let msrc = memory("cpdest-src")
        let mdb = try DB.open(msrc.location)
        try mdb.put(bytes("a"), bytes("1"))
        let mc = try mdb.createCheckpoint()
        try mdb.close()
        assertThrowsStatus(.invalidArgument, "memory clone onto itself") {
            try CheckpointAdmin.clone(msrc.location, checkpointId: mc.idText, destination: msrc.location)
        }
        let mdest = memory("cpdest-dst")
        try CheckpointAdmin.clone(msrc.location, checkpointId: mc.idText, destination: mdest.location)
        assertThrowsStatus(.invalidArgument, "memory clone to an existing db") {
            try CheckpointAdmin.clone(msrc.location, checkpointId: mc.idText, destination: mdest.location)
        }
        XCTAssertEqual(try readerContents(mdest.location, nil), [bytes("a"): bytes("1")])
        XCTAssertEqual(try readerContents(msrc.location, nil), [bytes("a"): bytes("1")])
    }

    /// A clone shares nothing the source can later delete: after the source is rewritten,
    /// restored and removed entirely, the clone still reads (directory: hard links).
    func testCloneOutlivesItsSource() throws {
        let loc = directory("shale-cpown")
        let db = try DB.open(loc.location, options: try makeOptions(Self.smallTree))
        var model: KV = [:]
        for i in 0..<4000 {
            let k = bytes("k\(i % 1500)"), v = bytes("v\(i)") + [UInt8](repeating: 1, count: 50)
            try db.put(k, v)
            model[k] = v
        }
        let c = try db.createCheckpoint()
        try db.close()
        let dest = directory("shale-cpown-clone")
        try CheckpointAdmin.clone(loc.location, checkpointId: c.idText, destination: dest.location)
        loc.cleanup()
        XCTAssertFalse(FileManager.default.fileExists(atPath: loc.location))
        let cdb = try DB.open(dest.location)
        XCTAssertEqual(try contents(cdb), model)
        try cdb.close()
    }

    // MARK: restore

    func testRestoreWhileOpenIsBusy() throws {
        for loc in [directory("shale-cpbusy"), memory("cpbusy")] {
            let db = try DB.open(loc.location)
            try db.put(bytes("a"), bytes("1"))
            let c = try db.createCheckpoint(name: "c")
            try db.put(bytes("a"), bytes("2"))
            try db.put(bytes("b"), bytes("3"))
            try db.flush()
            let listBefore = try CheckpointAdmin.list(loc.location)
            assertThrowsStatus(.busy, "restore while open") { try CheckpointAdmin.restore(loc.location, checkpointId: c.idText) }
            if !loc.isMemory {
                assertThrowsStatus(.busy, "restore while open, file://") {
                    try CheckpointAdmin.restore("file://" + loc.location, checkpointId: c.idText)
                }
                assertThrowsStatus(.busy, "restore while open, trailing slash") {
                    try CheckpointAdmin.restore(loc.location + "/", checkpointId: c.idText)
                }
            }
            XCTAssertEqual(try CheckpointAdmin.list(loc.location), listBefore)
            // The handle still works and was not fenced.
            try db.put(bytes("c"), bytes("4"))
            XCTAssertEqual(try contents(db), [bytes("a"): bytes("2"), bytes("b"): bytes("3"), bytes("c"): bytes("4")])
            try db.close()
            // Closed: the restore works.
            try CheckpointAdmin.restore(loc.location, checkpointId: c.idText)
            let db2 = try DB.open(loc.location)
            XCTAssertEqual(try contents(db2), [bytes("a"): bytes("1")])
            try db2.close()
        }
    }

    /// Restore to a checkpoint, write, restore again, then restore the first pre-restore
    /// checkpoint: the database is exactly the newest state before the first restore.
    func testRestoreThenUndo() throws {
        for loc in [directory("shale-cpundo"), memory("cpundo")] {
            let opts = try makeOptions(Self.smallTree)
            var db = try DB.open(loc.location, options: opts)
            var model: KV = [:]
            for i in 0..<2500 { let k = bytes("k\(i % 900)"); let v = bytes("a\(i)"); try db.put(k, v); model[k] = v }
            let early = try db.createCheckpoint(name: "early")
            let earlyState = model
            for i in 0..<2500 {
                let k = bytes("k\(i % 1100)")
                if i % 5 == 0 { try db.delete(k); model[k] = nil } else { let v = bytes("b\(i)"); try db.put(k, v); model[k] = v }
            }
            let late = try db.createCheckpoint(name: "late", waitDurable: false)
            // Writes after the last checkpoint, only in the WAL.
            for i in 0..<50 { let k = bytes("tail\(i)"); try db.put(k, k); model[k] = k }
            let newest = model
            try db.close()

            try CheckpointAdmin.restore(loc.location, checkpointId: early.idText)
            let afterFirst = try CheckpointAdmin.list(loc.location)
            XCTAssertEqual(afterFirst.count, 3)
            XCTAssertEqual(afterFirst.prefix(2).map { $0.idText }, [early.idText, late.idText], "older checkpoints survive a restore")
            guard let pre1 = afterFirst.last, pre1.name.hasPrefix("pre-restore-") else {
                return XCTFail("no pre-restore checkpoint: \(afterFirst.map { $0.name })")
            }
            XCTAssertEqual(try readerContents(loc.location, pre1.idText), newest)
            XCTAssertEqual(try readerContents(loc.location, late.idText).count, newest.count - 50)
            db = try DB.open(loc.location, options: opts)
            XCTAssertEqual(try contents(db), earlyState)
            for i in 0..<300 { try db.put(bytes("after-restore-\(i)"), bytes("x")) }
            try db.close()

            usleep(2000)   // distinct pre-restore names
            try CheckpointAdmin.restore(loc.location, checkpointId: late.idText)
            db = try DB.open(loc.location, options: opts)
            XCTAssertEqual(try contents(db).count, newest.count - 50)
            try db.close()

            try CheckpointAdmin.restore(loc.location, checkpointId: pre1.idText)
            db = try DB.open(loc.location, options: opts)
            let got = try contents(db)
            XCTAssertEqual(got, newest, "\(loc.location): undo gives \(diff(got, newest))")
            // And it keeps working as a database.
            try db.put(bytes("tail0"), bytes("new"))
            try db.close()
            db = try DB.open(loc.location, options: opts)
            XCTAssertEqual(try db.get(bytes("tail0")), bytes("new"))
            let names = try db.checkpoints().map { $0.name }
            XCTAssertEqual(names.filter { $0.hasPrefix("pre-restore-") }.count, 3, "\(names)")
            XCTAssertEqual(Set(names).count, names.count, "pre-restore names should differ: \(names)")
            try db.close()
        }
    }
}
