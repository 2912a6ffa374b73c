#if canImport(Glibc)
import Glibc
#endif

/// Cloning: a new, independent database from a checkpoint or from the latest durable state.
extension CheckpointAdmin {
    /// Builds the clone in a staging place and publishes it at once (a rename for a local
    /// directory; the manifest written last elsewhere). Tables are hard-linked on the same
    /// local filesystem and copied otherwise; WAL writes become tables. The clone shares no
    /// file the source can later delete, so it is a full, self-contained copy.
    public static func clone(_ source: String, checkpointId: String?, destination: String) throws {
        if let id = checkpointId { _ = try CheckpointId.parse(id) }
        if destination.isEmpty { throw ShaleError.invalid("clone destination is empty") }
        let src = try openStore(source)
        let srcCanon = OpenRegistry.canonical(source)
        let destCanon = OpenRegistry.canonical(destination)
        if srcCanon == destCanon { throw ShaleError.invalid("clone destination \(destination) is the source") }
        if destCanon.hasPrefix(srcCanon + "/") {
            throw ShaleError.invalid("clone destination \(destination) is inside the source \(source)")
        }
        let reader = try Reader.open(source, checkpointId: checkpointId)
        if let c = reader.checkpoint { try checkPinnedTables(reader.view.version.manifest, upTo: c, location: source) }
        let current = try latest(src)
        let epoch = current.writerEpoch + 1
        let tree = reader.view.version

        var m = Manifest()
        m.id = 1
        m.writerEpoch = epoch
        m.createTimeMs = wallClockMs()
        m.levels = tree.manifest.levels
        m.nextTableNumber = 1
        m.flushedSequence = reader.sequence
        m.walReplayFrom = 1

        if let localSrc = src as? LocalDirectoryStore, !destination.hasPrefix("memory://") {
            var dest = destination
            if dest.hasPrefix("file://") { dest = String(dest.dropFirst("file://".count)) }
            if access(dest, F_OK) == 0 { throw ShaleError.invalid("clone destination \(destination) already exists") }
            let parent = dest.contains("/") ? String(dest[..<dest.lastIndex(of: "/")!]) : "."
            removeAbandonedStaging(in: parent.isEmpty ? "/" : parent)
            let staging = (parent.isEmpty ? "" : parent) + "/.clone-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let store = try LocalDirectoryStore(root: staging, createIfMissing: true)
            do {
                try Syscalls.mkdir(staging + "/sst")
                for t in tree.manifest.allTables {
                    // A hard link where the filesystem allows, a copy otherwise (another
                    // filesystem): either way the clone's file outlives the source's.
                    let linked = (try? Syscalls.link(localSrc.full(t.path), store.full(t.path))) ?? false
                    if !linked { try store.put(t.path, try src.get(t.path)) }
                }
                try Syscalls.fsyncDirectory(staging + "/sst")
                try finishClone(into: store, manifest: &m, view: reader.view, epoch: epoch)
                try Syscalls.rename(staging, dest)
                try Syscalls.fsyncDirectory(parent.isEmpty ? "/" : parent)
            } catch {
                removeTree(staging)
                throw error
            }
            return
        }
        // Any other pair of backends: copy objects; the manifest, written last, publishes.
        let dst = try StoreLocation.open(destination, createIfMissing: true)
        if !(try dst.list(prefix: "")).isEmpty {
            throw ShaleError.invalid("clone destination \(destination) already exists")
        }
        for t in tree.manifest.allTables {
            if try !dst.putIfAbsent(t.path, try src.get(t.path)) {
                throw ShaleError.invalid("clone destination \(destination) already has \(t.path)")
            }
        }
        try finishClone(into: dst, manifest: &m, view: reader.view, epoch: epoch)
    }

    /// Writes the WAL part of the state as tables and the clone's first manifest.
    private static func finishClone(into store: ObjectStore, manifest m: inout Manifest, view: ReadView, epoch: UInt64) throws {
        let tables = try writeTables(of: view, to: store, epoch: epoch, counter: &m.nextTableNumber)
        m.levels[0].insert(contentsOf: tables, at: 0)
        guard try ManifestStore(store: store).tryWrite(m) else {
            throw ShaleError.invalid("clone destination \(store.location) already holds a database")
        }
        try store.sync()
    }

    /// Removes staging directories of clones whose process is gone (killed mid-clone).
    static func removeAbandonedStaging(in dir: String) {
        for name in (try? Syscalls.listDirectory(dir)) ?? [] where name.hasPrefix(".clone-") {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[1]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { removeTree(dir + "/" + name) }
        }
    }

    /// Best-effort removal of a staging directory after a failure.
    static func removeTree(_ path: String) {
        for name in (try? Syscalls.listDirectory(path)) ?? [] {
            let p = path + "/" + name
            if Syscalls.isDirectory(p) { removeTree(p) } else { unlink(p) }
        }
        rmdir(path)
    }
}
