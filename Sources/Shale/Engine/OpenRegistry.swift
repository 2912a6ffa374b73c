#if canImport(Glibc)
import Glibc
#endif

/// The locations this process has open as a writer, so an operation that needs the database
/// closed (restore) can refuse with BUSY instead of fencing its own process's handle.
enum OpenRegistry {
    private static let lock = Lock()
    nonisolated(unsafe) private static var open: [String: Int] = [:]

    /// A stable name for a location: the real path of a directory, or the memory name.
    static func canonical(_ location: String) -> String {
        var path = location
        if path.hasPrefix("memory://") { return path }
        if path.hasPrefix("file://") { path = String(path.dropFirst("file://".count)) }
        guard let rp = realpath(path, nil) else { return path }
        defer { free(rp) }
        return String(cString: rp)
    }

    static func add(_ location: String) {
        let key = canonical(location)
        lock.withLock { open[key, default: 0] += 1 }
    }

    static func remove(_ location: String) {
        let key = canonical(location)
        lock.withLock {
            if let n = open[key] { if n <= 1 { open.removeValue(forKey: key) } else { open[key] = n - 1 } }
        }
    }

    static func isOpen(_ location: String) -> Bool {
        let key = canonical(location)
        return lock.withLock { open[key] != nil }
    }
}
