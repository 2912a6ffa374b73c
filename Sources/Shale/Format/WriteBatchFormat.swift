/// The encoded operations of a batch, which is also the body of a WAL record:
///   op := kind u8 | key length varint | key | (value length varint | value, when kind = value)
/// A batch is built by appending ops, so applying it is one copy into the WAL buffer.
public struct BatchRep: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var count: Int = 0

    public init() {}

    public mutating func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        Self.appendOp(&bytes, .value, key, value)
        count += 1
    }

    public mutating func delete(_ key: UnsafeRawBufferPointer) {
        Self.appendOp(&bytes, .deletion, key, UnsafeRawBufferPointer(start: nil, count: 0))
        count += 1
    }

    public mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
        count = 0
    }

    @inline(__always)
    static func appendVarint(_ out: inout [UInt8], _ v: Int) {
        var v = UInt64(v)
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    @inline(__always)
    public static func appendOp(_ out: inout [UInt8], _ kind: EntryKind, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        out.append(kind.rawValue)
        appendVarint(&out, key.count)
        out.append(contentsOf: key)
        if kind == .value {
            appendVarint(&out, value.count)
            out.append(contentsOf: value)
        }
    }

    /// Visits each op of encoded `ops`; throws corruption on malformed bytes.
    public static func forEach(_ ops: UnsafeRawBufferPointer, count: Int, what: String,
                               _ body: (EntryKind, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        var r = ByteReader(ops, what: what)
        for _ in 0..<count {
            guard let kind = EntryKind(rawValue: try r.u8()) else {
                throw ShaleError.corruption("\(what): unknown operation kind at byte \(r.offset - 1)")
            }
            let key = try r.slice(try r.length())
            if kind == .value {
                let value = try r.slice(try r.length())
                try body(kind, key, value)
            } else {
                try body(kind, key, UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
        if !r.atEnd { throw ShaleError.corruption("\(what): \(r.remaining) stray bytes after \(count) operations") }
    }
}
