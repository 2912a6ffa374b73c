#if canImport(Glibc)
import Glibc
#endif

/// Every system call the local backend makes goes through here, so tests can inject failures
/// (a full disk, an fsync error) at any one of them.
public enum Syscalls {
    public enum Call: String, Sendable {
        case open, write, fsync, rename, link, unlink, mkdir, read, mmap
    }

    /// Test hook: return an errno to make the call fail with it, or nil to let it run.
    nonisolated(unsafe) public static var faultInjector: (@Sendable (Call, String) -> Int32?)?

    @inline(__always)
    static func injected(_ call: Call, _ path: String) -> Int32? {
        guard let f = faultInjector else { return nil }
        return f(call, path)
    }

    static func error(_ call: Call, _ path: String, _ err: Int32) -> ShaleError {
        let text = String(cString: strerror(err))
        let name = errnoName(err)
        if err == ENOENT { return .notFound("\(call.rawValue) \(path): \(text)") }
        return .io("\(call.rawValue) failed for \(path): \(text) (\(name))")
    }

    static func errnoName(_ e: Int32) -> String {
        switch e {
        case EIO: return "EIO"
        case ENOSPC: return "ENOSPC"
        case EACCES: return "EACCES"
        case EEXIST: return "EEXIST"
        case ENOENT: return "ENOENT"
        case EROFS: return "EROFS"
        case EDQUOT: return "EDQUOT"
        case ENOTDIR: return "ENOTDIR"
        default: return "errno \(e)"
        }
    }

    public static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        if let e = injected(.open, path) { throw error(.open, path, e) }
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        if fd < 0 { throw error(.open, path, errno) }
        return fd
    }

    /// Writes all bytes at the file position (retrying short writes and EINTR).
    public static func writeAll(_ fd: Int32, _ data: UnsafeRawBufferPointer, path: String) throws {
        if let e = injected(.write, path) { throw error(.write, path, e) }
        var done = 0
        while done < data.count {
            let n = Glibc.write(fd, data.baseAddress! + done, data.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw error(.write, path, errno)
            }
            done += n
        }
    }

    public static func fsync(_ fd: Int32, path: String) throws {
        if let e = injected(.fsync, path) { throw error(.fsync, path, e) }
        if Glibc.fdatasync(fd) != 0 { throw error(.fsync, path, errno) }
    }

    /// Reads exactly `count` bytes at `offset` (fewer only at end of file).
    public static func pread(_ fd: Int32, into p: UnsafeMutableRawPointer, count: Int, offset: Int, path: String) throws -> Int {
        if let e = injected(.read, path) { throw error(.read, path, e) }
        var done = 0
        while done < count {
            let n = Glibc.pread(fd, p + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw error(.read, path, errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    public static func rename(_ from: String, _ to: String) throws {
        if let e = injected(.rename, to) { throw error(.rename, to, e) }
        if Glibc.rename(from, to) != 0 { throw error(.rename, to, errno) }
    }

    /// Hard link; returns false when `to` already exists.
    public static func link(_ from: String, _ to: String) throws -> Bool {
        if let e = injected(.link, to) { throw error(.link, to, e) }
        if Glibc.link(from, to) != 0 {
            if errno == EEXIST { return false }
            throw error(.link, to, errno)
        }
        return true
    }

    public static func unlink(_ path: String) throws {
        if let e = injected(.unlink, path) { throw error(.unlink, path, e) }
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw error(.unlink, path, errno) }
    }

    public static func mkdir(_ path: String) throws {
        if let e = injected(.mkdir, path) { throw error(.mkdir, path, e) }
        if Glibc.mkdir(path, 0o755) != 0 && errno != EEXIST { throw error(.mkdir, path, errno) }
    }

    public static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        if let e = injected(.fsync, path) { throw error(.fsync, path, e) }
        if Glibc.fsync(fd) != 0 { throw error(.fsync, path, errno) }
    }

    public static func fileSize(_ path: String) throws -> Int {
        var st = stat()
        if Syscalls.statCall(path, &st) != 0 { throw error(.open, path, errno) }
        return Int(st.st_size)
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return Syscalls.statCall(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names in a directory (not . and ..); empty when it does not exist.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw error(.open, path, errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func mmapFile(_ path: String) throws -> ByteRegion {
        if let e = injected(.mmap, path) { throw error(.mmap, path, e) }
        let fd = try open(path, O_RDONLY)
        defer { Glibc.close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw error(.open, path, errno) }
        let size = Int(st.st_size)
        if size == 0 { return ByteRegion(bytes: UnsafeRawBufferPointer(start: nil, count: 0), release: nil) }
        guard let p = Glibc.mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw error(.mmap, path, errno)
        }
        return ByteRegion(bytes: UnsafeRawBufferPointer(start: p, count: size)) { b in
            _ = Glibc.munmap(UnsafeMutableRawPointer(mutating: b.baseAddress!), b.count)
        }
    }

    static func statCall(_ path: String, _ st: inout stat) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | 0o10000000)  // O_PATH
        if fd < 0 { return -1 }
        defer { Glibc.close(fd) }
        return fstat(fd, &st)
    }
}
