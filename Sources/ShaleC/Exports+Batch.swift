import CShaleABI
import Shale

@c @implementation
public func shale_batch_new() -> OpaquePointer! { retainedPointer(WriteBatch()) }

@c @implementation
public func shale_batch_put(_ b: OpaquePointer?, _ key: UnsafeRawPointer?, _ klen: Int,
                            _ val: UnsafeRawPointer?, _ vlen: Int) -> Int32 {
    run {
        try handle(b, WriteBatch.self, "batch").put(try bytes(key, klen, "key"), try bytes(val, vlen, "value"))
        return 0
    }
}

@c @implementation
public func shale_batch_delete(_ b: OpaquePointer?, _ key: UnsafeRawPointer?, _ klen: Int) -> Int32 {
    run {
        try handle(b, WriteBatch.self, "batch").delete(try bytes(key, klen, "key"))
        return 0
    }
}

@c @implementation
public func shale_batch_count(_ b: OpaquePointer?) -> Int {
    guard let b else { return 0 }
    return Unmanaged<WriteBatch>.fromOpaque(UnsafeRawPointer(b)).takeUnretainedValue().count
}

@c @implementation
public func shale_batch_clear(_ b: OpaquePointer?) {
    guard let b else { return }
    Unmanaged<WriteBatch>.fromOpaque(UnsafeRawPointer(b)).takeUnretainedValue().clear()
}

@c @implementation
public func shale_batch_free(_ b: OpaquePointer?) {
    if let b { release(b, WriteBatch.self) }
}

@c @implementation
public func shale_write(_ db: OpaquePointer?, _ b: OpaquePointer?) -> Int32 {
    run {
        let h = try handle(db, DBHandle.self, "db")
        try h.db.write(try handle(b, WriteBatch.self, "batch"))
        return 0
    }
}
