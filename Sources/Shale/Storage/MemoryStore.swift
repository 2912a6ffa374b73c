/// An in-memory backend (`memory://name`) for tests and scratch databases. Stores of the same
/// name in one process are the same store, so a database can be closed and reopened.
public final class MemoryStore: ObjectStore, @unchecked Sendable {
    public let location: String
    private let lock = Lock()
    private var objects: [String: Object] = [:]

    /// Objects are reference boxes so an appendable file can grow in place.
    final class Object {
        var bytes: [UInt8]
        init(_ b: [UInt8]) { bytes = b }
    }

    private static let registryLock = Lock()
    nonisolated(unsafe) private static var registry: [String: MemoryStore] = [:]

    public init(name: String) { location = "memory://" + name }

    public static func named(_ name: String) -> MemoryStore {
        registryLock.withLock {
            if let s = registry[name] { return s }
            let s = MemoryStore(name: name)
            registry[name] = s
            return s
        }
    }

    /// Forgets a named store (its memory is freed once nothing uses it).
    public static func drop(_ name: String) {
        _ = registryLock.withLock { registry.removeValue(forKey: name) }
    }

    public func put(_ path: String, _ data: [UInt8]) throws {
        lock.withLock { objects[path] = Object(data) }
    }

    public func putIfAbsent(_ path: String, _ data: [UInt8]) throws -> Bool {
        lock.withLock {
            if objects[path] != nil { return false }
            objects[path] = Object(data)
            return true
        }
    }

    private func object(_ path: String) throws -> Object {
        guard let o = lock.withLock({ objects[path] }) else {
            throw ShaleError.notFound("\(location)/\(path) does not exist")
        }
        return o
    }

    public func get(_ path: String, range: Range<Int>?) throws -> [UInt8] {
        let o = try object(path)
        return lock.withLock {
            let b = o.bytes
            guard let r = range else { return b }
            let lo = min(max(r.lowerBound, 0), b.count)
            let hi = min(max(r.upperBound, lo), b.count)
            return Array(b[lo..<hi])
        }
    }

    public func map(_ path: String) throws -> ByteRegion { ByteRegion(copying: try get(path, range: nil)) }

    public func size(_ path: String) throws -> Int {
        let o = try object(path)
        return lock.withLock { o.bytes.count }
    }

    public func list(prefix: String) throws -> [String] {
        lock.withLock { objects.keys.filter { $0.hasPrefix(prefix) }.sorted() }
    }

    public func delete(_ path: String) throws {
        _ = lock.withLock { objects.removeValue(forKey: path) }
    }

    private let fence = FenceWord.inMemory()
    public func fenceWord() throws -> FenceWord { fence }

    public func createAppendable(_ path: String) throws -> AppendableFile? {
        let o: Object? = lock.withLock {
            if objects[path] != nil { return nil }
            let o = Object([])
            objects[path] = o
            return o
        }
        guard let o else { throw ShaleError.io("\(location)/\(path) already exists") }
        return MemoryAppendableFile(store: self, object: o)
    }

    public func sync() throws {}

    /// Appends under the store's lock; returns the object's new size.
    fileprivate func append(_ o: Object, _ data: UnsafeRawBufferPointer) -> Int {
        lock.withLock {
            o.bytes.append(contentsOf: data)
            return o.bytes.count
        }
    }
}

final class MemoryAppendableFile: AppendableFile {
    private let store: MemoryStore
    private let object: MemoryStore.Object
    private(set) var size: Int

    init(store: MemoryStore, object: MemoryStore.Object) {
        self.store = store
        self.object = object
        self.size = store.count(of: object)
    }

    func append(_ data: UnsafeRawBufferPointer) throws { size = store.append(object, data) }
    func sync() throws {}
    func close() throws {}
}

extension MemoryStore {
    fileprivate func count(of o: Object) -> Int { lock.withLock { o.bytes.count } }
}
