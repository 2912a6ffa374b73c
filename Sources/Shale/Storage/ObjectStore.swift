/// Where a database keeps its files. Paths are relative ("wal/000…1.wal") with `/` separators.
///
/// Every object is written once and never changed, with one exception the local and memory
/// backends allow: an appendable file (`openAppendable`) for the live WAL segment, so a group
/// commit is one append plus one fsync instead of one object per flush.
public protocol ObjectStore: AnyObject, Sendable {
    /// A human-readable location, used in messages.
    var location: String { get }

    /// Writes the whole object atomically (replacing any previous one).
    func put(_ path: String, _ data: [UInt8]) throws

    /// Writes the object only if no object exists at `path`; false if one did.
    /// This is the compare-and-swap that manifest versions are built on.
    func putIfAbsent(_ path: String, _ data: [UInt8]) throws -> Bool

    /// Reads the whole object, or the byte `range` of it. Throws `.notFound` when absent.
    func get(_ path: String, range: Range<Int>?) throws -> [UInt8]

    /// Maps the whole object for reading; the region stays valid while referenced.
    func map(_ path: String) throws -> ByteRegion

    /// Object size in bytes. Throws `.notFound` when absent.
    func size(_ path: String) throws -> Int

    /// Paths that start with `prefix`, sorted.
    func list(prefix: String) throws -> [String]

    /// Deletes the object; deleting an absent object is not an error.
    func delete(_ path: String) throws

    /// Creates a new file to append to; throws when one exists at `path` (a new segment must
    /// never be shared with another writer). Nil when the backend has no appendable files.
    func createAppendable(_ path: String) throws -> AppendableFile?

    /// Makes everything written durable where the backend buffers (directory entries).
    func sync() throws

    /// The shared writer-epoch word of this location (see `FenceWord`).
    func fenceWord() throws -> FenceWord
}

extension ObjectStore {
    public func get(_ path: String) throws -> [UInt8] { try get(path, range: nil) }

    public func exists(_ path: String) throws -> Bool {
        do {
            _ = try size(path)
            return true
        } catch let e as ShaleError where e.status == .notFound {
            return false
        }
    }
}

/// A file that grows by appends (the live WAL segment).
public protocol AppendableFile: AnyObject {
    /// Bytes written so far.
    var size: Int { get }
    func append(_ data: UnsafeRawBufferPointer) throws
    /// Makes every append so far durable.
    func sync() throws
    func close() throws
}

/// Read-only bytes that stay valid while this object lives (an mmap, or heap memory).
public final class ByteRegion: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let release: (@Sendable (UnsafeRawBufferPointer) -> Void)?

    public init(bytes: UnsafeRawBufferPointer, release: (@Sendable (UnsafeRawBufferPointer) -> Void)?) {
        self.bytes = bytes
        self.release = release
    }

    /// Copies `data` into a heap region.
    public convenience init(copying data: [UInt8]) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
        data.withUnsafeBytes { src in
            if let s = src.baseAddress { p.copyMemory(from: s, byteCount: src.count) }
        }
        self.init(bytes: UnsafeRawBufferPointer(start: p, count: data.count)) { b in
            UnsafeMutableRawPointer(mutating: b.baseAddress!).deallocate()
        }
    }

    deinit { release?(bytes) }
}

/// Opens the store a location string names: a directory path, `file:///dir`, `memory://name`.
public enum StoreLocation {
    public static func open(_ location: String, createIfMissing: Bool) throws -> ObjectStore {
        if location.isEmpty { throw ShaleError.invalid("location is empty") }
        if location.hasPrefix("memory://") {
            let name = String(location.dropFirst("memory://".count))
            if name.isEmpty { throw ShaleError.invalid("memory:// location needs a name") }
            return MemoryStore.named(name)
        }
        if location.hasPrefix("s3://") {
            throw ShaleError.notSupported("s3:// locations are not supported by this build")
        }
        var path = location
        if location.hasPrefix("file://") { path = String(location.dropFirst("file://".count)) }
        else if location.contains("://") {
            throw ShaleError.invalid("unknown location scheme in '\(location)'")
        }
        if path.isEmpty { throw ShaleError.invalid("location '\(location)' has no path") }
        return try LocalDirectoryStore(root: path, createIfMissing: createIfMissing)
    }
}
