/// One caller's pending write, living on the caller's stack while it waits in the queue.
/// Keys and values point at the caller's buffers, which stay valid until the call returns,
/// so nothing is copied before the leader encodes the WAL record.
struct PendingWrite {
    enum Kind { case put, delete, batch, syncOnly }
    var kind: Kind
    var key = UnsafeRawBufferPointer(start: nil, count: 0)
    var value = UnsafeRawBufferPointer(start: nil, count: 0)
    /// Encoded ops of a batch (BatchRep) and their count.
    var ops = UnsafeRawBufferPointer(start: nil, count: 0)
    var opCount = 0
    /// Make the group durable before acknowledging, whatever the sync policy.
    var forceSync = false
    var done = false
    var error: ShaleError?

    var operationCount: Int {
        switch kind {
        case .put, .delete: return 1
        case .batch: return opCount
        case .syncOnly: return 0
        }
    }

    var encodedSize: Int {
        switch kind {
        case .put: return key.count + value.count + 24
        case .delete: return key.count + 16
        case .batch: return ops.count + 12
        case .syncOnly: return 0
        }
    }
}

/// FIFO of waiting writers; the head is the leader.
struct WriterQueue {
    private var items: [UnsafeMutablePointer<PendingWrite>] = []
    private var head = 0

    init() { items.reserveCapacity(64) }

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }
    var first: UnsafeMutablePointer<PendingWrite>? { isEmpty ? nil : items[head] }

    subscript(i: Int) -> UnsafeMutablePointer<PendingWrite> { items[head + i] }

    mutating func append(_ w: UnsafeMutablePointer<PendingWrite>) { items.append(w) }

    mutating func removeFirst(_ n: Int) {
        head += n
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 {
            items.removeFirst(head)
            head = 0
        }
    }
}
