import Foundation
import Shale
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A second writer fences the first: the old handle fails with FENCED on its next write, the
/// new one sees everything the old one acknowledged, and nothing gets damaged.
final class FencingTests: XCTestCase {
    static func value(_ who: String, _ i: Int) -> [UInt8] {
        bytes("\(who)-value-\(i)-" + String(repeating: "z", count: 150 + i % 200))
    }

    /// A writes, B opens, A fails; B has A's writes; B writes; both close; a reopen has both.
    func fencingScenario(_ location: String) throws {
        let a = try DB.open(location, options: smallOptions())
        var aKeys: [Int] = []
        // Enough to flush a few tables, and a live memtable of unflushed writes.
        for i in 0..<600 {
            try a.put(bytes("a\(i)"), Self.value("a", i))
            aKeys.append(i)
        }
        try a.delete(bytes("a5"))
        aKeys.removeAll { $0 == 5 }

        let b = try DB.open(location, options: smallOptions())
        XCTAssertThrowsError(try a.put(bytes("a-late"), bytes("x"))) { e in
            XCTAssertEqual(shaleStatus(e), .fenced, "A's next put after B opened: \(e)")
        }
        for i in aKeys {
            XCTAssertEqual(try b.get(bytes("a\(i)")), Self.value("a", i), "B must see A's acknowledged a\(i)")
        }
        XCTAssertNil(try b.get(bytes("a5")), "A's acknowledged delete")

        for i in 0..<400 { try b.put(bytes("b\(i)"), Self.value("b", i)) }
        // The fence is sticky: puts, deletes and batches on A all fail.
        XCTAssertThrowsError(try a.put(bytes("a-later"), bytes("x"))) { XCTAssertEqual(shaleStatus($0), .fenced, "\($0)") }
        XCTAssertThrowsError(try a.delete(bytes("a1"))) { XCTAssertEqual(shaleStatus($0), .fenced, "\($0)") }
        let batch = WriteBatch()
        try batch.put(bytes("a-batch"), bytes("x"))
        XCTAssertThrowsError(try a.write(batch)) { XCTAssertEqual(shaleStatus($0), .fenced, "\($0)") }
        // A still reads what it had.
        XCTAssertEqual(try a.get(bytes("a1")), Self.value("a", 1))

        // Closing A may report the fence but must not touch B's state.
        do { try a.close() } catch { XCTAssertEqual(shaleStatus(error), .fenced, "closing the fenced handle: \(error)") }
        for i in 0..<400 where i % 37 == 0 { XCTAssertEqual(try b.get(bytes("b\(i)")), Self.value("b", i)) }
        try b.put(bytes("b-after-a-closed"), bytes("ok"))
        try b.close()

        let c = try DB.open(location, options: smallOptions())
        for i in aKeys { XCTAssertEqual(try c.get(bytes("a\(i)")), Self.value("a", i), "a\(i) after reopen") }
        XCTAssertNil(try c.get(bytes("a5")))
        for i in 0..<400 { XCTAssertEqual(try c.get(bytes("b\(i)")), Self.value("b", i), "b\(i) after reopen") }
        XCTAssertEqual(try c.get(bytes("b-after-a-closed")), bytes("ok"))
        for k in ["a-late", "a-later", "a-batch"] { XCTAssertNil(try c.get(bytes(k)), "\(k) was refused with FENCED") }
        let it = try c.scan()
        var n = 0
        while try it.next() { n += 1 }
        XCTAssertEqual(n, aKeys.count + 400 + 1, "a scan finds exactly A's and B's keys")
        try c.close()
    }

    func testSecondWriterFencesFirstOnDirectory() throws {
        let dir = makeTempDir("fence-dir")
        defer { removeDir(dir) }
        try fencingScenario(dir)
    }

    func testSecondWriterFencesFirstInMemory() throws {
        let name = "fence-\(UInt32.random(in: 0...UInt32.max))"
        defer { MemoryStore.drop(name) }
        try fencingScenario("memory://\(name)")
    }

