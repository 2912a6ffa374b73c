#if canImport(Glibc)
import Glibc
#endif

/// Holds the current `ReadView` in several stripes, each under its own lock: a reader takes
/// the stripe its thread hashes to, so readers on different threads do not contend for one
/// lock (or one cache line); publishing a new view updates every stripe.
final class ViewCell: @unchecked Sendable {
    private final class Stripe {
        let lock = Lock()
        var view: ReadView
        init(_ v: ReadView) { view = v }
    }

    private static let stripeCount = 16
    /// Never mutated after init: only each stripe's `view` changes, under its lock.
    private let stripes: [Stripe]

    init(_ v: ReadView) {
        stripes = (0..<Self.stripeCount).map { _ in Stripe(v) }
    }

    @inline(__always)
    private static func stripe() -> Int {
        let t = UInt(pthread_self())
        return Int(truncatingIfNeeded: (t >> 12) ^ (t >> 20)) & (stripeCount - 1)
    }

    @inline(__always)
    func load() -> ReadView {
        let s = stripes[Self.stripe()]
        s.lock.lock()
        let v = s.view
        s.lock.unlock()
        return v
    }

    func store(_ v: ReadView) {
        for s in stripes {
            s.lock.lock()
            s.view = v
            s.lock.unlock()
        }
    }
}
