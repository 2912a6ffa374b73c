import CShaleABI
import Shale
#if canImport(Glibc)
import Glibc
#endif

@c @implementation
public func shale_open(_ location: UnsafePointer<CChar>?, _ opts: OpaquePointer?,
                       _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return run {
        guard let out else { throw invalid("out is NULL") }
        let loc = try string(location, "location")
        let options = opts.map { Unmanaged<OptionsHandle>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue().options } ?? Options()
        let db = try DB.open(loc, options: options)
        out.pointee = retainedPointer(DBHandle(db))
        return 0
    }
}

@c @implementation
public func shale_close(_ db: OpaquePointer?) -> Int32 {
    guard let db else { return 0 }
    let rc = run {
        try handle(db, DBHandle.self, "db").db.close()
        return 0
    }
    release(db, DBHandle.self)
    return rc
}

@c @implementation
public func shale_put(_ db: OpaquePointer?, _ key: UnsafeRawPointer?, _ klen: Int,
                      _ val: UnsafeRawPointer?, _ vlen: Int) -> Int32 {
    run {
        let h = try handle(db, DBHandle.self, "db")
        try h.db.put(try bytes(key, klen, "key"), try bytes(val, vlen, "value"))
        return 0
    }
}

@c @implementation
public func shale_delete(_ db: OpaquePointer?, _ key: UnsafeRawPointer?, _ klen: Int) -> Int32 {
    run {
        let h = try handle(db, DBHandle.self, "db")
        try h.db.delete(try bytes(key, klen, "key"))
        return 0
    }
}

/// The body of every get export: runs `lookup`, which hands the value to its closure, and
/// returns the copy through (val, vlen); NOT_FOUND when absent.
func getInto(_ key: UnsafeRawPointer?, _ klen: Int,
             _ val: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ vlen: UnsafeMutablePointer<Int>?,
             _ lookup: (UnsafeRawBufferPointer, (UnsafeRawBufferPointer) throws -> (UnsafeMutableRawPointer, Int)) throws
                -> (UnsafeMutableRawPointer, Int)?) throws -> Int32 {
    guard let val, let vlen else { throw invalid("value out-pointer is NULL") }
    let found = try lookup(try bytes(key, klen, "key")) { v in (try mallocCopy(v), v.count) }
    guard let (p, n) = found else { return ShaleStatus.notFound.rawValue }
    val.pointee = p
    vlen.pointee = n
    return 0
}

/// shale_get and shale_snapshot_get.
func getInto(_ db: DB, _ snapshot: Snapshot?, _ key: UnsafeRawPointer?, _ klen: Int,
             _ val: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ vlen: UnsafeMutablePointer<Int>?) throws -> Int32 {
    try getInto(key, klen, val, vlen) { k, copy in try db.get(k, snapshot: snapshot, copy) }
}

@c @implementation
public func shale_get(_ db: OpaquePointer?, _ key: UnsafeRawPointer?, _ klen: Int,
                      _ val: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ vlen: UnsafeMutablePointer<Int>?) -> Int32 {
    val?.pointee = nil
    vlen?.pointee = 0
    return run { try getInto(try handle(db, DBHandle.self, "db").db, nil, key, klen, val, vlen) }
}

@c @implementation
public func shale_flush(_ db: OpaquePointer?) -> Int32 {
    run {
        try handle(db, DBHandle.self, "db").db.flush()
        return 0
    }
}

@c @implementation
public func shale_stats_json(_ db: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    out?.pointee = nil
    return run {
        guard let out else { throw invalid("json_out is NULL") }
        let text = try handle(db, DBHandle.self, "db").db.statsJSON()
        let p = try text.withCString { s in try mallocCopy(UnsafeRawBufferPointer(start: s, count: strlen(s) + 1)) }
        out.pointee = p.assumingMemoryBound(to: CChar.self)
        return 0
    }
}
