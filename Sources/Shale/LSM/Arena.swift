#if canImport(Glibc)
import Glibc
#endif

/// Bump allocator for one memtable: entries are never freed one by one, only all together
/// when the memtable is dropped, so inserts cost no heap allocation of their own.
/// One thread allocates at a time (the commit leader); readers only read what was published.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer? = nil
    private var remaining = 0
    /// Bytes handed out (what decides when a memtable is full) and bytes reserved from malloc.
    private(set) var usedBytes = 0
    private(set) var allocatedBytes = 0
    let blockSize: Int

    init(blockSize: Int) { self.blockSize = blockSize }

    deinit { for b in blocks { free(b) } }

    /// `n` bytes aligned to 8.
    func allocate(_ n: Int) -> UnsafeMutableRawPointer {
        let size = (n + 7) & ~7
        usedBytes += size
        if size > remaining {
            if size > blockSize / 4 {
                // Large entries get a block of their own so the current block is not wasted.
                let b = malloc(size)!
                blocks.append(b)
                allocatedBytes += size
                return b
            }
            let b = malloc(blockSize)!
            blocks.append(b)
            allocatedBytes += blockSize
            cursor = b
            remaining = blockSize
        }
        let p = cursor!
        cursor = p + size
        remaining -= size
        return p
    }
}
