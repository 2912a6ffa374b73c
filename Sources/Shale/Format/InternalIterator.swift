/// A cursor over internal keys in `InternalKey.compare` order: memtables, tables and merges of
/// them all present this one interface. `key` and `value` stay valid until the next move.
public protocol InternalIterator: AnyObject {
    var isValid: Bool { get }
    /// The current internal key (user key + 8-byte trailer).
    var key: UnsafeRawBufferPointer { get }
    var value: UnsafeRawBufferPointer { get }
    func seekToFirst() throws
    /// Positions at the first entry whose internal key is >= `target`.
    func seek(_ target: UnsafeRawBufferPointer) throws
    func next() throws
}
