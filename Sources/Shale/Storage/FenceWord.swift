import Atomics
#if canImport(Glibc)
import Glibc
#endif

/// The writer epoch in memory that every process using the location shares (an mmap of a
/// small file for a local directory). A writer reads it after each WAL fsync, before it
/// acknowledges: once a newer writer has stored its epoch here, the old one stops.
public final class FenceWord: @unchecked Sendable {
    private let word: UnsafeAtomic<UInt64>
    private let release: () -> Void

    init(at p: UnsafeMutableRawPointer, release: @escaping () -> Void) {
        word = UnsafeAtomic(at: p.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
        self.release = release
    }

    deinit { release() }

    public func load() -> UInt64 { word.load(ordering: .sequentiallyConsistent) }

    /// Raises the word to `epoch` (never lowers it).
    public func raise(to epoch: UInt64) {
        var cur = word.load(ordering: .sequentiallyConsistent)
        while cur < epoch {
            let (done, now) = word.compareExchange(expected: cur, desired: epoch, ordering: .sequentiallyConsistent)
            if done { return }
            cur = now
        }
    }

    /// A word private to this process (memory stores).
    public static func inMemory() -> FenceWord {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
        p.storeBytes(of: 0, as: UInt64.self)
        return FenceWord(at: p) { p.deallocate() }
    }

    /// A word in the file at `path`, shared by every process that maps it.
    public static func mapped(path: String) throws -> FenceWord {
        let fd = try Syscalls.open(path, O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        if try Syscalls.fileSize(path) < 8 {
            if ftruncate(fd, 8) != 0 { throw Syscalls.error(.write, path, errno) }
        }
        guard let p = mmap(nil, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw Syscalls.error(.mmap, path, errno)
        }
        return FenceWord(at: p) { munmap(p, 8) }
    }
}
