/// An open table: its manifest record and its reader.
public final class TableHandle: @unchecked Sendable {
    public let meta: TableMeta
    public let reader: TableReader

    init(meta: TableMeta, reader: TableReader) {
        self.meta = meta
        self.reader = reader
    }
}

/// The tables of one manifest version, opened.
public final class Version: @unchecked Sendable {
    public let manifest: Manifest
    /// levels[0]: newest first; deeper levels sorted by key, not overlapping.
    public let levels: [[TableHandle]]

    init(manifest: Manifest, levels: [[TableHandle]]) {
        self.manifest = manifest
        self.levels = levels
    }

    /// Opens the tables `manifest` names, reusing handles already open in `cache`.
    static func open(_ manifest: Manifest, store: ObjectStore, cache: inout [UInt64: TableHandle]) throws -> Version {
        var levels: [[TableHandle]] = []
        var used: [UInt64: TableHandle] = [:]
        for level in manifest.levels {
            var handles: [TableHandle] = []
            for meta in level {
                let h: TableHandle
                if let c = cache[meta.id] {
                    h = c
                } else {
                    let region: ByteRegion
                    do {
                        region = try store.map(meta.path)
                    } catch let e as ShaleError where e.status == .notFound {
                        throw ShaleError.corruption("\(store.location)/\(meta.path) is named by manifest \(manifest.id) but missing")
                    }
                    h = TableHandle(meta: meta, reader: try TableReader(region: region, name: "\(store.location)/\(meta.path)"))
                    if h.reader.properties.entryCount != Int(meta.entryCount) {
                        throw ShaleError.corruption("\(store.location)/\(meta.path): \(h.reader.properties.entryCount) entries, manifest says \(meta.entryCount)")
                    }
                }
                used[meta.id] = h
                handles.append(h)
            }
            levels.append(handles)
        }
        cache = used
        return Version(manifest: manifest, levels: levels)
    }
}

/// What a read sees: the live memtable, the immutable ones waiting for flush (newest first)
/// and the tables. Immutable; a new one is published after each change.
public final class ReadView: @unchecked Sendable {
    let mem: MemTable
    let imms: [MemTable]
    /// WAL writes loaded read-only (readers), older than the memtables, newer than the tables.
    let runs: [SortedRun]
    let version: Version

    init(mem: MemTable, imms: [MemTable], runs: [SortedRun] = [], version: Version) {
        self.mem = mem
        self.imms = imms
        self.runs = runs
        self.version = version
    }
}
