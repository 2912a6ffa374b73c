#if canImport(Glibc)
import Glibc
#endif

/// Holds the current `ReadView` in several stripes, each under its own lock: a reader takes
/// the stripe its thread hashes to, so readers on different threads do not contend for one
/// lock (or one cache line); publishing a new view updates every stripe.
final class ViewCell: @unchecked Sendable {
    private static let stripeCount = 16
    private let locks: [Lock]
    private var views: [ReadView]

    init(_ v: ReadView) {
        locks = (0..<Self.stripeCount).map { _ in Lock() }
        views = Array(repeating: v, count: Self.stripeCount)
    }

    @inline(__always)
    private static func stripe() -> Int {
        let t = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(bitPattern: UInt(pthread_self()))))
        return Int(truncatingIfNeeded: (t >> 12) ^ (t >> 20)) & (stripeCount - 1)
    }

    @inline(__always)
    func load() -> ReadView {
        let i = Self.stripe()
        locks[i].lock()
        let v = views.withUnsafeBufferPointer { $0[i] }
        locks[i].unlock()
        return v
    }

    func store(_ v: ReadView) {
        for i in 0..<Self.stripeCount {
            locks[i].lock()
            views.withUnsafeMutableBufferPointer { $0[i] = v }
            locks[i].unlock()
        }
    }
}
