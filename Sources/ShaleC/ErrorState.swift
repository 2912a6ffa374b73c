import Shale
#if canImport(Glibc)
import Glibc
#endif

/// The per-thread message behind shale_errmsg(): a malloc'd C string in thread-local storage.
enum ErrorState {
    static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in free(p) }
        return k
    }()

    nonisolated(unsafe) static let empty: UnsafePointer<CChar> = {
        let p = malloc(1)!.assumingMemoryBound(to: CChar.self)
        p[0] = 0
        return UnsafePointer(p)
    }()

    static func set(_ message: String) {
        let old = pthread_getspecific(key)
        pthread_setspecific(key, strdup(message))
        free(old)
    }

    static func clear() {
        if let old = pthread_getspecific(key) {
            pthread_setspecific(key, nil)
            free(old)
        }
    }

    static var current: UnsafePointer<CChar> {
        guard let p = pthread_getspecific(key) else { return empty }
        return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
    }
}

/// Runs an export body: maps thrown errors to status codes and the thread's message.
/// NOT_FOUND is an outcome, not a failure: it leaves the message empty.
@inline(__always)
func run(_ body: () throws -> Int32) -> Int32 {
    do {
        let rc = try body()
        if rc == ShaleStatus.ok.rawValue || rc == ShaleStatus.notFound.rawValue { ErrorState.clear() }
        return rc
    } catch let e as ShaleError {
        if e.status == .notFound {
            ErrorState.clear()
        } else {
            ErrorState.set(e.description)
        }
        return e.status.rawValue
    } catch {
        ErrorState.set("INTERNAL: \(error)")
        return ShaleStatus.internalError.rawValue
    }
}

func invalid(_ m: String) -> ShaleError { ShaleError.invalid(m) }

/// A (pointer, length) pair from C as a buffer; NULL is allowed only for length 0.
@inline(__always)
func bytes(_ p: UnsafeRawPointer?, _ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
    if n < 0 { throw invalid("\(what) length \(n) is negative or too large") }
    if n == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    guard let p else { throw invalid("\(what) is NULL with length \(n)") }
    return UnsafeRawBufferPointer(start: p, count: n)
}

/// A C string argument that must not be NULL.
func string(_ p: UnsafePointer<CChar>?, _ what: String) throws -> String {
    guard let p else { throw invalid("\(what) is NULL") }
    return String(cString: p)
}

/// Copies bytes into a malloc'd buffer the caller frees with shale_free (never NULL on
/// success, also for an empty value).
func mallocCopy(_ b: UnsafeRawBufferPointer) throws -> UnsafeMutableRawPointer {
    guard let p = malloc(max(b.count, 1)) else { throw ShaleError.io("out of memory for \(b.count) bytes") }
    if b.count > 0 { p.copyMemory(from: b.baseAddress!, byteCount: b.count) }
    return p
}
