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

final class IteratorHandle {
    let owner: DBHandle
    let iterator: DBIterator
    init(owner: DBHandle, iterator: DBIterator) {
        self.owner = owner
        self.iterator = iterator
    }
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