    /// A is fenced while it has nothing more to write: closing it (which would flush its
    /// memtable) must neither fail in a damaging way nor disturb B.
    func testClosingFencedWriterWithoutFurtherWrites() throws {
        let dir = makeTempDir("fence-close")
        defer { removeDir(dir) }
        let a = try DB.open(dir, options: smallOptions())
        for i in 0..<300 { try a.put(bytes("a\(i)"), Self.value("a", i)) }
        let b = try DB.open(dir, options: smallOptions())
        // Regression: close used to seal A's segment and create the next segment id, which B
        // already owns, and report IO_ERROR "File exists (EEXIST)".
        do { try a.close() } catch {
            XCTAssertEqual(shaleStatus(error), .fenced, "closing the fenced handle: \(error)")
        }
        for i in 0..<300 { XCTAssertEqual(try b.get(bytes("a\(i)")), Self.value("a", i)) }
        for i in 0..<300 { try b.put(bytes("b\(i)"), Self.value("b", i)) }
        try b.close()
        let c = try DB.open(dir)
        for i in 0..<300 {
            XCTAssertEqual(try c.get(bytes("a\(i)")), Self.value("a", i))
            XCTAssertEqual(try c.get(bytes("b\(i)")), Self.value("b", i))
        }
        try c.close()
    }

    /// Writes racing the second open from other threads: every put that returned OK is in B,
    /// every put that failed failed with FENCED.
    func testConcurrentWritersDuringFencing() throws {
        let dir = makeTempDir("fence-race")
        defer { removeDir(dir) }
        let a = try DB.open(dir, options: smallOptions())
        let acked = Box<[String]>([])
        let badErrors = Box<[String]>([])
        let stop = Box(false)
        let group = DispatchGroup()
        for t in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                var i = 0
                while !stop.value {
                    let k = "t\(t)-\(i)"
                    do {
                        try a.put(bytes(k), FencingTests.value(k, i))
                        acked.value.append(k)
                    } catch {
                        if shaleStatus(error) != .fenced { badErrors.value.append("\(k): \(error)") }
                        break
                    }
                    i += 1
                }
                group.leave()
            }
        }
        usleep(150_000)
        let b = try DB.open(dir, options: smallOptions())
        usleep(50_000)
        stop.value = true
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success, "writer threads of A did not stop")
        XCTAssertEqual(badErrors.value, [])
        XCTAssertGreaterThan(acked.value.count, 0)
        var missing: [String] = []
        for k in acked.value {
            let i = Int(k.split(separator: "-").last!)!
            if try b.get(bytes(k)) != FencingTests.value(k, i) { missing.append(k) }
        }
        XCTAssertEqual(missing, [], "puts A acknowledged but B does not have")
        try? a.close()
        try b.close()
    }

    /// Cross-process: the crash writer runs; opening its directory here fences it. It must
    /// stop acknowledging (and exit with the FENCED error), and everything it acknowledged is
    /// visible here.
    func testOpeningFencesWriterProcess() throws {
        let dir = makeTempDir("fence-proc")
        let logs = makeTempDir("fence-proc-logs")
        defer { removeDir(dir); removeDir(logs) }
        for (round, mode) in ["mixed", "puts", "batches"].enumerated() {
            let run = try WriterRun(dir: dir, mode: mode, seed: UInt64(100 + round), start: round * 1_000_000, logDir: logs)
            defer { run.killHard() }
            let gotSome = run.wait(timeout: 20) { lines in ackCount(lines) >= 40 }
            XCTAssertTrue(gotSome, "writer did not acknowledge writes: \(run.stderrText)")

            let db = try DB.open(dir)
            let ackedAtOpen = ackCount(run.stdoutLines)
            // The writer's next write fails: it exits with the error.
            let exited = run.waitExit(timeout: 15)
            XCTAssertTrue(exited, "the fenced writer kept running")
            if !exited { run.killHard() }
            let lines = run.stdoutLines
            let ackedTotal = ackCount(lines)
            // Between our open and its next fence check the writer finishes at most the write
            // it had in flight.
            XCTAssertLessThanOrEqual(ackedTotal - ackedAtOpen, 1, "the writer kept acknowledging after it was fenced")
            XCTAssertEqual(run.process.terminationStatus, 2)
            XCTAssertTrue(run.stderrText.contains("FENCED"), "writer's error: \(run.stderrText)")

            print("FencingTests: writer \(mode) acknowledged \(ackedAtOpen) writes before the open, \(ackedTotal) in all; it said: \(run.stderrText.prefix(200))")
            var ledger = Ledger()
            ledger.absorb(lines)
            // Everything the writer acknowledged is here (a fresh ledger per round: the checks
            // cover this run's keys and the batch slots it wrote).
            let problems = try ledger.verifyRun(db)
            XCTAssertEqual(problems, [], "round \(round) (\(mode))")
            try db.close()
        }
    }
}

