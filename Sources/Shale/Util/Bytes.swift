#if canImport(Glibc)
import Glibc
#endif

/// Little-endian fixed-width and varint encoding into a growable byte array.
public struct ByteWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    @inline(__always) public mutating func u8(_ v: UInt8) { bytes.append(v) }

    @inline(__always) public mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) public mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    @inline(__always) public mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// A varint length followed by the bytes.
    public mutating func lengthPrefixed(_ b: [UInt8]) {
        varint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }

    public mutating func string(_ s: String) { lengthPrefixed(Array(s.utf8)) }

    /// Overwrites 4 bytes at `offset`.
    public mutating func patchU32(at offset: Int, _ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { src in
            for i in 0..<4 { bytes[offset + i] = src[i] }
        }
    }
}

/// Bounds-checked reader over borrowed bytes: every read that would run past the end throws a
/// corruption error instead of trapping, so decoders never crash on bad input.
public struct ByteReader {
    public let base: UnsafeRawBufferPointer
    public var offset: Int
    let what: String

    public init(_ base: UnsafeRawBufferPointer, offset: Int = 0, what: String) {
        self.base = base
        self.offset = offset
        self.what = what
    }

    public var remaining: Int { base.count - offset }
    public var atEnd: Bool { offset >= base.count }

    @inline(__always) func need(_ n: Int) throws {
        if n < 0 || n > base.count - offset {
            throw ShaleError.corruption("\(what): truncated at byte \(offset) (wanted \(n) more)")
        }
    }

    @inline(__always) public mutating func u8() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return base[offset]
    }

    @inline(__always) public mutating func u32() throws -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) public mutating func u64() throws -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    public mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }

    @inline(__always) public mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            try need(1)
            let b = base[offset]
            offset += 1
            if shift == 63 && b > 1 { throw ShaleError.corruption("\(what): varint overflow at byte \(offset)") }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw ShaleError.corruption("\(what): varint too long at byte \(offset)") }
        }
    }

    /// A varint that must fit a length within the remaining bytes.
    public mutating func length() throws -> Int {
        let v = try varint()
        if v > UInt64(remaining) { throw ShaleError.corruption("\(what): length \(v) past the end at byte \(offset)") }
        return Int(v)
    }

    /// Borrows `n` bytes without copying.
    public mutating func slice(_ n: Int) throws -> UnsafeRawBufferPointer {
        try need(n)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: base[offset..<(offset + n)])
    }

    public mutating func bytes(_ n: Int) throws -> [UInt8] { Array(try slice(n)) }

    public mutating func lengthPrefixed() throws -> [UInt8] { try bytes(try length()) }

    public mutating func string() throws -> String {
        let b = try lengthPrefixed()
        return String(decoding: b, as: UTF8.self)
    }
}

/// Lexicographic comparison of two byte ranges (memcmp, then length).
/// Keys are short: comparing 8-byte words as big-endian numbers beats a call to memcmp.
@inline(__always)
public func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let pa = a.baseAddress!
        let pb = b.baseAddress!
        var i = 0
        while i + 8 <= n {
            let wa = UInt64(bigEndian: pa.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let wb = UInt64(bigEndian: pb.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            if wa != wb { return wa < wb ? -1 : 1 }
            i += 8
            if i >= 64 && n - i > 64 {
                let c = memcmp(pa + i, pb + i, n - i)
                if c != 0 { return Int(c) }
                i = n
            }
        }
        while i < n {
            let ca = pa.load(fromByteOffset: i, as: UInt8.self)
            let cb = pb.load(fromByteOffset: i, as: UInt8.self)
            if ca != cb { return ca < cb ? -1 : 1 }
            i += 1
        }
    }
    return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
}

@inline(__always)
public func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pa, pb) } }
}
