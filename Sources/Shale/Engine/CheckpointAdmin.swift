#if canImport(Glibc)
import Glibc
#endif

/// Checkpoint operations on a location, open or closed, from any process: list, refresh,
/// delete. Each edit is a read-modify-write of the manifest published with put-if-absent on
/// the next id and retried on conflict, so concurrent editors (and the writer, which merges
/// the checkpoint list from storage) never lose each other's changes. Editing never changes
/// the writer epoch.
public enum CheckpointAdmin {
    static func openStore(_ location: String) throws -> ObjectStore {
        try StoreLocation.open(location, createIfMissing: false)
    }

    static func latest(_ store: ObjectStore) throws -> Manifest {
        guard let m = try ManifestStore(store: store).loadLatest() else {
            throw ShaleError.notFound("no database at \(store.location)")
        }
        return m
    }

    public static func list(_ location: String) throws -> [CheckpointEntry] {
        try list(store: try openStore(location))
    }

    static func list(store: ObjectStore) throws -> [CheckpointEntry] {
        // Creation order: by create time, then sequence; entries written later by the
        // background thread (created without waiting) sort back into place. Full ties keep
        // manifest order.
        try latest(store).checkpoints.enumerated().sorted {
            ($0.element.createTimeMs, $0.element.sequence, $0.offset) < ($1.element.createTimeMs, $1.element.sequence, $1.offset)
        }.map(\.element)
    }

    /// Sets a new lifetime (0 = never expires) counted from now.
    public static func refresh(_ location: String, id: String, lifetimeMs: Int64) throws {
        if lifetimeMs < 0 { throw ShaleError.invalid("checkpoint lifetime \(lifetimeMs) ms is negative") }
        let key = try CheckpointId.parse(id)
        try edit(try openStore(location)) { m in
            let now = wallClockMs()
            guard let i = m.checkpoints.firstIndex(where: { $0.id == key }) else {
                throw ShaleError.notFound("no checkpoint \(id) in \(location)")
            }
            if m.checkpoints[i].isExpired(nowMs: now) {
                throw ShaleError.notFound("checkpoint \(id) in \(location) has expired")
            }
            m.checkpoints[i].expireTimeMs = lifetimeMs > 0 ? now + lifetimeMs : 0
        }
    }

    public static func delete(_ location: String, id: String) throws {
        let key = try CheckpointId.parse(id)
        try edit(try openStore(location)) { m in
            guard let i = m.checkpoints.firstIndex(where: { $0.id == key }) else {
                throw ShaleError.notFound("no checkpoint \(id) in \(location)")
            }
            m.checkpoints.remove(at: i)
        }
    }

    /// Finds a live checkpoint by id text.
    static func find(_ m: Manifest, id: String, location: String) throws -> CheckpointEntry {
        let key = try CheckpointId.parse(id)
        guard let c = m.checkpoints.first(where: { $0.id == key }) else {
            throw ShaleError.notFound("no checkpoint \(id) in \(location)")
        }
        if c.isExpired(nowMs: wallClockMs()) {
            throw ShaleError.notFound("checkpoint \(id) in \(location) has expired")
        }
        return c
    }

    /// Applies `change` to the newest manifest and publishes it as the next version,
    /// retrying from the newest version when another editor got there first.
    static func edit(_ store: ObjectStore, _ change: (inout Manifest) throws -> Void) throws {
        let manifests = ManifestStore(store: store)
        for attempt in 0..<200 {
            var m = try latest(store)
            try change(&m)
            m.id += 1
            m.createTimeMs = wallClockMs()
            if try manifests.tryWrite(m) { return }
            // Lost the race: back off a little (more each time) and edit the newer version.
            if attempt > 3 { sleepMs(min(attempt, 20)) }
        }
        throw ShaleError.busy("\(store.location): the manifest keeps changing; try again")
    }
}

func sleepMs(_ ms: Int) {
    var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    nanosleep(&ts, nil)
}

extension CheckpointAdmin {
    /// Creates a checkpoint of the latest state on storage without taking the writer role, so
    /// a writer running in another process is not fenced. It holds what the WAL holds now:
    /// with `wal_sync=always` every acknowledged write; with other policies, what the writer
    /// has handed to the operating system.
    @discardableResult
    public static func createDetached(_ location: String, name: String?, lifetimeMs: Int64) throws -> CheckpointEntry {
        let name = name ?? ""
        if name.utf8.count > DB.maxCheckpointNameBytes {
            throw ShaleError.invalid("checkpoint name is \(name.utf8.count) bytes; the limit is \(DB.maxCheckpointNameBytes)")
        }
        if lifetimeMs < 0 { throw ShaleError.invalid("checkpoint lifetime \(lifetimeMs) ms is negative") }
        let store = try openStore(location)
        let manifests = ManifestStore(store: store)
        for attempt in 0..<200 {
            // The entry pins the version after `seen`, which has `seen`'s tree exactly (the
            // put-if-absent fails if anyone published in between): its tables hold only writes
            // older than its WAL range, and the sequence is the last write in that range now.
            let seen = try latest(store)
            let state = try LoadedState.load(store: store, manifest: seen, tolerateTornTail: true, memtableBytes: 1 << 20,
                                             readOnly: true)
            let now = wallClockMs()
            let entry = CheckpointEntry(id: CheckpointId.random(), name: name, manifestId: seen.id + 1,
                                        sequence: state.lastSequence, createTimeMs: now,
                                        expireTimeMs: lifetimeMs > 0 ? now + lifetimeMs : 0,
                                        walFrom: seen.walReplayFrom, walTo: max(state.segments.last ?? 0, seen.walReplayFrom),
                                        formatVersion: Manifest.formatVersion)
            var next = seen
            next.id = seen.id + 1
            next.createTimeMs = now
            next.checkpoints.append(entry)
            if try manifests.tryWrite(next) { return entry }
            if attempt > 3 { sleepMs(min(attempt, 20)) }
        }
        throw ShaleError.busy("\(store.location): the manifest keeps changing; try again")
    }
}
