/// The header and footer every Shale file carries, so a reader can tell a whole file from a
/// torn or foreign one without trusting any length field inside it.
///
/// Header (24 bytes): magic (8) | format version u32 | flags u32 | reserved u32 | crc32c of the
/// previous 20 bytes u32.
/// Footer (24 bytes): body length u64 | body crc32c u32 | footer crc32c of the previous 12 bytes
/// u32 | end marker "SHALEEND" (8).
public enum FileKind: String, Sendable {
    case wal = "SHALEWAL"
    case table = "SHALESST"
    case manifest = "SHALEMAN"

    var magic: [UInt8] { Array(rawValue.utf8) }
}

public enum FileEnvelope {
    public static let headerSize = 24
    public static let footerSize = 24
    public static let endMarker: [UInt8] = Array("SHALEEND".utf8)

    public static func header(_ kind: FileKind, version: UInt32, flags: UInt32 = 0) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize)
        w.raw(kind.magic)
        w.u32(version)
        w.u32(flags)
        w.u32(0)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    public static func footer(bodyLength: UInt64, bodyCRC: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: footerSize)
        w.u64(bodyLength)
        w.u32(bodyCRC)
        w.u32(CRC32C.checksum(w.bytes))
        w.raw(endMarker)
        return w.bytes
    }

    public struct Header: Sendable {
        public let version: UInt32
        public let flags: UInt32
    }

    /// Checks the header of `bytes`; `supported` is the highest version this code reads.
    public static func readHeader(_ bytes: UnsafeRawBufferPointer, kind: FileKind, supported: UInt32, file: String) throws -> Header {
        guard bytes.count >= headerSize else {
            throw ShaleError.corruption("\(file): too short for a header (\(bytes.count) bytes)")
        }
        let magic = kind.magic
        for i in 0..<8 where bytes[i] != magic[i] {
            throw ShaleError.corruption("\(file): not a \(kind.rawValue) file (bad magic)")
        }
        var r = ByteReader(bytes, offset: 8, what: file)
        let version = try r.u32()
        let flags = try r.u32()
        _ = try r.u32()
        let crc = try r.u32()
        if crc != CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<20])) {
            throw ShaleError.corruption("\(file): header checksum mismatch")
        }
        if version == 0 || version > supported {
            throw ShaleError.corruption("\(file): format version \(version) is not supported (this build reads up to \(supported))")
        }
        return Header(version: version, flags: flags)
    }

    /// True when the last 24 bytes look like a footer (end marker present and footer crc holds).
    public static func hasFooter(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= headerSize + footerSize else { return false }
        let f = bytes.count - footerSize
        for i in 0..<8 where bytes[f + 16 + i] != endMarker[i] { return false }
        let crc = bytes.loadUnaligned(fromByteOffset: f + 12, as: UInt32.self)
        return UInt32(littleEndian: crc) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[f..<(f + 12)]))
    }

    /// Checks the footer and the body checksum; returns the body (between header and footer).
    public static func readBody(_ bytes: UnsafeRawBufferPointer, file: String) throws -> UnsafeRawBufferPointer {
        guard hasFooter(bytes) else {
            throw ShaleError.corruption("\(file): missing or damaged footer (file torn or truncated)")
        }
        let f = bytes.count - footerSize
        var r = ByteReader(bytes, offset: f, what: file)
        let bodyLength = try r.u64()
        let bodyCRC = try r.u32()
        guard bodyLength == UInt64(f - headerSize) else {
            throw ShaleError.corruption("\(file): footer says \(bodyLength) body bytes, file has \(f - headerSize)")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[headerSize..<f])
        if CRC32C.checksum(body) != bodyCRC {
            throw ShaleError.corruption("\(file): body checksum mismatch")
        }
        return body
    }

    /// Wraps a body in a header and footer.
    public static func wrap(_ kind: FileKind, version: UInt32, body: [UInt8]) -> [UInt8] {
        var out = header(kind, version: version)
        out.reserveCapacity(headerSize + body.count + footerSize)
        out.append(contentsOf: body)
        out.append(contentsOf: footer(bodyLength: UInt64(body.count), bodyCRC: CRC32C.checksum(body)))
        return out
    }
}
