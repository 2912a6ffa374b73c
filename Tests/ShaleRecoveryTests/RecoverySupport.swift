import Foundation
import Shale
import XCTest
#if canImport(Glibc)
import Glibc
#endif

// MARK: - The crash writer's data (must match Sources/shale-crash-writer/main.swift)

enum WriterData {
    static let batchSlots = 16

    static func putValue(_ n: Int) -> [UInt8] {
        let pad = String(repeating: "abcdefghij", count: 100)
        return Array(("v\(n)." + pad.prefix(100 + n % 900)).utf8)
    }

    static func batchValue(_ n: Int, _ i: Int) -> [UInt8] {
        let pad = String(repeating: "0123456789", count: 40)
        return Array(("batch=\(n);i=\(i);" + pad.prefix(50 + (n * 7 + i) % 350)).utf8)
    }

    /// The batch id stored in a batch value, or nil when the value is not one.
    static func batchId(of value: [UInt8]) -> Int? {
        guard let s = String(bytes: value, encoding: .utf8), s.hasPrefix("batch="),
              let semi = s.firstIndex(of: ";") else { return nil }
        return Int(s[s.index(s.startIndex, offsetBy: 6)..<semi])
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

// MARK: - Files and directories

/// A fresh empty directory under the temporary directory.
func makeTempDir(_ tag: String) -> String {
    let base = FileManager.default.temporaryDirectory.path
    let path = "\(base)/shale-recovery-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.removeItem(atPath: path)
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeDir(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

/// Copies a database directory (the whole tree) to a new path.
func copyDir(_ from: String, to: String) throws {
    try? FileManager.default.removeItem(atPath: to)
    try FileManager.default.copyItem(atPath: from, toPath: to)
}

func listDir(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".tmp-") }.sorted()
}

func readFile(_ path: String) -> [UInt8] {
    (FileManager.default.contents(atPath: path).map { [UInt8]($0) }) ?? []
}

func writeFile(_ path: String, _ data: [UInt8]) {
    FileManager.default.createFile(atPath: path, contents: Data(data))
}

/// Where the package root is: walk up from this file to the folder holding Package.swift.
func packageRoot() -> String {
    var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        url = url.deletingLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath
}

/// The crash-writer binary built beside this test bundle (same scratch path), else under the
/// usual scratch folders of the package.
func crashWriterPath() throws -> String {
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["SHALE_CRASH_WRITER"] { candidates.append(env) }
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        // <scratch>/<triple>/debug/shalePackageTests.xctest
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        candidates.append(dir.appendingPathComponent("shale-crash-writer").path)
    }
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("shale-crash-writer").path)
    candidates.append(Bundle.main.bundleURL.appendingPathComponent("shale-crash-writer").path)
    let root = packageRoot()
    for scratch in [".build-recovery", ".build"] {
        candidates.append("\(root)/\(scratch)/debug/shale-crash-writer")
    }
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    throw XCTSkipOrFail("shale-crash-writer binary not found (looked at: \(candidates.joined(separator: ", "))); build it with `swift build --build-tests --scratch-path .build-recovery`")
}

struct XCTSkipOrFail: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

// MARK: - Running the crash writer

/// One run of the crash writer, with stdout and stderr in files.
final class WriterRun {
    let process = Process()
    let outPath: String
    let errPath: String

