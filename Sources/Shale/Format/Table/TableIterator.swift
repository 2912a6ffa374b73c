/// Iterates a table in internal-key order: a position in the decoded index picks the data
/// block, a `BlockReader` walks inside it. Keys are rebuilt in a buffer the iterator owns;
/// compressed blocks are decompressed into a buffer it owns and reuses. Any error leaves the
/// iterator invalid.
public final class TableIterator: InternalIterator {
    let table: TableReader
    private var blockIndex: Int
    private var reader: BlockReader?
    private let keyBuf: UnsafeMutableRawBufferPointer
    private var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var zstd: ZstdDecompressor?

    init(_ table: TableReader) {
        self.table = table
        blockIndex = table.blocks.count
        keyBuf = .allocate(byteCount: max(table.properties.maxKeyBytes, InternalKey.trailerSize), alignment: 8)
    }

    deinit {
        keyBuf.deallocate()
        scratch.deallocate()
    }

    public var isValid: Bool { reader?.isValid ?? false }

    public var key: UnsafeRawBufferPointer { reader?.key ?? UnsafeRawBufferPointer(start: nil, count: 0) }

    public var value: UnsafeRawBufferPointer { reader?.value ?? UnsafeRawBufferPointer(start: nil, count: 0) }

    public func seekToFirst() throws {
        try guarded {
            try load(0)
            try table.wrap(blockIndex) { try reader?.seekToFirst() }
            try skipForward()
        }
    }

    public func seek(_ target: UnsafeRawBufferPointer) throws {
        guard target.count >= InternalKey.trailerSize else {
            reader = nil
            throw ShaleError.invalid("seek target of \(target.count) bytes is not an internal key")
        }
        try guarded {
            guard let bi = table.findBlock(target) else {
                reader = nil
                return
            }
            try load(bi)
            try table.wrap(blockIndex) { try reader?.seek(target) }
            try skipForward()
        }
    }

    public func next() throws {
        guard isValid else { return }
        try guarded {
            try table.wrap(blockIndex) { try reader?.next() }
            try skipForward()
        }
    }

    /// Invalidates the iterator when `body` throws.
    private func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch {
            reader = nil
            blockIndex = table.blocks.count
            throw error
        }
    }

    /// Moves into following blocks while the current one is exhausted.
    private func skipForward() throws {
        while reader != nil && !(reader?.isValid ?? false) {
            try load(blockIndex + 1)
            try table.wrap(blockIndex) { try reader?.seekToFirst() }
        }
    }

    /// Opens block `i` (or goes invalid past the last block).
    private func load(_ i: Int) throws {
        reader = nil
        blockIndex = i
        guard i < table.blocks.count else { return }
        let (c, payload) = try table.blockPayload(i)
        var bytes = payload
        if c != .none {
            let (raw, compressed) = try table.rawLength(i, payload)
            if scratch.count < raw {
                scratch.deallocate()
                scratch = .allocate(byteCount: max(raw, 4096), alignment: 8)
            }
            let dst = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<raw])
            if c == .zstd && zstd == nil { zstd = ZstdDecompressor() }
            try BlockCodec.decompress(c, compressed, into: dst, zstd: zstd, file: table.name, block: i)
            bytes = UnsafeRawBufferPointer(dst)
        }
        reader = try table.wrap(i) { try BlockReader(bytes, keyBuffer: keyBuf) }
    }
}
