// A writer for crash tests: it writes forever and reports each write on stdout only after the
// call returned (so every printed line is an acknowledged write). Tests kill it with SIGKILL
// and check what a reopen finds.
//
//   shale-crash-writer DIR MODE SEED [START]
//
// MODE: puts    single puts only
//       batches mostly atomic batches, some puts and deletes
//       mixed   puts, batches and deletes
// START: the first operation number (tests give each run its own range so keys never repeat).
//
// Operations, with n the operation number (START, START+1, ...):
//   put n    key "k<n>"  value putValue(n)
//   batch n  keys "b<n % 16>-<i>" for i in 0..<5, value batchValue(n, i): a batch overwrites
//            the slot of earlier batches, and all five keys always carry the same batch id
//   del m    key "k<m>" of an earlier acknowledged put of this run was deleted
// Output lines: "put <n>", "batch <n>", "del <m>" once the call returned; before each call a
// "try ..." line names the operation about to start ("try put <n>", "try del <m>",
// "try batch <n>" or "try batch <n> del <m>"), so a test knows the one write in flight. "ready" is printed
// after the database opened. Lines are written with write(2), unbuffered. Any error: a line "error: ..." on stderr and exit status 2.
import Shale
#if canImport(Glibc)
import Glibc
#endif

func putValue(_ n: Int) -> [UInt8] {
    let pad = String(repeating: "abcdefghij", count: 100)
    return Array(("v\(n)." + pad.prefix(100 + n % 900)).utf8)
}

func batchValue(_ n: Int, _ i: Int) -> [UInt8] {
    let pad = String(repeating: "0123456789", count: 40)
    return Array(("batch=\(n);i=\(i);" + pad.prefix(50 + (n * 7 + i) % 350)).utf8)
}

let batchSlots = 16

/// xorshift64*: deterministic from the seed.
struct Rng {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Writes a whole line straight to a file descriptor: nothing is left in a stdio buffer, so a
/// line is visible to the parent the moment the call returns.
func emit(_ fd: Int32, _ line: String) {
    var bytes = Array((line + "\n").utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            exit(3)
        }
        done += n
    }
    bytes.removeAll()
}

func say(_ line: String) { emit(1, line) }

func fail(_ message: String) -> Never {
    emit(2, "error: \(message)")
    exit(2)
}

let args = CommandLine.arguments
guard args.count == 4 || args.count == 5, let seed = UInt64(args[3]) else {
    emit(2, "usage: shale-crash-writer DIR puts|batches|mixed SEED [START]")
    exit(64)
}
let dir = args[1]
let mode = args[2]
guard ["puts", "batches", "mixed"].contains(mode) else { fail("unknown mode \(mode)") }
let start = args.count == 5 ? (Int(args[4]) ?? 0) : 0

var options = Options()
do {
    try options.set("wal_sync", "always")
    try options.set("memtable_bytes", "64KiB")
} catch {
    fail("\(error)")
}

let db: DB
do {
    db = try DB.open(dir, options: options)
} catch {
    fail("open \(dir): \(error)")
}
say("ready")

var rng = Rng(seed: seed)
var acknowledgedPuts: [Int] = []
var n = start
while true {
    let roll = rng.below(100)
    let op: String
    switch mode {
    case "puts": op = "put"
    case "batches": op = roll < 70 ? "batch" : (roll < 85 ? "put" : "del")
    default: op = roll < 55 ? "put" : (roll < 80 ? "batch" : "del")
    }
    do {
        switch op {
        case "batch":
            let b = WriteBatch()
            for i in 0..<5 { try b.put(Array("b\(n % batchSlots)-\(i)".utf8), batchValue(n, i)) }
            // Some batches also delete an earlier put: the delete is part of the atomic group.
            var deleted: Int? = nil
            if !acknowledgedPuts.isEmpty && rng.below(4) == 0 {
                let idx = rng.below(acknowledgedPuts.count)
                deleted = acknowledgedPuts.remove(at: idx)
                try b.delete(Array("k\(deleted!)".utf8))
            }
            say(deleted.map { "try batch \(n) del \($0)" } ?? "try batch \(n)")
            try db.write(b)
            say("batch \(n)")
            if let d = deleted { say("del \(d)") }
        case "del" where !acknowledgedPuts.isEmpty:
            let idx = rng.below(acknowledgedPuts.count)
            let m = acknowledgedPuts.remove(at: idx)
            say("try del \(m)")
            try db.delete(Array("k\(m)".utf8))
            say("del \(m)")
        default:
            say("try put \(n)")
            try db.put(Array("k\(n)".utf8), putValue(n))
            acknowledgedPuts.append(n)
            say("put \(n)")
        }
    } catch {
        fail("operation \(n) (\(op)): \(error)")
    }
    n += 1
}
