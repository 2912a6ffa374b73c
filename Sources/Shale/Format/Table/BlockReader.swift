/// A cursor over one block written by `BlockBuilder`, whose keys are internal keys.
///
/// It borrows the block bytes and a key buffer from its owner (nothing is allocated here):
/// prefix-compressed keys are rebuilt in the key buffer, values are slices of the block.
/// Every length and offset read from the block is checked before use, so a damaged block
/// throws `.corruption` rather than trapping; messages are short, the table adds the file name.
struct BlockReader {
    let data: UnsafeRawBufferPointer
    /// End of the entries, where the restart array begins.
    let entriesEnd: Int
    let restartCount: Int
    let keyBuf: UnsafeMutableRawBufferPointer
    private(set) var keyLen = 0
    /// Offset of the current entry; `entriesEnd` when not positioned on one.
    private(set) var current: Int
    private var nextOffset: Int
    private var valueStart = 0
    private var valueLen = 0

    init(_ data: UnsafeRawBufferPointer, keyBuffer: UnsafeMutableRawBufferPointer) throws {
        guard data.count >= 4 else { throw ShaleError.corruption("block too short (\(data.count) bytes)") }
        let n = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: data.count - 4, as: UInt32.self)))
        guard n <= (data.count - 4) / 4 else { throw ShaleError.corruption("block restart count \(n) too large") }
        let end = data.count - 4 - n * 4
        guard (n == 0) == (end == 0) else { throw ShaleError.corruption("block restart count \(n) for \(end) entry bytes") }
        self.data = data
        self.entriesEnd = end
        self.restartCount = n
        self.keyBuf = keyBuffer
        self.current = end
        self.nextOffset = end
    }

    @inline(__always) var isValid: Bool { current < entriesEnd }

    @inline(__always) var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: keyBuf.baseAddress, count: keyLen)
    }

    @inline(__always) var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: data[valueStart..<(valueStart + valueLen)])
    }

    /// Offset of restart point `i`, checked to lie inside the entries.
    @inline(__always) func restartOffset(_ i: Int) throws -> Int {
        let off = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: entriesEnd + 4 * i, as: UInt32.self)))
        guard off < entriesEnd else { throw ShaleError.corruption("block restart \(i) at \(off) past the entries") }
        return off
    }

    /// Decodes a varint length bounded by the entries, advancing `p`.
    @inline(__always) private func length(_ p: inout Int) throws -> Int {
        var result = 0
        var shift = 0
        while true {
            guard p < entriesEnd, shift <= 28 else { throw ShaleError.corruption("bad varint in block entry at \(p)") }
            let b = data[p]
            p += 1
            result |= Int(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    /// Decodes the header of the entry at `p`: (shared, unshared, value length, start of key bytes).
    @inline(__always) private func header(at p: Int) throws -> (Int, Int, Int, Int) {
        var q = p
        let shared = try length(&q)
        let unshared = try length(&q)
        let vlen = try length(&q)
        guard unshared <= entriesEnd - q, vlen <= entriesEnd - q - unshared else {
            throw ShaleError.corruption("block entry at \(p) runs past the entries")
        }
        return (shared, unshared, vlen, q)
    }

    /// The key stored whole at restart point `i` (restarts never share a prefix).
    func restartKey(_ i: Int) throws -> UnsafeRawBufferPointer {
        let p = try restartOffset(i)
        let (shared, unshared, _, k) = try header(at: p)
        guard shared == 0, unshared >= InternalKey.trailerSize else {
            throw ShaleError.corruption("block restart entry at \(p) is malformed")
        }
        return UnsafeRawBufferPointer(rebasing: data[k..<(k + unshared)])
    }

    /// Key and value of the entry at restart `i`, in place (used for index blocks, whose
    /// every entry is a restart).
    func restartEntry(_ i: Int) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let p = try restartOffset(i)
        let (shared, unshared, vlen, k) = try header(at: p)
        guard shared == 0, unshared >= InternalKey.trailerSize else {
            throw ShaleError.corruption("block restart entry at \(p) is malformed")
        }
        return (UnsafeRawBufferPointer(rebasing: data[k..<(k + unshared)]),
                UnsafeRawBufferPointer(rebasing: data[(k + unshared)..<(k + unshared + vlen)]))
    }

    /// Moves to the entry at `nextOffset`, or past the end.
    private mutating func parseNext() throws {
        let p = nextOffset
        guard p < entriesEnd else {
            current = entriesEnd
            return
        }
        let (shared, unshared, vlen, k) = try header(at: p)
        guard shared <= keyLen else { throw ShaleError.corruption("block entry at \(p) shares \(shared) bytes of a \(keyLen)-byte key") }
        let total = shared + unshared
        guard total >= InternalKey.trailerSize else { throw ShaleError.corruption("block entry at \(p) has a \(total)-byte key") }
        guard total <= keyBuf.count, let dst = keyBuf.baseAddress else {
            throw ShaleError.corruption("block entry at \(p) has a key longer than the table's longest key")
        }
        if unshared > 0, let src = data.baseAddress {
            (dst + shared).copyMemory(from: src + k, byteCount: unshared)
        }
        keyLen = total
        valueStart = k + unshared
        valueLen = vlen
        current = p
        nextOffset = valueStart + vlen
    }

    mutating func seekToFirst() throws {
        keyLen = 0
        nextOffset = 0
        try parseNext()
    }

    mutating func next() throws {
        guard isValid else { return }
        try parseNext()
    }

    /// Positions at the first entry whose key is >= `target` (invalid if none).
    mutating func seek(_ target: UnsafeRawBufferPointer) throws {
        guard restartCount > 0 else {
            current = entriesEnd
            return
        }
        // Last restart whose key is < target; the answer lies at or after it.
        var lo = 0
        var hi = restartCount - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if InternalKey.compare(try restartKey(mid), target) < 0 {
                lo = mid
            } else {
                hi = mid - 1
            }
        }
        keyLen = 0
        nextOffset = try restartOffset(lo)
        try parseNext()
        while isValid && InternalKey.compare(key, target) < 0 {
            try parseNext()
        }
    }
}
