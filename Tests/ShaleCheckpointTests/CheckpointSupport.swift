import Foundation
import XCTest
@testable import Shale

typealias KV = [[UInt8]: [UInt8]]

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

/// A small deterministic generator, so a failing run can be replayed from its seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// SHALE_TEST_SEED, or a random seed.
func testSeed() -> UInt64 {
    if let s = ProcessInfo.processInfo.environment["SHALE_TEST_SEED"], let n = UInt64(s) { return n }
    return UInt64.random(in: 0...UInt64(UInt32.max))
}

/// A fresh path under /tmp (not created).
func freshTempPath(_ tag: String) -> String {
    "/tmp/\(tag)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
}

func removePath(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

/// A database location on one of the two local backends.
struct CPLocation {
    let location: String
    let isMemory: Bool

    static func memory(_ tag: String) -> CPLocation {
        CPLocation(location: "memory://\(tag)-\(UInt64.random(in: 0...UInt64.max))", isMemory: true)
    }

    static func directory(_ tag: String) -> CPLocation {
        CPLocation(location: freshTempPath(tag), isMemory: false)
    }

    /// A location of the same kind that does not exist yet.
    func sibling(_ tag: String) -> CPLocation {
        isMemory ? .memory(tag) : .directory(tag)
    }

    func cleanup() {
        if isMemory { MemoryStore.drop(String(location.dropFirst("memory://".count))) } else { removePath(location) }
    }
}

/// Runs `body`, which must throw a ShaleError with `status`.
@discardableResult
func assertThrowsStatus<T>(_ status: ShaleStatus, _ what: String = "", file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> T) -> ShaleError? {
    do {
        _ = try body()
        XCTFail("\(what): expected \(status.name), got success", file: file, line: line)
    } catch let e as ShaleError {
        XCTAssertEqual(e.status, status, "\(what): \(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("\(what): expected ShaleError \(status.name), got \(error)", file: file, line: line)
    }
    return nil
}

func makeOptions(_ pairs: [(String, String)]) throws -> Options {
    var o = Options()
    for (k, v) in pairs { try o.set(k, v) }
    return o
}

/// Every entry of a scan; fails if keys are not strictly ascending.
func drain(_ it: DBIterator) throws -> KV {
    var out: KV = [:]
    var last: [UInt8]? = nil
    while try it.next() {
        let k = it.currentKey
        if let l = last, !l.lexicographicallyPrecedes(k) {
            throw ShaleError.internalError("scan out of order: \(hex(l)) then \(hex(k))")
        }
        last = k
        out[k] = it.currentValue
    }
    return out
}

func contents(_ db: DB) throws -> KV { try drain(db.scan()) }

func contents(_ r: Reader) throws -> KV { try drain(r.scan()) }

/// Everything a reader at `checkpointId` (nil = latest durable state) sees.
func readerContents(_ location: String, _ checkpointId: String?) throws -> KV {
    let r = try Reader.open(location, checkpointId: checkpointId)
    defer { r.close() }
    return try contents(r)
}

/// A short description of how two states differ.
func diff(_ got: KV, _ want: KV, limit: Int = 5) -> String {
    var lines: [String] = []
    for (k, v) in want where got[k] != v {
        let g = got[k].map { "\($0.count) bytes \(hex(Array($0.prefix(12))))" } ?? "nothing"
        lines.append("key \(hex(k)): got \(g), want \(v.count) bytes \(hex(Array(v.prefix(12))))")
    }
    for k in got.keys where want[k] == nil { lines.append("key \(hex(k)): got \(got[k]!.count) bytes, want nothing") }
    return "\(lines.count) differences (got \(got.count) keys, want \(want.count)): "
        + lines.sorted().prefix(limit).joined(separator: "; ")
}

/// A thread-safe box.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func update<R>(_ f: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return f(&value) }
}

func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

func be64(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.bigEndian) { Array($0) } }

func fromBE64(_ b: [UInt8]) -> UInt64 { b.prefix(8).reduce(0) { $0 << 8 | UInt64($1) } }

/// Starts a thread running `body`; `join` waits for it.
final class TestThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable () -> Void) {
        let t = Thread { [done] in
            body()
            done.signal()
        }
        t.stackSize = 4 << 20
        t.start()
    }
    func join() { done.wait() }
    /// False if the thread did not finish in time (it is left running).
    func join(timeoutSeconds: Double) -> Bool {
        if done.wait(timeout: .now() + timeoutSeconds) == .timedOut { return false }
        done.signal()
        return true
    }
}
