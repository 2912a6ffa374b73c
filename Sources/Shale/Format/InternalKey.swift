/// What an entry is: a value or a deletion marker (tombstone).
public enum EntryKind: UInt8, Sendable {
    case deletion = 0
    case value = 1
}

/// Sequence numbers are 56 bits: they share a 64-bit trailer with the entry kind.
public let maxSequence: UInt64 = (1 << 56) - 1

/// An internal key is the user key followed by an 8-byte little-endian trailer
/// `(sequence << 8) | kind`. Internal keys order by user key ascending, then by trailer
/// descending, so the newest version of a key comes first.
public enum InternalKey {
    public static let trailerSize = 8

    @inline(__always)
    public static func trailer(_ seq: UInt64, _ kind: EntryKind) -> UInt64 { (seq << 8) | UInt64(kind.rawValue) }

    /// The trailer that sorts before every entry of a key visible at `seq`.
    @inline(__always)
    public static func seekTrailer(_ seq: UInt64) -> UInt64 { (seq << 8) | 0xff }

    @inline(__always)
    public static func sequence(ofTrailer t: UInt64) -> UInt64 { t >> 8 }

    public static func kind(ofTrailer t: UInt64) throws -> EntryKind {
        guard let k = EntryKind(rawValue: UInt8(truncatingIfNeeded: t)) else {
            throw ShaleError.corruption("unknown entry kind \(t & 0xff)")
        }
        return k
    }

    /// Builds an internal key.
    public static func make(_ userKey: UnsafeRawBufferPointer, trailer: UInt64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(userKey.count + 8)
        out.append(contentsOf: userKey)
        withUnsafeBytes(of: trailer.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    public static func make(_ userKey: [UInt8], trailer: UInt64) -> [UInt8] {
        userKey.withUnsafeBytes { make($0, trailer: trailer) }
    }

    /// The user-key part of an internal key (which must be at least 8 bytes).
    @inline(__always)
    public static func userKey(_ ik: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: ik[0..<(ik.count - 8)])
    }

    @inline(__always)
    public static func trailer(of ik: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(littleEndian: ik.loadUnaligned(fromByteOffset: ik.count - 8, as: UInt64.self))
    }

    /// Orders internal keys: user key ascending, trailer descending.
    @inline(__always)
    public static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let c = compareBytes(userKey(a), userKey(b))
        if c != 0 { return c }
        let ta = trailer(of: a)
        let tb = trailer(of: b)
        return ta > tb ? -1 : (ta < tb ? 1 : 0)
    }

    public static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compare(pa, pb) } }
    }
}