    init(dir: String, mode: String, seed: UInt64, start: Int, logDir: String) throws {
        let binary = try crashWriterPath()
        let tag = "\(start)-\(UInt32.random(in: 0...UInt32.max))"
        outPath = "\(logDir)/writer-\(tag).out"
        errPath = "\(logDir)/writer-\(tag).err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [dir, mode, String(seed), String(start)]
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func killHard() {
        if process.isRunning { _ = kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    var stdoutLines: [String] {
        String(decoding: readFile(outPath), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    var stderrText: String { String(decoding: readFile(errPath), as: UTF8.self) }

    /// Waits until `pred` holds on the output lines, the process exits, or the time is up.
    @discardableResult
    func wait(timeout: Double, until pred: ([String]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if pred(stdoutLines) { return true }
            if !process.isRunning { return pred(stdoutLines) }
            usleep(5_000)
        }
        return false
    }

    /// Waits for the process to exit; false when it is still running after `timeout`.
    func waitExit(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { return false }
        process.waitUntilExit()
        return true
    }
}

// MARK: - What the writer acknowledged, and what a reopened database must hold

/// The writes of every run so far: what is certainly present, certainly absent, and the write
/// each run had in flight when it died (it may or may not have happened).
struct Ledger {
    enum Op: Equatable {
        case put(Int)
        case del(Int)
        case batch(Int, del: Int?)
    }

    /// Puts that must be present with their value (acknowledged, or seen after a crash).
    var present = Set<Int>()
    /// Put keys that must be absent (deleted, or an in-flight put a recovery did not find).
    var absent = Set<Int>()
    /// Batch slot -> the batch id all five keys must carry.
    var slots: [Int: Int] = [:]
    /// The writes in flight when the runs since the last verification died.
    var inFlight: [Op] = []
    var acknowledged = 0

    /// Folds in the output of one run.
    mutating func absorb(_ lines: [String]) {
        var pending: Op? = nil
        for line in lines {
            let f = line.split(separator: " ").map(String.init)
            if f.first == "try" {
                if f.count == 3, let n = Int(f[2]) {
                    pending = f[1] == "put" ? .put(n) : (f[1] == "del" ? .del(n) : .batch(n, del: nil))
                } else if f.count == 5, f[1] == "batch", let n = Int(f[2]), let d = Int(f[4]) {
                    pending = .batch(n, del: d)
                }
                continue
            }
            guard f.count == 2, let n = Int(f[1]) else { continue }
            switch f[0] {
            case "put":
                present.insert(n); absent.remove(n); acknowledged += 1; pending = nil
            case "del":
                present.remove(n); absent.insert(n); acknowledged += 1; pending = nil
            case "batch":
                slots[n % WriterData.batchSlots] = n
                if case .batch(n, let d?) = pending { present.remove(d); absent.insert(d) }
                acknowledged += 1
                pending = nil
            default: break
            }
        }
        if let pending { inFlight.append(pending) }
    }

    /// Checks the database against the ledger; returns the problems found (empty = fine) and
    /// resolves the in-flight writes from what the database shows.
    mutating func verify(_ db: DB) throws -> [String] {
        var problems: [String] = []
        func get(_ k: String) throws -> [UInt8]? { try db.get(bytes(k)) }

        var inFlightPuts = Set<Int>()
        var inFlightDels = Set<Int>()
        var inFlightBatches: [Int: Int?] = [:]   // batch id -> the put it deletes
        for op in inFlight {
            switch op {
            case .put(let n): inFlightPuts.insert(n)
            case .del(let m): inFlightDels.insert(m)
            case .batch(let n, let d): inFlightBatches[n] = d; if let d { inFlightDels.insert(d) }
            }
        }

        // Every put that must be there, with its value.
        for n in present.sorted() where !inFlightDels.contains(n) {
            let v = try get("k\(n)")
            if v != WriterData.putValue(n) {
                problems.append("k\(n): acknowledged put " + (v == nil ? "is missing" : "has a wrong value"))
            }
        }
        for n in absent.sorted() where !inFlightPuts.contains(n) {
            if try get("k\(n)") != nil { problems.append("k\(n): deleted (or never written) but present") }
        }
        // In-flight puts and deletes: all or nothing, never a wrong value.
        var seenPut: [Int: Bool] = [:]
        for n in inFlightPuts.union(inFlightDels) {
            let v = try get("k\(n)")
            if let v, v != WriterData.putValue(n) { problems.append("k\(n): in-flight write left a wrong value") }
            if v != nil && !present.contains(n) && !inFlightPuts.contains(n) {
                problems.append("k\(n): deleted earlier but present")
            }
            seenPut[n] = v != nil
        }

        // Batches: all five keys of a slot carry one batch id, the acknowledged one or one that
        // was in flight.
        var batchHappened: [Int: Bool] = [:]
        for s in 0..<WriterData.batchSlots {
            var ids: [Int?] = []
            for i in 0..<5 {
                let v = try get("b\(s)-\(i)")
                guard let v else { ids.append(nil); continue }
                guard let id = WriterData.batchId(of: v), v == WriterData.batchValue(id, i) else {
                    problems.append("b\(s)-\(i): value is not a batch value: \(String(decoding: v.prefix(40), as: UTF8.self))")
                    ids.append(-1)
                    continue
                }
                ids.append(id)
            }
            let distinct = Set(ids.map { $0 ?? -2 })
            if distinct.count != 1 {
                problems.append("slot \(s): keys disagree (batch not atomic): \(ids.map { $0.map(String.init) ?? "absent" })")
                continue
            }
            let seen = ids[0]
            let expected = slots[s]
            let candidates = inFlightBatches.keys.filter { $0 % WriterData.batchSlots == s && $0 > (expected ?? -1) }
            if seen == expected {
                for b in candidates { batchHappened[b] = false }
            } else if let seen, candidates.contains(seen) {
                for b in candidates { batchHappened[b] = b <= seen ? (b == seen ? true : nil) : false }
            } else {
                problems.append("slot \(s): holds batch \(seen.map(String.init) ?? "none"), expected \(expected.map(String.init) ?? "none")" +
                                (candidates.isEmpty ? "" : " or in-flight \(candidates.sorted())"))
            }
        }
        for (b, d) in inFlightBatches {
            guard let d, let happened = batchHappened[b], present.contains(d) else { continue }
            // The delete inside an in-flight batch happened exactly when the batch did.
            if happened && seenPut[d] == true { problems.append("batch \(b) applied but its delete of k\(d) did not") }
            if !happened && seenPut[d] == false {
                problems.append("batch \(b) not applied but its delete of k\(d) did")
            }
        }

        // A scan finds nothing else.
        let it = try db.scan()
        while try it.next() {
            let k = String(decoding: it.currentKey, as: UTF8.self)
            if k.hasPrefix("k"), let n = Int(k.dropFirst()) {
                if !(present.contains(n) || inFlightPuts.contains(n)) || it.currentValue != WriterData.putValue(n) {
                    problems.append("scan: unexpected \(k) or wrong value")
                }
            } else if k.hasPrefix("b") {
                continue
            } else {
                problems.append("scan: stray key \(k)")
            }
        }

        // Resolve the in-flight writes: whatever recovery showed is now fixed.
        for (n, there) in seenPut {
            if there { present.insert(n); absent.remove(n) } else { present.remove(n); absent.insert(n) }
        }
        for (b, happened) in batchHappened where happened {
            slots[b % WriterData.batchSlots] = b
        }
        inFlight = []
        return problems
    }
}

// MARK: - Small helpers

extension XCTestCase {
    /// Runs `body` on its own thread; fails (and leaves the thread behind) when it has not
    /// finished after `seconds`, so a hang shows up as a failure instead of a stuck suite.
    func withTimeout(_ seconds: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                     _ body: @escaping @Sendable () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            body()
            done.signal()
        }
        t.stackSize = 8 << 20
        t.start()
        if done.wait(timeout: .now() + seconds) == .timedOut {
            XCTFail("\(what): still running after \(seconds) s (hang)", file: file, line: line)
            return false
        }
        return true
    }
}

func shaleStatus(_ error: Error) -> ShaleStatus? { (error as? ShaleError)?.status }

/// Options for the tests' own databases: small memtables so flushes happen.
func smallOptions(sync: WALSyncPolicy = .always) -> Options {
    var o = Options()
    o.walSync = sync
    o.memtableBytes = 64 << 10
    return o
}

/// The value of a JSON field in statsJSON, as raw text.
func statsField(_ json: String, _ name: String) -> String? {
    guard let r = json.range(of: "\"\(name)\":") else { return nil }
    let rest = json[r.upperBound...]
    if rest.hasPrefix("\"") {
        var out = ""
        var escaped = false
        for ch in rest.dropFirst() {
            if escaped { out.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == "\"" { break }
            out.append(ch)
        }
        return out
    }
    return String(rest.prefix { $0 != "," && $0 != "}" })
}

/// A thread-safe box for results handed out of `withTimeout` bodies.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T
    init(_ v: T) { _value = v }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return _value }
        set { lock.lock(); _value = newValue; lock.unlock() }
    }
}
