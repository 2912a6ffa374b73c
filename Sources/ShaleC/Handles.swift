import Shale

/// What a shale_db pointer refers to. Snapshots and iterators hold a strong reference, so
/// after shale_close the object lives on (as a "zombie") until they are freed, and their calls
/// answer SHALE_CLOSED.
final class DBHandle {
    let db: DB
    init(_ db: DB) { self.db = db }
}

final class OptionsHandle {
    var options = Options()
}

final class SnapshotHandle {
    let owner: DBHandle
    let snapshot: Snapshot
    init(owner: DBHandle, snapshot: Snapshot) {
        self.owner = owner
        self.snapshot = snapshot
    }
}

/// An iterator from a database or a reader; it keeps its owner alive and answers CLOSED once
/// the owner is closed.
final class IteratorHandle {
    let owner: AnyObject
    let iterator: DBIterator
    let ownerClosed: () -> Bool
    init(owner: AnyObject, iterator: DBIterator, ownerClosed: @escaping () -> Bool) {
        self.owner = owner
        self.iterator = iterator
        self.ownerClosed = ownerClosed
    }
}

final class ReaderHandle {
    let reader: Reader
    init(_ r: Reader) { reader = r }
}

@inline(__always)
func handle<T: AnyObject>(_ p: OpaquePointer?, _ type: T.Type, _ what: String) throws -> T {
    guard let p else { throw ShaleError.invalid("\(what) is NULL") }
    return Unmanaged<T>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

func retainedPointer<T: AnyObject>(_ object: T) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

func release<T: AnyObject>(_ p: OpaquePointer, _ type: T.Type) {
    Unmanaged<T>.fromOpaque(UnsafeRawPointer(p)).release()
}
