public struct TableOptions: Sendable {
    /// Target uncompressed size of a data block; a block is cut once it reaches this.
    public var blockBytes = 4096
    public var compression: Compression = .none
    /// Bloom filter budget; 0 or less writes no filter.
    public var bloomBitsPerKey = 10
    /// zstd level, clamped to 1...3 (higher levels cost far more CPU for little gain here).
    public var zstdLevel = 1
    public init() {}
}

/// Writes a table file in memory: entries go in sorted, complete file bytes come out.
///
/// Layout (docs/format-table.md): header | data blocks | filter | properties | index |
/// meta pointer | footer. The footer's body checksum covers only the metadata (filter through
/// meta pointer), so opening a table reads O(metadata) bytes; each data block carries its own
/// crc32c, checked the first time the block is used.
public final class TableBuilder {
    /// Entries larger than this are refused: block offsets are 32-bit.
    static let maxEntryBytes = 1 << 30

    private let options: TableOptions
    private var out: [UInt8]
    private var block = BlockBuilder(restartInterval: TableFormat.dataRestartInterval)
    private var index = BlockBuilder(restartInterval: TableFormat.indexRestartInterval)
    private var lastKey: [UInt8] = []
    /// One hash per distinct user key; versions of a key share a filter entry.
    private var hashes: [UInt64] = []
    private var props = TableProperties()
    private var finished = false
    private let zstd: ZstdCompressor?
    private var scratch: [UInt8] = []

    public init(options: TableOptions) {
        var o = options
        o.blockBytes = min(max(o.blockBytes, 64), 1 << 30)
        // Past ~20 bits per key the false-positive rate stops mattering; the cap keeps sizes sane.
        o.bloomBitsPerKey = min(o.bloomBitsPerKey, 64)
        self.options = o
        out = FileEnvelope.header(.table, version: TableFormat.version)
        zstd = o.compression == .zstd ? ZstdCompressor() : nil
        props.compression = o.compression
    }

    public var entryCount: Int { props.entryCount }

    /// Roughly the file size if finished now.
    public var estimatedSize: Int {
        out.count + block.estimatedSize + index.estimatedSize
            + hashes.count * max(options.bloomBitsPerKey, 0) / 8 + 256 + 2 * lastKey.count
    }

    /// Adds an entry. Internal keys must be strictly increasing in `InternalKey.compare` order.
    public func add(internalKey key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ShaleError.invalid("table builder already finished") }
        guard key.count >= InternalKey.trailerSize else {
            throw ShaleError.invalid("internal key of \(key.count) bytes is shorter than its trailer")
        }
        guard key.count + value.count <= TableBuilder.maxEntryBytes else {
            throw ShaleError.invalid("entry of \(key.count + value.count) bytes is too large for a table")
        }
        let trailer = InternalKey.trailer(of: key)
        guard let kind = EntryKind(rawValue: UInt8(truncatingIfNeeded: trailer)) else {
            throw ShaleError.invalid("internal key has unknown entry kind \(trailer & 0xff)")
        }
        let seq = InternalKey.sequence(ofTrailer: trailer)
        let userKey = InternalKey.userKey(key)
        if props.entryCount > 0 {
            let c = lastKey.withUnsafeBytes { InternalKey.compare($0, key) }
            guard c < 0 else { throw ShaleError.invalid("table keys out of order (each key must sort after the previous)") }
            let sameUser = lastKey.withUnsafeBytes { compareBytes(InternalKey.userKey($0), userKey) == 0 }
            if !sameUser { hashes.append(Hash64.hash(userKey)) }
            props.minSequence = min(props.minSequence, seq)
            props.maxSequence = max(props.maxSequence, seq)
        } else {
            hashes.append(Hash64.hash(userKey))
            props.smallestInternalKey = Array(key)
            props.minSequence = seq
            props.maxSequence = seq
        }
        block.add(key: key, value: value)
        lastKey.removeAll(keepingCapacity: true)
        lastKey.append(contentsOf: key)
        props.entryCount += 1
        if kind == .deletion { props.tombstoneCount += 1 }
        props.maxKeyBytes = max(props.maxKeyBytes, key.count)
        if block.estimatedSize >= options.blockBytes { flushBlock() }
    }

    /// Frames the pending block as type | payload | crc32c(type | payload) and indexes it
    /// under its last key.
    private func flushBlock() {
        if block.isEmpty { return }
        let raw = block.finish()
        props.rawDataBytes += raw.count
        props.maxBlockBytes = max(props.maxBlockBytes, raw.count)
        let offset = out.count
        scratch.removeAll(keepingCapacity: true)
        let compressed = raw.withUnsafeBytes {
            BlockCodec.compress($0, options.compression, zstdLevel: options.zstdLevel, zstd: zstd, into: &scratch)
        }
        if compressed {
            out.append(options.compression.code)
            out.append(contentsOf: scratch)
        } else {
            out.append(Compression.none.code)
            out.append(contentsOf: raw)
        }
        let crc = out.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        let size = out.count - offset
        props.dataBytes += size
        props.dataBlockCount += 1
        var handle = ByteWriter(capacity: 16)
        handle.varint(UInt64(offset))
        handle.varint(UInt64(size))
        lastKey.withUnsafeBytes { k in handle.bytes.withUnsafeBytes { v in index.add(key: k, value: v) } }
    }

    /// Writes the metadata and footer and returns the complete file.
    public func finish() throws -> [UInt8] {
        guard !finished else { throw ShaleError.invalid("table builder already finished") }
        finished = true
        flushBlock()
        props.largestInternalKey = props.entryCount > 0 ? lastKey : []
        let filter = BloomFilter.build(hashes: hashes, bitsPerKey: options.bloomBitsPerKey)
        hashes = []
        let filterOffset = out.count
        out.append(contentsOf: filter)
        let propsOffset = out.count
        out.append(contentsOf: props.encode())
        let indexOffset = out.count
        out.append(contentsOf: index.finish())
        let metaOffset = out.count
        let mp = MetaPointer(filterOffset: filterOffset, filterSize: propsOffset - filterOffset,
                             propertiesOffset: propsOffset, propertiesSize: indexOffset - propsOffset,
                             indexOffset: indexOffset, indexSize: metaOffset - indexOffset)
        out.append(contentsOf: mp.encode())
        // The footer's "body crc" covers the metadata only; data blocks have their own crcs.
        let metaCRC = out.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[filterOffset...])) }
        out.append(contentsOf: FileEnvelope.footer(bodyLength: UInt64(out.count - FileEnvelope.headerSize), bodyCRC: metaCRC))
        let result = out
        out = []
        return result
    }
}
