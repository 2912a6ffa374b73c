/// An atomic group of writes, applied by `DB.write`. Safe to fill from several threads (a
/// lock guards the encoded operations).
public final class WriteBatch: @unchecked Sendable {
    private let lock = Lock()
    private var rep = BatchRep()
    private var largest = 0
    public init() {}

    public var count: Int { lock.withLock { rep.count } }
    public var byteCount: Int { lock.withLock { rep.bytes.count } }

    static func check(key: UnsafeRawBufferPointer) throws {
        if key.count == 0 { throw ShaleError.invalid("key is empty") }
        if key.count > Options.maxKeyBytes {
            throw ShaleError.invalid("key is \(key.count) bytes; the limit is \(Options.maxKeyBytes)")
        }
    }

    public func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        try Self.check(key: key)
        if value.count > Options.maxValueLimit {
            throw ShaleError.invalid("value is \(value.count) bytes; the limit is \(Options.maxValueLimit)")
        }
        lock.withLock {
            rep.put(key, value)
            largest = max(largest, value.count)
        }
    }

    public func delete(_ key: UnsafeRawBufferPointer) throws {
        try Self.check(key: key)
        lock.withLock { rep.delete(key) }
    }

    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try put(k, v) } }
    }

    public func delete(_ key: [UInt8]) throws { try key.withUnsafeBytes { try delete($0) } }

    public func clear() {
        lock.withLock {
            rep.clear()
            largest = 0
        }
    }

    /// The encoded ops, their count and the largest value, read under the lock.
    func withContents<T>(_ body: (UnsafeRawBufferPointer, Int, Int) throws -> T) rethrows -> T {
        try lock.withLock { try rep.bytes.withUnsafeBytes { try body($0, rep.count, largest) } }
    }
}
