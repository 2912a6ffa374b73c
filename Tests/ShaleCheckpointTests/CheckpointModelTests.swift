import Foundation
import XCTest
@testable import Shale

/// Random writes interleaved with checkpoint create (sync and async), delete, refresh,
/// close + restore + reopen, clone and reopen, checked against a dictionary per live
/// checkpoint. The memtable is small so flushes, compactions and file deletion run between
/// checkpoints: a checkpoint's files must survive all of them. SHALE_TEST_SEED replays a run.
final class CheckpointModelTests: XCTestCase {
    struct Divergence: Error {}

    func testModelOnMemory() throws {
        try runModel(CPLocation.memory("cpmodel"), seed: testSeed(), steps: 240)
    }

    func testModelOnDirectory() throws {
        try runModel(CPLocation.directory("shale-cpmodel"), seed: testSeed(), steps: 240)
    }

    struct LiveCheckpoint {
        let id: String
        let name: String
        var state: KV
        /// False for an asynchronous checkpoint until a flush or close.
        var durable: Bool
        var expireTimeMs: Int64
    }

    func runModel(_ loc: CPLocation, seed: UInt64, steps: Int) throws {
        let location = loc.location
        print("checkpoint model seed: \(seed) (\(location); replay with SHALE_TEST_SEED=\(seed))")
        var rng = SplitMix(seed)
        let opts = try makeOptions([("memtable_bytes", "64KiB"), ("l0_compaction_trigger", "3"),
                                    ("sst_target_bytes", "256KiB"),
                                    ("compression", ["none", "zstd", "lz4"][Int(seed % 3)])])
        var clones: [(loc: CPLocation, state: KV, from: String)] = []
        defer {
            loc.cleanup()
            for c in clones { c.loc.cleanup() }
        }
        var db: DB? = try DB.open(location, options: opts)
        var model: KV = [:]
        var live: [LiveCheckpoint] = []
        var step = 0
        var op = 0
        var counts: [String: Int] = [:]
        let started = Date()

        func fail(_ msg: String, file: StaticString = #filePath, line: UInt = #line) throws -> Never {
            XCTFail("seed \(seed) step \(step) (\(location)): \(msg)", file: file, line: line)
            throw Divergence()
        }

        func key() -> [UInt8] {
            let n = Int.random(in: 0..<300, using: &rng)
            switch n % 3 {
            case 0: return bytes("k\(n)")
            case 1: return bytes("k\(n / 10)") + [0, UInt8(n & 0xff)]
            default: return bytes(String(format: "key-%05d", n))
            }
        }

        func value() -> [UInt8] {
            op += 1
            let size = Int.random(in: 0..<100, using: &rng) < 4 ? Int.random(in: 2000...5000, using: &rng)
                                                             : Int.random(in: 8...300, using: &rng)
            var v = [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: size)
            let tag = be64(UInt64(op))
            for i in 0..<8 { v[i] = tag[i] }
            return v
        }

        func count(_ what: String) { counts[what, default: 0] += 1 }

        /// The db, every durable live checkpoint and every clone equal their dictionaries,
        /// and the checkpoint list is exactly the live set.
        func verify(_ what: String) throws {
            if let db {
                let got = try contents(db)
                if got != model { try fail("\(what): db differs from the model: \(diff(got, model))") }
            }
            let listed = try CheckpointAdmin.list(location)
            let listedIds = Set(listed.map { $0.idText })
            for c in live where c.durable {
                guard let e = listed.first(where: { $0.idText == c.id }) else {
                    try fail("\(what): checkpoint \(c.id) (\(c.name)) is missing from the list")
                }
                if e.name != c.name { try fail("\(what): checkpoint \(c.id) is named \(e.name), want \(c.name)") }
                if e.expireTimeMs != c.expireTimeMs {
                    try fail("\(what): checkpoint \(c.id) expires at \(e.expireTimeMs), want \(c.expireTimeMs)")
                }
                let r = try Reader.open(location, checkpointId: c.id)
                defer { r.close() }
                let got = try contents(r)
                if got != c.state {
                    try fail("\(what): reader at checkpoint \(c.id) (\(c.name)) differs: \(diff(got, c.state))")
                }
                for (k, v) in c.state {
                    let g = try r.get(k)
                    if g != v { try fail("\(what): reader at \(c.id) get \(hex(k)) gives \(g.map { "\($0.count) bytes" } ?? "nothing")") }
                }
                for _ in 0..<20 {
                    let k = key()
                    if try r.get(k) != c.state[k] { try fail("\(what): reader at \(c.id) get \(hex(k)) differs") }
                }
            }
            let known = Set(live.map { $0.id })
            for id in listedIds where !known.contains(id) {
                try fail("\(what): the list holds checkpoint \(id) the model does not know")
            }
        }

        func verifyClones(_ what: String) throws {
            for c in clones {
                let got = try readerContents(c.loc.location, nil)
                if got != c.state { try fail("\(what): clone \(c.loc.location) of \(c.from) changed: \(diff(got, c.state))") }
            }
        }

        func durableCheckpoint() -> LiveCheckpoint? {
            let d = live.filter { $0.durable }
            return d.isEmpty ? nil : d[Int.random(in: 0..<d.count, using: &rng)]
        }

        while step < steps {
            step += 1
            // A burst of writes.
            for _ in 0..<Int.random(in: 0...60, using: &rng) {
                let r = Int.random(in: 0..<100, using: &rng)
                if r < 65 {
                    let (k, v) = (key(), value())
                    try db!.put(k, v)
                    model[k] = v
                } else if r < 80 {
                    let k = key()
                    try db!.delete(k)
                    model[k] = nil
                } else {
                    let b = WriteBatch()
                    var next = model
                    for _ in 0..<Int.random(in: 1...8, using: &rng) {
                        let k = key()
                        if Bool.random(using: &rng) {
                            let v = value()
                            try b.put(k, v)
                            next[k] = v
                        } else {
                            try b.delete(k)
                            next[k] = nil
                        }
                    }
                    try db!.write(b)
                    model = next
                }
            }

            // One checkpoint-level action.
            let action = Int.random(in: 0..<100, using: &rng)
            var what = ""
            if action < 25 || live.isEmpty {
                what = "create sync"
                let name = Bool.random(using: &rng) ? "cp-\(step)" : ""
                let lifetime: Int64 = Bool.random(using: &rng) ? 0 : 3_600_000
                let before = nowMs()
                let e = try db!.createCheckpoint(name: name.isEmpty ? nil : name, lifetimeMs: lifetime, waitDurable: true)
                if e.idText.count != 36 { try fail("checkpoint id \(e.idText) is not 36 characters") }
                if lifetime > 0 && (e.expireTimeMs < before + lifetime || e.expireTimeMs > nowMs() + lifetime) {
                    try fail("expiry \(e.expireTimeMs) is not create time + \(lifetime)")
                }
                live.append(LiveCheckpoint(id: e.idText, name: name, state: model, durable: true, expireTimeMs: e.expireTimeMs))
            } else if action < 40 {
                what = "create async"
                let e = try db!.createCheckpoint(name: "async-\(step)", lifetimeMs: 0, waitDurable: false)
                live.append(LiveCheckpoint(id: e.idText, name: "async-\(step)", state: model, durable: false, expireTimeMs: 0))
            } else if action < 50 {
                what = "flush"
                try db!.flush()
                for i in live.indices { live[i].durable = true }
            } else if action < 60 {
                guard let c = durableCheckpoint() else { continue }
                what = "delete"
                try CheckpointAdmin.delete(location, id: c.id)
                live.removeAll { $0.id == c.id }
                assertThrowsStatus(.notFound, "reader at deleted checkpoint seed \(seed) step \(step)") {
                    try Reader.open(location, checkpointId: c.id)
                }
                assertThrowsStatus(.notFound, "deleting twice seed \(seed) step \(step)") {
                    try CheckpointAdmin.delete(location, id: c.id)
                }
            } else if action < 70 {
                guard let c = durableCheckpoint() else { continue }
                what = "refresh"
                let lifetime: Int64 = Bool.random(using: &rng) ? 0 : 7_200_000
                let before = nowMs()
                try CheckpointAdmin.refresh(location, id: c.id, lifetimeMs: lifetime)
                let after = nowMs()
                guard let e = try CheckpointAdmin.list(location).first(where: { $0.idText == c.id }) else {
                    try fail("refreshed checkpoint \(c.id) is gone")
                }
                if lifetime == 0 ? e.expireTimeMs != 0 : (e.expireTimeMs < before + lifetime || e.expireTimeMs > after + lifetime) {
                    try fail("refresh to \(lifetime) ms gave expiry \(e.expireTimeMs) (now \(after))")
                }
                let i = live.firstIndex { $0.id == c.id }!
                live[i].expireTimeMs = e.expireTimeMs
            } else if action < 80 {
                what = "close, restore, reopen"
                try db!.close()
                db = nil
                for i in live.indices { live[i].durable = true }
                try verify("before restore")
                guard let c = durableCheckpoint() else {
                    db = try DB.open(location, options: opts)
                    continue
                }
                let before = nowMs()
                try CheckpointAdmin.restore(location, checkpointId: c.id)
                let after = nowMs()
                let listed = try CheckpointAdmin.list(location)
                let added = listed.filter { e in !live.contains { $0.id == e.idText } }
                guard added.count == 1, let pre = added.first else {
                    try fail("restore added \(added.count) checkpoints (\(added.map { $0.name })), want one pre-restore")
                }
                guard pre.name.hasPrefix("pre-restore-"), let ms = Int64(pre.name.dropFirst("pre-restore-".count)),
                      ms >= before - 1, ms <= after + 1 else {
                    try fail("pre-restore checkpoint is named \(pre.name) (restore ran \(before)...\(after))")
                }
                XCTAssertEqual(pre.expireTimeMs, 0, "seed \(seed): a pre-restore checkpoint never expires")
                live.append(LiveCheckpoint(id: pre.idText, name: pre.name, state: model, durable: true, expireTimeMs: 0))
                model = c.state
                try verify("after restore to \(c.name) (closed)")
                db = try DB.open(location, options: opts)
            } else if action < 88 {
                what = "clone"
                try db!.flush()
                for i in live.indices { live[i].durable = true }
                let dest = loc.sibling("cpclone")
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    // The latest durable state.
                    try CheckpointAdmin.clone(location, checkpointId: nil, destination: dest.location)
                    clones.append((dest, model, "latest"))
                } else {
                    let c = durableCheckpoint()!
                    try CheckpointAdmin.clone(location, checkpointId: c.id, destination: dest.location)
                    clones.append((dest, c.state, c.id))
                }
                if try !CheckpointAdmin.list(dest.location).isEmpty {
                    try fail("clone \(dest.location) has checkpoints")
                }
                try verifyClones("after clone")
            } else if action < 94 {
                what = "close, reopen"
                try db!.close()
                for i in live.indices { live[i].durable = true }
                db = try DB.open(location, options: opts)
            } else {
                what = "open a clone as a database"
                guard !clones.isEmpty else { continue }
                let i = Int.random(in: 0..<clones.count, using: &rng)
                let cdb = try DB.open(clones[i].loc.location, options: opts)
                let got = try contents(cdb)
                if got != clones[i].state { try fail("clone \(clones[i].loc.location) opened differs: \(diff(got, clones[i].state))") }
                // The clone is a database of its own: a write there stays there.
                let k = bytes("clone-only-\(step)"), v = value()
                try cdb.put(k, v)
                try cdb.close()
                clones[i].state[k] = v
            }
            count(what)
            // Keep the live set small enough to check after every step.
            while live.count > 8, let victim = live.first(where: { $0.durable }) {
                try CheckpointAdmin.delete(location, id: victim.id)
                live.removeAll { $0.id == victim.id }
                count("delete (trim)")
            }
            try verify("after \(what)")
            if step % 10 == 0 { try verifyClones("after \(what)") }
        }
        try db!.close()
        db = nil
        for i in live.indices { live[i].durable = true }
        try verify("after the final close")
        db = try DB.open(location, options: opts)
        try verify("after the final reopen")
        try db!.close()
        db = nil
        try verifyClones("at the end")
        print("checkpoint model \(location): \(steps) steps, \(op) values, \(clones.count) clones, "
              + "\(live.count) live checkpoints, \(String(format: "%.1f", Date().timeIntervalSince(started))) s; "
              + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}
