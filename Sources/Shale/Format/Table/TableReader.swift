import Atomics

/// Reads a table from a mapped region.
///
/// Opening checks the header, footer and metadata checksum and decodes the index, so it costs
/// O(metadata), never O(file). A data block's crc is checked the first time the block is used
/// and remembered in an atomic bitmap, so hot blocks are not re-checksummed. Lookups on
/// uncompressed tables work on slices of the region and scratch space on the stack.
public final class TableReader: @unchecked Sendable {
    public let name: String
    public let properties: TableProperties

    /// One per data block: its index key (in place in the region) and where it lies.
    struct Handle {
        var keyStart: Int
        var keyCount: Int
        var offset: Int
        var size: Int
    }

    let region: ByteRegion
    let bytes: UnsafeRawBufferPointer
    let filter: UnsafeRawBufferPointer
    let blocks: ContiguousArray<Handle>
    /// The first 16 user-key bytes of each index key (see MemTable.prefix), side by side: the
    /// block search compares these and touches the mapped index only on a tie.
    let indexPrefixes: ContiguousArray<UInt64>
    /// Bit i set once block i's crc has been checked.
    private let verified: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    private let verifiedWords: Int
    private let decoderLock = Lock()
    private var decoders: [ZstdDecompressor] = []

    public init(region: ByteRegion, name: String) throws {
        let b = region.bytes
        _ = try FileEnvelope.readHeader(b, kind: .table, supported: TableFormat.version, file: name)
        guard FileEnvelope.hasFooter(b) else {
            throw ShaleError.corruption("\(name): missing or damaged footer (file torn or truncated)")
        }
        let f = b.count - FileEnvelope.footerSize
        var fr = ByteReader(b, offset: f, what: name)
        let bodyLength = try fr.u64()
        let metaCRC = try fr.u32()
        guard bodyLength == UInt64(f - FileEnvelope.headerSize) else {
            throw ShaleError.corruption("\(name): footer says \(bodyLength) body bytes, file has \(f - FileEnvelope.headerSize)")
        }
        guard f - FileEnvelope.headerSize >= MetaPointer.size else {
            throw ShaleError.corruption("\(name): too short for a table")
        }
        let mp = try MetaPointer.decode(b, at: f - MetaPointer.size, name: name)
        // The footer's body crc covers the metadata section only (see TableBuilder).
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[mp.filterOffset..<f])) == metaCRC else {
            throw ShaleError.corruption("\(name): metadata checksum mismatch")
        }
        let props = try TableProperties.decode(
            UnsafeRawBufferPointer(rebasing: b[mp.propertiesOffset..<(mp.propertiesOffset + mp.propertiesSize)]),
            fileBytes: b.count, name: name)
        let filter = UnsafeRawBufferPointer(rebasing: b[mp.filterOffset..<(mp.filterOffset + mp.filterSize)])
        do { try BloomFilter.validate(filter) } catch { throw ShaleError.corruption("\(name): malformed bloom filter") }

        let blocks = try TableReader.decodeIndex(
            b, UnsafeRawBufferPointer(rebasing: b[mp.indexOffset..<(mp.indexOffset + mp.indexSize)]),
            dataEnd: mp.filterOffset, props: props, name: name)

        self.name = name
        self.region = region
        self.bytes = b
        self.properties = props
        self.filter = filter
        self.blocks = blocks
        var prefixes = ContiguousArray<UInt64>()
        prefixes.reserveCapacity(blocks.count * 2)
        for h in blocks {
            let ik = UnsafeRawBufferPointer(rebasing: b[h.keyStart..<(h.keyStart + h.keyCount)])
            let (p1, p2) = MemTable.prefix(InternalKey.userKey(ik))
            prefixes.append(p1)
            prefixes.append(p2)
        }
        self.indexPrefixes = prefixes
        verifiedWords = max(1, (blocks.count + 63) / 64)
        verified = .allocate(capacity: verifiedWords)
        verified.initialize(repeating: UnsafeAtomic<UInt64>.Storage(0), count: verifiedWords)
    }

    deinit {
        verified.deinitialize(count: verifiedWords)
        verified.deallocate()
    }

    /// Walks the index (every entry a restart, keys used in place) and checks that the blocks
    /// it names tile the data section in key order and agree with the properties.
    private static func decodeIndex(_ b: UnsafeRawBufferPointer, _ index: UnsafeRawBufferPointer, dataEnd: Int,
                                    props: TableProperties, name: String) throws -> ContiguousArray<Handle> {
        guard let base = b.baseAddress else { throw ShaleError.corruption("\(name): empty file") }
        var out = ContiguousArray<Handle>()
        do {
            let ir = try BlockReader(index, keyBuffer: UnsafeMutableRawBufferPointer(start: nil, count: 0))
            guard ir.restartCount == props.dataBlockCount else {
                throw ShaleError.corruption("index has \(ir.restartCount) entries, properties say \(props.dataBlockCount) blocks")
            }
            out.reserveCapacity(ir.restartCount)
            var expected = FileEnvelope.headerSize
            var prev: UnsafeRawBufferPointer? = nil
            for i in 0..<ir.restartCount {
                let (k, v) = try ir.restartEntry(i)
                var vr = ByteReader(v, what: "index entry \(i)")
                let off = try vr.varint()
                let size = try vr.varint()
                guard off == UInt64(expected), size >= UInt64(TableFormat.blockTrailer + 4),
                      size <= UInt64(dataEnd - expected) else {
                    throw ShaleError.corruption("index entry \(i) names bytes \(off)+\(size), expected a block at \(expected)")
                }
                guard k.count <= props.maxKeyBytes, let kb = k.baseAddress else {
                    throw ShaleError.corruption("index key \(i) longer than the longest key")
                }
                if let p = prev, InternalKey.compare(p, k) >= 0 {
                    throw ShaleError.corruption("index keys out of order at entry \(i)")
                }
                prev = k
                out.append(Handle(keyStart: kb - base, keyCount: k.count, offset: expected, size: Int(size)))
                expected += Int(size)
            }
            guard expected == dataEnd, expected - FileEnvelope.headerSize == props.dataBytes else {
                throw ShaleError.corruption("data blocks end at \(expected), metadata starts at \(dataEnd)")
            }
            if let last = prev {
                let same = props.largestInternalKey.withUnsafeBytes { compareBytes($0, last) == 0 }
                guard same else { throw ShaleError.corruption("last index key is not the largest key") }
            }
        } catch let e as ShaleError where e.status == .corruption {
            throw ShaleError.corruption("\(name): index: \(e.message)")
        }
        return out
    }

    // MARK: Lookups

    /// False when the table certainly holds no entry for `userKey`.
    public func mayContain(_ userKey: UnsafeRawBufferPointer) -> Bool {
        BloomFilter.mayContain(filter, hash: Hash64.hash(userKey))
    }

    /// Calls `found` with the newest entry of `userKey` whose sequence is <= `snapshot` and
    /// returns its result, or returns nil when the table has no such entry.
    public func get<T>(_ userKey: UnsafeRawBufferPointer, snapshot: UInt64,
                       _ found: (EntryKind, UInt64, UnsafeRawBufferPointer) throws -> T) throws -> T? {
        guard !blocks.isEmpty, mayContain(userKey) else { return nil }
        let snap = min(snapshot, maxSequence)
        let targetLen = userKey.count + InternalKey.trailerSize
        let keyCap = properties.maxKeyBytes
        // Seek target and key scratch in one temporary (stack when small) allocation.
        return try withUnsafeTemporaryAllocation(byteCount: targetLen + keyCap, alignment: 8) { buf -> T? in
            guard let base = buf.baseAddress else { return nil }
            if let src = userKey.baseAddress, userKey.count > 0 {
                base.copyMemory(from: src, byteCount: userKey.count)
            }
            base.storeBytes(of: InternalKey.seekTrailer(snap).littleEndian, toByteOffset: userKey.count, as: UInt64.self)
            let target = UnsafeRawBufferPointer(start: base, count: targetLen)
            let keyBuf = UnsafeMutableRawBufferPointer(start: base + targetLen, count: keyCap)
            guard let bi = findBlock(target) else { return nil }
            return try withBlock(bi) { block -> T? in
                let hit = try wrap(bi) { () -> (UInt64, UnsafeRawBufferPointer)? in
                    var r = try BlockReader(block, keyBuffer: keyBuf)
                    try r.seek(target)
                    guard r.isValid else { throw ShaleError.corruption("block ends before its index key") }
                    let k = r.key
                    guard compareBytes(InternalKey.userKey(k), userKey) == 0 else { return nil }
                    return (InternalKey.trailer(of: k), r.value)
                }
                guard let (trailer, value) = hit else { return nil }
                guard let kind = EntryKind(rawValue: UInt8(truncatingIfNeeded: trailer)) else {
                    throw ShaleError.corruption("\(name): data block \(bi): unknown entry kind \(trailer & 0xff)")
                }
                return try found(kind, InternalKey.sequence(ofTrailer: trailer), value)
            }
        }
    }

    public func makeIterator() -> TableIterator { TableIterator(self) }

    /// Checks every data block: crc, decompression, entry decoding, key order, agreement with
    /// the index and the properties. Reads the whole file.
    public func verifyAll() throws {
        let keyBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(properties.maxKeyBytes, 8), alignment: 8)
        defer { keyBuf.deallocate() }
        var prev: [UInt8] = []
        var count = 0
        var tombstones = 0
        for i in blocks.indices {
            try checkCRC(i)
            try withBlock(i) { block in
                try wrap(i) {
                    var r = try BlockReader(block, keyBuffer: keyBuf)
                    try r.seekToFirst()
                    guard r.isValid else { throw ShaleError.corruption("empty block") }
                    while r.isValid {
                        let k = r.key
                        if !prev.isEmpty, prev.withUnsafeBytes({ InternalKey.compare($0, k) }) >= 0 {
                            throw ShaleError.corruption("keys out of order")
                        }
                        if try InternalKey.kind(ofTrailer: InternalKey.trailer(of: k)) == .deletion { tombstones += 1 }
                        count += 1
                        prev = Array(k)
                        try r.next()
                    }
                    guard prev.withUnsafeBytes({ compareBytes($0, indexKey(i)) }) == 0 else {
                        throw ShaleError.corruption("last key differs from the index")
                    }
                }
            }
        }
        guard count == properties.entryCount, tombstones == properties.tombstoneCount else {
            throw ShaleError.corruption("\(name): holds \(count) entries (\(tombstones) deletions), properties say \(properties.entryCount) (\(properties.tombstoneCount))")
        }
    }

    // MARK: Blocks

    @inline(__always) func indexKey(_ i: Int) -> UnsafeRawBufferPointer {
        let h = blocks[i]
        return UnsafeRawBufferPointer(rebasing: bytes[h.keyStart..<(h.keyStart + h.keyCount)])
    }

    /// The first block whose last key is >= `target`, or nil when every key is smaller.
    func findBlock(_ target: UnsafeRawBufferPointer) -> Int? {
        let (t1, t2) = MemTable.prefix(InternalKey.userKey(target))
        var lo = 0
        var hi = blocks.count
        indexPrefixes.withUnsafeBufferPointer { px in
            while lo < hi {
                let mid = (lo + hi) / 2
                let p1 = px[2 * mid]
                let p2 = px[2 * mid + 1]
                let less: Bool
                if p1 != t1 {
                    less = p1 < t1
                } else if p2 != t2 {
                    less = p2 < t2
                } else {
                    less = InternalKey.compare(indexKey(mid), target) < 0
                }
                if less { lo = mid + 1 } else { hi = mid }
            }
        }
        return lo < blocks.count ? lo : nil
    }

    private func checkCRC(_ i: Int) throws {
        let h = blocks[i]
        let framed = UnsafeRawBufferPointer(rebasing: bytes[h.offset..<(h.offset + h.size)])
        let stored = UInt32(littleEndian: framed.loadUnaligned(fromByteOffset: h.size - 4, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: framed[0..<(h.size - 4)])) == stored else {
            throw ShaleError.corruption("\(name): data block \(i) at offset \(h.offset): checksum mismatch")
        }
        _ = UnsafeAtomic<UInt64>(at: verified + i / 64).loadThenBitwiseOr(with: UInt64(1) << UInt64(i % 64), ordering: .releasing)
    }

    /// The block's type and payload, after its crc has been checked (once per reader).
    func blockPayload(_ i: Int) throws -> (Compression, UnsafeRawBufferPointer) {
        let h = blocks[i]
        let bit: UInt64 = 1 << UInt64(i % 64)
        if UnsafeAtomic<UInt64>(at: verified + i / 64).load(ordering: .acquiring) & bit == 0 {
            try checkCRC(i)
        }
        guard let c = Compression(code: bytes[h.offset]) else {
            throw ShaleError.corruption("\(name): data block \(i): unknown compression type \(bytes[h.offset])")
        }
        return (c, UnsafeRawBufferPointer(rebasing: bytes[(h.offset + 1)..<(h.offset + h.size - 4)]))
    }

    /// Checks a compressed payload's stated size against the largest block the table has.
    func rawLength(_ i: Int, _ payload: UnsafeRawBufferPointer) throws -> (Int, UnsafeRawBufferPointer) {
        let (raw, body) = try BlockCodec.rawLength(payload, file: name, block: i)
        guard raw <= properties.maxBlockBytes else {
            throw ShaleError.corruption("\(name): data block \(i): uncompressed size \(raw) exceeds the largest block \(properties.maxBlockBytes)")
        }
        return (raw, body)
    }

    /// Runs `body` over block `i`'s entry bytes: a slice of the region, or a temporary
    /// decompression buffer that lives only for the call.
    func withBlock<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let (c, payload) = try blockPayload(i)
        if c == .none { return try body(payload) }
        let (raw, compressed) = try rawLength(i, payload)
        return try withUnsafeTemporaryAllocation(byteCount: raw, alignment: 8) { buf in
            try withDecoder(c) { d in
                try BlockCodec.decompress(c, compressed, into: buf, zstd: d, file: name, block: i)
            }
            return try body(UnsafeRawBufferPointer(buf))
        }
    }

    /// Lends a pooled zstd context (zstd would otherwise allocate one per block).
    func withDecoder<R>(_ c: Compression, _ body: (ZstdDecompressor?) throws -> R) throws -> R {
        guard c == .zstd else { return try body(nil) }
        let d = decoderLock.withLock { decoders.popLast() } ?? ZstdDecompressor()
        defer { decoderLock.withLock { if decoders.count < 8 { decoders.append(d) } } }
        return try body(d)
    }

    /// Prefixes block-level corruption messages with the file and block.
    @inline(__always)
    func wrap<R>(_ i: Int, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let e as ShaleError where e.status == .corruption {
            throw ShaleError.corruption("\(name): data block \(i): \(e.message)")
        }
    }
}
