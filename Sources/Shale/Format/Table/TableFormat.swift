/// Shared constants and small fixed structures of the table format (docs/format-table.md).
enum TableFormat {
    static let version: UInt32 = 1
    /// Data block frame: type u8 before the payload, crc32c u32 after it.
    static let blockTrailer = 5
    /// Restart interval of data blocks.
    static let dataRestartInterval = 16
    /// Every index entry is a restart, so the reader can use its keys in place.
    static let indexRestartInterval = 1
}

/// Where the metadata blocks sit. It is the last thing in the body, at a fixed distance from
/// the end, and carries its own crc because the reader needs its offsets before it can check
/// the metadata checksum in the footer.
///
/// Layout (56 bytes): filter offset u64 | filter size u64 | properties offset u64 |
/// properties size u64 | index offset u64 | index size u64 | crc32c of the previous 48 bytes u32 |
/// reserved u32 (zero).
struct MetaPointer {
    static let size = 56
    var filterOffset: Int
    var filterSize: Int
    var propertiesOffset: Int
    var propertiesSize: Int
    var indexOffset: Int
    var indexSize: Int

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: MetaPointer.size)
        for v in [filterOffset, filterSize, propertiesOffset, propertiesSize, indexOffset, indexSize] {
            w.u64(UInt64(v))
        }
        w.u32(CRC32C.checksum(w.bytes))
        w.u32(0)
        return w.bytes
    }

    /// Decodes the pointer stored at `at` and checks that the three blocks tile the bytes
    /// from the filter offset up to the pointer itself, after the header.
    static func decode(_ file: UnsafeRawBufferPointer, at: Int, name: String) throws -> MetaPointer {
        guard at >= FileEnvelope.headerSize, at + size <= file.count else {
            throw ShaleError.corruption("\(name): too short for a table")
        }
        var r = ByteReader(file, offset: at, what: name)
        var v = [UInt64]()
        for _ in 0..<6 { v.append(try r.u64()) }
        let crc = try r.u32()
        guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: file[at..<(at + 48)])) else {
            throw ShaleError.corruption("\(name): metadata pointer checksum mismatch")
        }
        // Every value must fit inside the file before any arithmetic on it.
        for x in v where x > UInt64(at) {
            throw ShaleError.corruption("\(name): metadata pointer value \(x) past the metadata")
        }
        let p = MetaPointer(filterOffset: Int(v[0]), filterSize: Int(v[1]), propertiesOffset: Int(v[2]),
                            propertiesSize: Int(v[3]), indexOffset: Int(v[4]), indexSize: Int(v[5]))
        guard p.filterOffset >= FileEnvelope.headerSize,
              p.filterOffset + p.filterSize == p.propertiesOffset,
              p.propertiesOffset + p.propertiesSize == p.indexOffset,
              p.indexOffset + p.indexSize == at else {
            throw ShaleError.corruption("\(name): metadata blocks do not line up")
        }
        return p
    }
}

/// Facts about a table, stored in its properties block.
public struct TableProperties: Sendable, Equatable {
    public var entryCount = 0
    public var tombstoneCount = 0
    /// User keys of the first and last entries (empty for an empty table).
    public var smallestKey: [UInt8] = []
    public var largestKey: [UInt8] = []
    /// The same, as full internal keys.
    public var smallestInternalKey: [UInt8] = []
    public var largestInternalKey: [UInt8] = []
    public var minSequence: UInt64 = 0
    public var maxSequence: UInt64 = 0
    /// Data block bytes as stored (framed, possibly compressed) and before compression.
    public var dataBytes = 0
    public var rawDataBytes = 0
    public var dataBlockCount = 0
    public var compression: Compression = .none
    /// Size of the whole file (not stored: known from the file itself).
    public var fileBytes = 0
    /// Longest internal key and largest uncompressed block: readers size buffers from these.
    var maxKeyBytes = 0
    var maxBlockBytes = 0

    public init() {}

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + smallestInternalKey.count + largestInternalKey.count)
        for v in [entryCount, tombstoneCount] { w.varint(UInt64(v)) }
        w.varint(minSequence)
        w.varint(maxSequence)
        for v in [dataBytes, rawDataBytes, dataBlockCount, maxKeyBytes, maxBlockBytes] { w.varint(UInt64(v)) }
        w.u8(compression.code)
        w.lengthPrefixed(smallestInternalKey)
        w.lengthPrefixed(largestInternalKey)
        return w.bytes
    }

    static func decode(_ b: UnsafeRawBufferPointer, fileBytes: Int, name: String) throws -> TableProperties {
        var r = ByteReader(b, what: "\(name): properties")
        var p = TableProperties()
        // Counts can never exceed the file size; bounding them keeps later arithmetic safe.
        func count(_ limit: Int) throws -> Int {
            let v = try r.varint()
            guard v <= UInt64(limit) else { throw ShaleError.corruption("\(name): implausible property value \(v)") }
            return Int(v)
        }
        p.entryCount = try count(fileBytes)
        p.tombstoneCount = try count(p.entryCount)
        p.minSequence = try r.varint()
        p.maxSequence = try r.varint()
        p.dataBytes = try count(fileBytes)
        p.rawDataBytes = try count(Int.max >> 1)
        p.dataBlockCount = try count(fileBytes)
        p.maxKeyBytes = try count(fileBytes)
        p.maxBlockBytes = try count(Int(Int32.max))
        guard let c = Compression(code: try r.u8()) else {
            throw ShaleError.corruption("\(name): unknown compression in properties")
        }
        p.compression = c
        p.smallestInternalKey = try r.lengthPrefixed()
        p.largestInternalKey = try r.lengthPrefixed()
        guard r.atEnd else { throw ShaleError.corruption("\(name): trailing bytes in properties") }
        if p.entryCount > 0 {
            guard p.smallestInternalKey.count >= InternalKey.trailerSize,
                  p.largestInternalKey.count >= InternalKey.trailerSize,
                  p.dataBlockCount > 0, p.maxKeyBytes >= InternalKey.trailerSize else {
                throw ShaleError.corruption("\(name): properties of a non-empty table are incomplete")
            }
            p.smallestKey = Array(p.smallestInternalKey.prefix(p.smallestInternalKey.count - 8))
            p.largestKey = Array(p.largestInternalKey.prefix(p.largestInternalKey.count - 8))
        } else if p.dataBlockCount != 0 {
            throw ShaleError.corruption("\(name): empty table with data blocks")
        }
        p.fileBytes = fileBytes
        return p
    }
}
