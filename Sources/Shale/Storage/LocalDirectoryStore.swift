#if canImport(Glibc)
import Glibc
#endif

/// The default backend: a directory on the local filesystem. Whole-object writes are atomic:
/// write a temporary file, fsync it, rename (put) or hard-link (put-if-absent) it into place,
/// then fsync the directory. A crash leaves either the old state or the new, never a torn file.
public final class LocalDirectoryStore: ObjectStore, @unchecked Sendable {
    public let root: String
    public var location: String { root }
    private let tempCounter = Lock()
    private var nextTemp: UInt64 = 0

    public init(root: String, createIfMissing: Bool) throws {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
        if !Syscalls.isDirectory(r) {
            if !createIfMissing { throw ShaleError.notFound("no database at \(r)") }
            try Self.makeDirectories(r)
        }
    }

    static func makeDirectories(_ path: String) throws {
        var partial = path.hasPrefix("/") ? "" : "."
        for comp in path.split(separator: "/") {
            partial += "/" + comp
            if !Syscalls.isDirectory(partial) { try Syscalls.mkdir(partial) }
        }
    }

    func full(_ path: String) -> String { root + "/" + path }

    private func parentDirectory(_ path: String) -> String {
        if let i = path.lastIndex(of: "/") { return full(String(path[..<i])) }
        return root
    }

    private func ensureParent(_ path: String) throws {
        let parent = parentDirectory(path)
        if !Syscalls.isDirectory(parent) { try Self.makeDirectories(parent) }
    }

    /// Writes `data` to a fresh temporary file in the target's directory and fsyncs it.
    private func writeTemp(for path: String, _ data: [UInt8]) throws -> String {
        try ensureParent(path)
        let n: UInt64 = tempCounter.withLock { nextTemp += 1; return nextTemp }
        let tmp = parentDirectory(path) + "/.tmp-\(getpid())-\(n)-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try Syscalls.open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        do {
            try data.withUnsafeBytes { try Syscalls.writeAll(fd, $0, path: tmp) }
            try Syscalls.fsync(fd, path: tmp)
            Glibc.close(fd)
        } catch {
            Glibc.close(fd)
            try? Syscalls.unlink(tmp)
            throw error
        }
        return tmp
    }

    public func put(_ path: String, _ data: [UInt8]) throws {
        let tmp = try writeTemp(for: path, data)
        do {
            try Syscalls.rename(tmp, full(path))
        } catch {
            try? Syscalls.unlink(tmp)
            throw error
        }
        try Syscalls.fsyncDirectory(parentDirectory(path))
    }

    public func putIfAbsent(_ path: String, _ data: [UInt8]) throws -> Bool {
        let tmp = try writeTemp(for: path, data)
        defer { try? Syscalls.unlink(tmp) }
        guard try Syscalls.link(tmp, full(path)) else { return false }
        try Syscalls.unlink(tmp)
        try Syscalls.fsyncDirectory(parentDirectory(path))
        return true
    }

    public func get(_ path: String, range: Range<Int>?) throws -> [UInt8] {
        let p = full(path)
        let fd = try Syscalls.open(p, O_RDONLY)
        defer { Glibc.close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw Syscalls.error(.read, p, errno) }
        let size = Int(st.st_size)
        let r = range ?? 0..<size
        let lo = min(max(r.lowerBound, 0), size)
        let hi = min(max(r.upperBound, lo), size)
        var out = [UInt8](repeating: 0, count: hi - lo)
        let n = try out.withUnsafeMutableBytes { buf -> Int in
            guard let base = buf.baseAddress else { return 0 }
            return try Syscalls.pread(fd, into: base, count: hi - lo, offset: lo, path: p)
        }
        if n < out.count { out.removeSubrange(n...) }
        return out
    }

    public func map(_ path: String) throws -> ByteRegion { try Syscalls.mmapFile(full(path)) }

    public func size(_ path: String) throws -> Int { try Syscalls.fileSize(full(path)) }

    public func list(prefix: String) throws -> [String] {
        // Prefixes name a directory ("wal/") or a directory plus a name start.
        let dir: String
        let namePrefix: String
        if let i = prefix.lastIndex(of: "/") {
            dir = String(prefix[..<i])
            namePrefix = String(prefix[prefix.index(after: i)...])
        } else {
            dir = ""
            namePrefix = prefix
        }
        let names = try Syscalls.listDirectory(dir.isEmpty ? root : full(dir))
        return names.filter { $0.hasPrefix(namePrefix) && !$0.hasPrefix(".tmp-") }
            .map { dir.isEmpty ? $0 : dir + "/" + $0 }
            .sorted()
    }

    public func delete(_ path: String) throws { try Syscalls.unlink(full(path)) }

    public func fenceWord() throws -> FenceWord { try FenceWord.mapped(path: full("writer.fence")) }

    public func createAppendable(_ path: String) throws -> AppendableFile? {
        try ensureParent(path)
        let p = full(path)
        let fd = try Syscalls.open(p, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0o644)
        let f = LocalAppendableFile(fd: fd, path: p, size: try Syscalls.fileSize(p))
        // The new directory entry must survive a crash before anything in it is acknowledged.
        try Syscalls.fsyncDirectory(parentDirectory(path))
        return f
    }

    public func sync() throws { try Syscalls.fsyncDirectory(root) }
}

final class LocalAppendableFile: AppendableFile {
    private var fd: Int32
    private let path: String
    private(set) var size: Int

    init(fd: Int32, path: String, size: Int) {
        self.fd = fd
        self.path = path
        self.size = size
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    func append(_ data: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw ShaleError.closed("\(path) is closed") }
        try Syscalls.writeAll(fd, data, path: path)
        size += data.count
    }

    func sync() throws {
        guard fd >= 0 else { throw ShaleError.closed("\(path) is closed") }
        try Syscalls.fsync(fd, path: path)
    }

    func close() throws {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}
