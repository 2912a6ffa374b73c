/// Builds one block of sorted entries.
///
/// Entry: shared varint | unshared varint | value length varint | unshared key bytes | value.
/// `shared` is how many leading bytes the key has in common with the previous key. Every
/// `restartInterval` entries a restart point stores its key whole (shared = 0) so a reader can
/// binary-search restarts without rebuilding keys. The block ends with the restart offsets
/// (u32 each) and their count (u32).
struct BlockBuilder {
    let restartInterval: Int
    private(set) var buffer: [UInt8] = []
    private var restarts: [UInt32] = []
    private var sinceRestart = 0
    private var lastKey: [UInt8] = []
    private(set) var entryCount = 0

    init(restartInterval: Int = 16) {
        self.restartInterval = max(1, restartInterval)
    }

    var isEmpty: Bool { entryCount == 0 }

    /// Size of the block if finished now.
    var estimatedSize: Int { buffer.count + (restarts.count + 1) * 4 + (isEmpty ? 4 : 0) }

    /// Appends an entry; the caller guarantees keys arrive in order and offsets fit 32 bits.
    mutating func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        var shared = 0
        if sinceRestart >= restartInterval || entryCount == 0 {
            restarts.append(UInt32(truncatingIfNeeded: buffer.count))
            sinceRestart = 0
        } else {
            let n = min(lastKey.count, key.count)
            while shared < n && lastKey[shared] == key[shared] { shared += 1 }
        }
        appendVarint(UInt64(shared))
        appendVarint(UInt64(key.count - shared))
        appendVarint(UInt64(value.count))
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[shared...]))
        buffer.append(contentsOf: value)
        lastKey.removeAll(keepingCapacity: true)
        lastKey.append(contentsOf: key)
        sinceRestart += 1
        entryCount += 1
    }

    /// Returns the finished block bytes and resets for the next block.
    mutating func finish() -> [UInt8] {
        if restarts.isEmpty && entryCount > 0 { restarts.append(0) }
        for r in restarts { appendU32(r) }
        appendU32(UInt32(truncatingIfNeeded: restarts.count))
        let out = buffer
        buffer = []
        restarts.removeAll(keepingCapacity: true)
        sinceRestart = 0
        lastKey.removeAll(keepingCapacity: true)
        entryCount = 0
        return out
    }

    private mutating func appendVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        buffer.append(UInt8(v))
    }

    private mutating func appendU32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) }
    }
}
