/// Iterates the live keys of a view at one sequence within [start, end): for each user key,
/// the newest version at or below the sequence, skipping deletions. It holds its view, so it
/// keeps reading the same state while writes, flushes and compactions go on (and, in Swift,
/// after the database is closed; the C ABI answers CLOSED then).
public final class DBIterator {
    private let view: ReadView
    private let sequence: UInt64
    private let end: [UInt8]?
    private let merged: MergingIterator
    private var keyBuffer: [UInt8] = []
    private var valueBuffer: [UInt8] = []
    private var started = false
    private var finished = false
    init(view: ReadView, sequence: UInt64, start: [UInt8]?, end: [UInt8]?) throws {
        self.view = view
        self.sequence = sequence
        self.end = end
        var children: [InternalIterator] = [view.mem.makeIterator()]
        for m in view.imms { children.append(m.makeIterator()) }
        for r in view.runs { children.append(r.makeIterator()) }
        for t in view.version.levels[0] { children.append(t.reader.makeIterator()) }
        for level in view.version.levels.dropFirst() where !level.isEmpty { children.append(LevelIterator(level)) }
        merged = MergingIterator(children)
        if let start, !start.isEmpty {
            let target = InternalKey.make(start, trailer: InternalKey.seekTrailer(sequence))
            try target.withUnsafeBytes { try merged.seek($0) }
        } else {
            try merged.seekToFirst()
        }
    }

    /// The current key and value (copies).
    public var currentKey: [UInt8] { keyBuffer }
    public var currentValue: [UInt8] { valueBuffer }

    /// Moves to the next live key; false at the end.
    public func next() throws -> Bool {
        if finished { return false }
        var haveLast = started
        started = true
        while merged.isValid {
            let ik = merged.key
            let uk = InternalKey.userKey(ik)
            if let end, end.withUnsafeBytes({ compareBytes(uk, $0) }) >= 0 { break }
            let trailer = InternalKey.trailer(of: ik)
            if haveLast && keyBuffer.withUnsafeBytes({ compareBytes(uk, $0) }) == 0 {
                try merged.next()
                continue
            }
            if InternalKey.sequence(ofTrailer: trailer) > sequence {
                try merged.next()
                continue
            }
            keyBuffer.removeAll(keepingCapacity: true)
            keyBuffer.append(contentsOf: uk)
            haveLast = true
            if trailer & 0xff == UInt64(EntryKind.value.rawValue) {
                valueBuffer.removeAll(keepingCapacity: true)
                valueBuffer.append(contentsOf: merged.value)
                try merged.next()
                return true
            }
            try merged.next()
        }
        finished = true
        return false
    }

    /// Borrowed access to the current entry without copying out.
    public func withCurrent<T>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try keyBuffer.withUnsafeBytes { k in try valueBuffer.withUnsafeBytes { v in try body(k, v) } }
    }
}
