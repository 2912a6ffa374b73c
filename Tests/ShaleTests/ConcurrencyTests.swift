import Foundation
import XCTest
@testable import Shale

/// Writers, readers and a scanner on one database while memtables flush and compact.
final class ConcurrencyTests: XCTestCase {
    static let writers = 4
    static let keysPerWriter = 50
    static let rounds = 150

    var locations: [TestLocation] = []

    override func tearDown() {
        for l in locations { l.cleanup() }
        locations = []
        super.tearDown()
    }

    static func key(_ w: Int, _ j: Int) -> [UInt8] { bytes("w\(w)-k\(String(format: "%03d", j))") }

    /// Round number first, then filler derived from key and round, so a torn value shows.
    static func value(_ w: Int, _ j: Int, _ round: Int) -> [UInt8] {
        var v: [UInt8] = []
        withUnsafeBytes(of: UInt32(round).littleEndian) { v.append(contentsOf: $0) }
        v += [UInt8](repeating: UInt8(truncatingIfNeeded: w &* 31 &+ j &* 7 &+ round), count: 60 + (round % 5) * 20)
        return v
    }

    /// The round a value holds, or nil when it is not one this test writes for the key.
    static func round(of v: [UInt8], _ w: Int, _ j: Int) -> Int? {
        guard v.count >= 4 else { return nil }
        let r = Int(UInt32(v[0]) | UInt32(v[1]) << 8 | UInt32(v[2]) << 16 | UInt32(v[3]) << 24)
        return value(w, j, r) == v ? r : nil
    }

    static func parse(_ k: [UInt8]) -> (Int, Int)? {
        let s = String(decoding: k, as: UTF8.self)
        let parts = s.dropFirst().split(separator: "-")
        guard s.first == "w", parts.count == 2, let w = Int(parts[0]), let j = Int(parts[1].dropFirst()) else { return nil }
        return (w, j)
    }

    func testOnMemory() throws {
        let l = TestLocation.memory("concurrency")
        locations.append(l)
        try run(l.location)
    }

    func testOnDirectory() throws {
        let l = TestLocation.directory("shale-concurrency")
        locations.append(l)
        try run(l.location)
    }

    func run(_ location: String) throws {
        let opts = try makeOptions([("memtable_bytes", "64KiB")])
        let db = try DB.open(location, options: opts)
        let problems = ProblemLog()
        let acked = AckedRounds(Self.writers)
        let writersDone = ManagedCounter()

        var threads: [BackgroundThread] = []
        for w in 0..<Self.writers {
            threads.append(BackgroundThread {
                do {
                    for r in 1...Self.rounds {
                        if r % 10 == 0 {
                            // Some rounds go in as one batch per writer.
                            let b = WriteBatch()
                            for j in 0..<Self.keysPerWriter { try b.put(Self.key(w, j), Self.value(w, j, r)) }
                            try db.write(b)
                        } else {
                            for j in 0..<Self.keysPerWriter { try db.put(Self.key(w, j), Self.value(w, j, r)) }
                        }
                        acked.set(w, r)
                    }
                } catch {
                    problems.add("writer \(w): \(error)")
                }
                writersDone.bump()
            })
        }
        let readerChecks = ManagedCounter()
        for t in 0..<2 {
            threads.append(BackgroundThread {
                var rng = SplitMix(UInt64(t) + 100)
                var last = [[Int]](repeating: [Int](repeating: 0, count: Self.keysPerWriter), count: Self.writers)
                while writersDone.value < Self.writers && problems.count < 20 {
                    let w = Int.random(in: 0..<Self.writers, using: &rng)
                    let j = Int.random(in: 0..<Self.keysPerWriter, using: &rng)
                    let floor = acked.get(w)
                    do {
                        let v = try db.get(Self.key(w, j))
                        let r = v.flatMap { Self.round(of: $0, w, j) } ?? (v == nil ? 0 : -1)
                        if r < 0 { problems.add("reader \(t): torn or foreign value for w\(w) k\(j)") }
                        if r < last[w][j] { problems.add("reader \(t): w\(w) k\(j) went back from round \(last[w][j]) to \(r)") }
                        if r < floor { problems.add("reader \(t): w\(w) k\(j) at round \(r) after round \(floor) was acknowledged") }
                        last[w][j] = max(last[w][j], r)
                        readerChecks.bump()
                    } catch {
                        problems.add("reader \(t): \(error)")
                    }
                }
            })
        }
        let scans = ManagedCounter()
        threads.append(BackgroundThread {
            var last = [[Int]](repeating: [Int](repeating: 0, count: Self.keysPerWriter), count: Self.writers)
            while writersDone.value < Self.writers && problems.count < 20 {
                do {
                    let it = try db.scan()
                    var prev: [UInt8]? = nil
                    while try it.next() {
                        let k = it.currentKey
                        if let p = prev, compareBytes(p, k) >= 0 { problems.add("scanner: keys out of order or repeated at \(String(decoding: k, as: UTF8.self))") }
                        prev = k
                        guard let (w, j) = Self.parse(k), let r = Self.round(of: it.currentValue, w, j) else {
                            problems.add("scanner: bad entry \(String(decoding: k, as: UTF8.self))")
                            continue
                        }
                        if r < last[w][j] { problems.add("scanner: w\(w) k\(j) went back from round \(last[w][j]) to \(r)") }
                        last[w][j] = r
                    }
                    scans.bump()
                } catch {
                    problems.add("scanner: \(error)")
                }
            }
        })
        for t in threads { t.join() }
        print("concurrency \(location): \(readerChecks.value) reads, \(scans.value) scans, \(try stat(db, "flushes")) flushes, \(try stat(db, "compactions")) compactions, \(try stat(db, "write_stalls")) stalls")
        XCTAssertEqual(problems.all, [], location)
        XCTAssertGreaterThan(readerChecks.value, 100, location)
        XCTAssertGreaterThan(scans.value, 0, location)
        XCTAssertGreaterThan(try stat(db, "flushes"), 0, "\(location): memtables should have flushed during the run")

        func checkFinal(_ db: DB, _ when: String) throws {
            for w in 0..<Self.writers {
                for j in 0..<Self.keysPerWriter {
                    XCTAssertEqual(try db.get(Self.key(w, j)), Self.value(w, j, Self.rounds), "\(location) \(when) w\(w) k\(j)")
                }
            }
            XCTAssertEqual(try scanAll(db).count, Self.writers * Self.keysPerWriter, "\(location) \(when)")
        }
        try checkFinal(db, "at the end")
        try db.close()
        let again = try DB.open(location, options: opts)
        try checkFinal(again, "after reopen")
        try again.close()
    }
}

/// The last round each writer finished (all its keys written and acknowledged).
final class AckedRounds: @unchecked Sendable {
    private let lock = Lock()
    private var rounds: [Int]
    init(_ n: Int) { rounds = [Int](repeating: 0, count: n) }
    func set(_ w: Int, _ r: Int) { lock.withLock { rounds[w] = r } }
    func get(_ w: Int) -> Int { lock.withLock { rounds[w] } }
}