/// Acknowledged writes in the writer's output (a batch and the delete inside it count once).
func ackCount(_ lines: [String]) -> Int {
    var n = 0
    var previousWasBatch = false
    for l in lines {
        if l.hasPrefix("put ") || l.hasPrefix("batch ") { n += 1 }
        else if l.hasPrefix("del ") && !previousWasBatch { n += 1 }
        previousWasBatch = l.hasPrefix("batch ")
    }
    return n
}

extension Ledger {
    /// Like `verify`, but only for the keys this ledger knows (earlier runs' keys may exist).
    mutating func verifyRun(_ db: DB) throws -> [String] {
        var problems: [String] = []
        let inFlightDel: Int? = inFlight.compactMap { op -> Int? in
            switch op { case .del(let m): return m; case .batch(_, let d): return d; default: return nil }
        }.first
        for n in present.sorted() where n != inFlightDel {
            if try db.get(bytes("k\(n)")) != WriterData.putValue(n) { problems.append("k\(n): acknowledged put missing or wrong") }
        }
        for n in absent.sorted() where try db.get(bytes("k\(n)")) != nil { problems.append("k\(n): acknowledged delete undone") }
        let inFlightBatch: Int? = inFlight.compactMap { op -> Int? in
            if case .batch(let b, _) = op { return b }
            return nil
        }.first
        for (s, id) in slots {
            var ids = Set<Int?>()
            for i in 0..<5 {
                let v = try db.get(bytes("b\(s)-\(i)"))
                ids.insert(v.flatMap { WriterData.batchId(of: $0) })
            }
            if ids.count != 1 { problems.append("slot \(s): not atomic \(ids)") }
            else if let seen = ids.first!, seen != id, seen != inFlightBatch {
                problems.append("slot \(s): batch \(seen), acknowledged \(id)")
            } else if ids.first! == nil { problems.append("slot \(s): acknowledged batch \(id) missing") }
        }
        return problems
    }
}

/// The fenced writer rolls to a new WAL segment while the new writer is opening: after the new
/// writer measured the old one's segments and before it lists them for replay. Uses the fault
/// injector as a hook to run the old writer's put at exactly that moment.
final class FencingRaceTests: XCTestCase {
    override func tearDown() {
        Syscalls.faultInjector = nil
        super.tearDown()
    }

