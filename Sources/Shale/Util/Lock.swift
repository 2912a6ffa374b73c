#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex on the heap (its address never moves). Measured here to stay at tens of
/// nanoseconds under contention, where `Synchronization.Mutex` degrades badly.
public final class Lock: @unchecked Sendable {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always) public func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always)
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A condition variable used together with a `Lock`.
public final class Condition: @unchecked Sendable {
    let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        cond = .allocate(capacity: 1)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
    }

    /// Waits; the caller holds `lock`.
    public func wait(_ lock: Lock) { pthread_cond_wait(cond, lock.mutex) }

    /// Waits at most `ms` milliseconds; the caller holds `lock`.
    public func wait(_ lock: Lock, timeoutMs ms: Int) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var nsec = Int(now.tv_nsec) + (ms % 1000) * 1_000_000
        var sec = Int(now.tv_sec) + ms / 1000 + nsec / 1_000_000_000
        nsec %= 1_000_000_000
        if sec < 0 { sec = Int.max }
        var deadline = timespec(tv_sec: sec, tv_nsec: nsec)
        pthread_cond_timedwait(cond, lock.mutex, &deadline)
    }

    public func signal() { pthread_cond_signal(cond) }
    public func broadcast() { pthread_cond_broadcast(cond) }
}

/// Milliseconds since the Unix epoch.
public func wallClockMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Monotonic nanoseconds, for intervals.
public func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A dedicated background thread (never the cooperative pool: a blocking wait there can
/// deadlock a caller that is itself on the pool). `join()` waits for it to end.
public final class BackgroundThread: @unchecked Sendable {
    private var tid = pthread_t()
    private var joined = false

    private final class Box {
        let body: @Sendable () -> Void
        init(_ b: @escaping @Sendable () -> Void) { body = b }
    }

    public init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&tid, nil, { arg in
            let b = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed")
    }

    public func join() {
        if joined { return }
        joined = true
        pthread_join(tid, nil)
    }
}
