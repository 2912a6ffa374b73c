/// Reads and writes manifest versions. A new version is written with put-if-absent on the next
/// id: exactly one editor wins each id, which is what fences a stale writer.
public final class ManifestStore: @unchecked Sendable {
    let store: ObjectStore

    public init(store: ObjectStore) { self.store = store }

    /// Ids of every manifest version present, ascending.
    public func versionIds() throws -> [UInt64] {
        try store.list(prefix: "manifest/").compactMap { Manifest.id(fromPath: $0) }.sorted()
    }

    public func load(_ id: UInt64) throws -> Manifest {
        let path = Manifest.path(id)
        let bytes = try store.get(path)
        var m = try bytes.withUnsafeBytes { try Manifest.decode($0, file: "\(store.location)/\(path)") }
        if m.id != id { throw ShaleError.corruption("\(store.location)/\(path): holds manifest id \(m.id)") }
        m.id = id
        return m
    }

    /// The newest version, or nil for an empty location. Every manifest is published whole
    /// (atomic put-if-absent), so a newest version that fails its checksums is real damage:
    /// it is reported, not skipped.
    public func loadLatest() throws -> Manifest? {
        // A version can vanish between list and read if a collector removes it: list again.
        for _ in 0..<5 {
            guard let newest = try versionIds().last else { return nil }
            do {
                return try load(newest)
            } catch let e as ShaleError where e.status == .notFound {
                continue
            }
        }
        throw ShaleError.busy("\(store.location): manifest versions keep changing under the reader")
    }

    /// Writes `m` as version `m.id`; false when that id is already taken.
    public func tryWrite(_ m: Manifest) throws -> Bool {
        try store.putIfAbsent(Manifest.path(m.id), m.encode())
    }
}