    func testOldWriterRollsSegmentDuringNewOpen() throws {
        let dir = makeTempDir("fence-roll-race")
        let crashCopy = makeTempDir("fence-roll-race-copy")
        defer { removeDir(dir); removeDir(crashCopy) }
        let a = try DB.open(dir, options: smallOptions())
        // Fill A's memtable so that its next put switches to a new segment.
        var aAcked: [Int] = []
        var i = 0
        repeat {
            try a.put(bytes("a\(i)"), FencingTests.value("a", i))
            aAcked.append(i)
            i += 1
            // Let earlier flushes finish so nothing else is in flight.
            while statsField(try a.statsJSON(), "immutable_memtables") != "0" { usleep(5_000) }
        } while Int(statsField(try a.statsJSON(), "memtable_bytes") ?? "0")! < 64 << 10
        let segments = listDir("\(dir)/wal").compactMap { WALFormat.segmentId(fromName: "wal/" + $0) }
        let next = try XCTUnwrap(segments.max()) + 1
        let nextPath = "/" + WALFormat.segmentName(next)

        let main = pthread_self()
        let fired = Box(false)
        let aBlocked = DispatchSemaphore(value: 0)
        let releaseA = DispatchSemaphore(value: 0)
        let releaseBg = DispatchSemaphore(value: 0)
        let writesToNext = Box(0)
        let aResult = Box<String>("not run")
        let aDone = DispatchSemaphore(value: 0)
        Syscalls.faultInjector = { call, path in
            let onMain = pthread_equal(pthread_self(), main) != 0
            if call == .write && path.hasSuffix(nextPath) && !onMain {
                writesToNext.value += 1
                if writesToNext.value == 2 {   // A's record, after the segment header
                    aBlocked.signal()
                    releaseA.wait()
                }
            }
            if call == .link && path.contains("/manifest/") {
                if onMain && !fired.value {
                    // B measured the segments and is about to claim its manifest: A rolls now.
                    fired.value = true
                    Thread.detachNewThread {
                        do {
                            try a.put(bytes("a-race"), bytes("refused"))
                            aResult.value = "ok"
                        } catch {
                            aResult.value = "\(error)"
                        }
                        aDone.signal()
                    }
                    if aBlocked.wait(timeout: .now() + 10) == .timedOut { print("FencingRaceTests: A never reached its record write") }
                } else if !onMain {
                    // A's background flush must not claim a manifest id before B.
                    _ = releaseBg.wait(timeout: .now() + 10)
                }
            }
            return nil
        }
        // B's memtable is large: it holds the replay and its own writes without a flush, so
        // the WAL is still what recovery reads when B crashes.
        var bOptions = smallOptions()
        bOptions.memtableBytes = 16 << 20
        let b = try DB.open(dir, options: bOptions)
        releaseA.signal()
        XCTAssertEqual(aDone.wait(timeout: .now() + 10), .success)
        releaseBg.signal()
        releaseBg.signal()
        Syscalls.faultInjector = nil
        XCTAssertTrue(fired.value)
        let newest = try XCTUnwrap(listDir("\(dir)/manifest").last)
        let bm = try readFile("\(dir)/manifest/\(newest)").withUnsafeBytes { try Manifest.decode($0, file: newest) }
        print("FencingRaceTests: A rolled to segment \(next); B's manifest \(bm.id) bounds \(bm.walBounds.map { "\($0.segment):\($0.length)" }); wal/ = \(listDir("\(dir)/wal")); A: \(aResult.value)")
        XCTAssertTrue(aResult.value.contains("FENCED"), "A's racing put: \(aResult.value)")

        for j in 0..<20 { try b.put(bytes("b\(j)"), FencingTests.value("b", j)) }
        for k in aAcked { XCTAssertEqual(try b.get(bytes("a\(k)")), FencingTests.value("a", k)) }
        // B crashes now: its acknowledged writes are durable (wal_sync=always).
        try copyDir(dir, to: crashCopy)
        _ = try? a.close()
        try b.close()

        // BUG: the segment A created in that window (after B measured the unsealed segments,
        // before B listed them for replay) gets no bound in B's manifest. A's refused record
        // lands in it after B opened, with the sequence number B then uses for its own first
        // write, so once B crashes the database no longer opens: CORRUPTION "wal/<B's
        // segment>: sequence N is not after N".
        let c: DB
        do {
            c = try DB.open(crashCopy)
        } catch {
            XCTFail("reopen after the new writer crashed: \(error)")
            return
        }
        for k in aAcked { XCTAssertEqual(try c.get(bytes("a\(k)")), FencingTests.value("a", k), "a\(k)") }
        for j in 0..<20 { XCTAssertEqual(try c.get(bytes("b\(j)")), FencingTests.value("b", j), "b\(j)") }
        XCTAssertNil(try c.get(bytes("a-race")), "a put refused with FENCED reappeared after recovery")
        try c.close()
    }
}
