import CShaleABI
import Shale

@c @implementation
public func shale_snapshot_create(_ db: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return run {
        guard let out else { throw invalid("out is NULL") }
        let h = try handle(db, DBHandle.self, "db")
        out.pointee = retainedPointer(SnapshotHandle(owner: h, snapshot: try h.db.snapshot()))
        return 0
    }
}

@c @implementation
public func shale_snapshot_get(_ snap: OpaquePointer?, _ key: UnsafeRawPointer?, _ klen: Int,
                               _ val: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ vlen: UnsafeMutablePointer<Int>?) -> Int32 {
    val?.pointee = nil
    vlen?.pointee = 0
    return run {
        let s = try handle(snap, SnapshotHandle.self, "snapshot")
        if s.snapshot.isReleased { throw ShaleError.invalid("snapshot was released") }
        return try getInto(s.owner.db, s.snapshot, key, klen, val, vlen)
    }
}

@c @implementation
public func shale_snapshot_release(_ snap: OpaquePointer?) {
    guard let snap else { return }
    Unmanaged<SnapshotHandle>.fromOpaque(UnsafeRawPointer(snap)).takeUnretainedValue().snapshot.release()
    release(snap, SnapshotHandle.self)
}

@c @implementation
public func shale_scan(_ db: OpaquePointer?, _ snap: OpaquePointer?, _ start: UnsafeRawPointer?, _ slen: Int,
                       _ end: UnsafeRawPointer?, _ elen: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return run {
        guard let out else { throw invalid("out is NULL") }
        let h = try handle(db, DBHandle.self, "db")
        var snapshot: Snapshot? = nil
        if let snap {
            let s = Unmanaged<SnapshotHandle>.fromOpaque(UnsafeRawPointer(snap)).takeUnretainedValue()
            if s.owner !== h { throw invalid("snapshot belongs to another database handle") }
            snapshot = s.snapshot
        }
        let lo = start == nil ? nil : Array(try bytes(start, slen, "start"))
        let hi = end == nil ? nil : Array(try bytes(end, elen, "end"))
        let it = try h.db.scan(start: lo, end: hi, snapshot: snapshot)
        let db = h.db
        out.pointee = retainedPointer(IteratorHandle(owner: h, iterator: it) { db.isClosedForCalls })
        return 0
    }
}

@c @implementation
public func shale_iter_next(_ it: OpaquePointer?, _ key: UnsafeMutablePointer<UnsafeRawPointer?>?, _ klen: UnsafeMutablePointer<Int>?,
                            _ val: UnsafeMutablePointer<UnsafeRawPointer?>?, _ vlen: UnsafeMutablePointer<Int>?) -> Int32 {
    key?.pointee = nil
    klen?.pointee = 0
    val?.pointee = nil
    vlen?.pointee = 0
    return run {
        let h = try handle(it, IteratorHandle.self, "iterator")
        guard let key, let klen, let val, let vlen else { throw invalid("an out-pointer is NULL") }
        if h.ownerClosed() { throw ShaleError.closed() }
        guard try h.iterator.next() else { return ShaleStatus.notFound.rawValue }
        h.iterator.withCurrent { k, v in
            // Pointers into the iterator's buffers: valid until the next call on it.
            key.pointee = k.baseAddress ?? UnsafeRawPointer(bitPattern: 1)
            klen.pointee = k.count
            val.pointee = v.baseAddress ?? emptyValuePointer
            vlen.pointee = v.count
        }
        return 0
    }
}

/// A valid non-NULL pointer for empty values.
nonisolated(unsafe) private let emptyValuePointer = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1))

@c @implementation
public func shale_iter_free(_ it: OpaquePointer?) {
    if let it { release(it, IteratorHandle.self) }
}
