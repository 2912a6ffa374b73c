import CShaleABI
import Shale
#if canImport(Glibc)
import Glibc
#endif

/// Copies a Swift string into a fixed C char array (tuple), NUL-terminated, truncating.
func fill<T>(_ field: inout T, _ text: String) {
    withUnsafeMutableBytes(of: &field) { buf in
        let bytes = Array(text.utf8.prefix(buf.count - 1))
        for (i, b) in bytes.enumerated() { buf[i] = b }
        buf[bytes.count] = 0
    }
}

@c @implementation
public func shale_checkpoint_create(_ db: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ lifetime_ms: Int64,
                                    _ wait_durable: Int32, _ id_out: UnsafeMutablePointer<CChar>?) -> Int32 {
    id_out?.pointee = 0
    return run {
        let h = try handle(db, DBHandle.self, "db")
        guard let id_out else { throw invalid("id_out is NULL") }
        let entry = try h.db.createCheckpoint(name: name.map { String(cString: $0) }, lifetimeMs: lifetime_ms,
                                              waitDurable: wait_durable != 0)
        let text = entry.idText
        text.withCString { strncpy(id_out, $0, 37) }
        id_out[36] = 0
        return 0
    }
}

@c @implementation
public func shale_checkpoint_list(_ location: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<shale_checkpoint_info>?>?,
                                  _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    out?.pointee = nil
    count?.pointee = 0
    return run {
        guard let out, let count else { throw invalid("an out-pointer is NULL") }
        let list = try CheckpointAdmin.list(try string(location, "location"))
        if list.isEmpty { return 0 }
        guard let raw = calloc(list.count, MemoryLayout<shale_checkpoint_info>.stride) else {
            throw ShaleError.io("out of memory for \(list.count) checkpoints")
        }
        let infos = raw.assumingMemoryBound(to: shale_checkpoint_info.self)
        for (i, c) in list.enumerated() {
            var info = shale_checkpoint_info()
            fill(&info.id, c.idText)
            fill(&info.name, c.name)
            info.manifest_id = c.manifestId
            info.sequence = c.sequence
            info.create_time_ms = c.createTimeMs
            info.expire_time_ms = c.expireTimeMs
            infos[i] = info
        }
        out.pointee = infos
        count.pointee = list.count
        return 0
    }
}

@c @implementation
public func shale_checkpoint_refresh(_ location: UnsafePointer<CChar>?, _ id: UnsafePointer<CChar>?, _ lifetime_ms: Int64) -> Int32 {
    run {
        try CheckpointAdmin.refresh(try string(location, "location"), id: try string(id, "checkpoint id"), lifetimeMs: lifetime_ms)
        return 0
    }
}

@c @implementation
public func shale_checkpoint_delete(_ location: UnsafePointer<CChar>?, _ id: UnsafePointer<CChar>?) -> Int32 {
    run {
        try CheckpointAdmin.delete(try string(location, "location"), id: try string(id, "checkpoint id"))
        return 0
    }
}

@c @implementation
public func shale_restore(_ location: UnsafePointer<CChar>?, _ checkpoint_id: UnsafePointer<CChar>?) -> Int32 {
    run {
        try CheckpointAdmin.restore(try string(location, "location"), checkpointId: try string(checkpoint_id, "checkpoint id"))
        return 0
    }
}

@c @implementation
public func shale_clone(_ src_location: UnsafePointer<CChar>?, _ checkpoint_id: UnsafePointer<CChar>?,
                        _ dest_location: UnsafePointer<CChar>?) -> Int32 {
    run {
        try CheckpointAdmin.clone(try string(src_location, "source location"),
                                  checkpointId: checkpoint_id.map { String(cString: $0) },
                                  destination: try string(dest_location, "destination location"))
        return 0
    }
}

// MARK: readers

@c @implementation
public func shale_reader_open(_ location: UnsafePointer<CChar>?, _ checkpoint_id: UnsafePointer<CChar>?,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return run {
        guard let out else { throw invalid("out is NULL") }
        let r = try Reader.open(try string(location, "location"), checkpointId: checkpoint_id.map { String(cString: $0) })
        out.pointee = retainedPointer(ReaderHandle(r))
        return 0
    }
}

@c @implementation
public func shale_reader_get(_ r: OpaquePointer?, _ key: UnsafeRawPointer?, _ klen: Int,
                             _ val: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ vlen: UnsafeMutablePointer<Int>?) -> Int32 {
    val?.pointee = nil
    vlen?.pointee = 0
    return run {
        let reader = try handle(r, ReaderHandle.self, "reader").reader
        return try getInto(key, klen, val, vlen) { k, copy in try reader.get(k, copy) }
    }
}

@c @implementation
public func shale_reader_scan(_ r: OpaquePointer?, _ start: UnsafeRawPointer?, _ slen: Int,
                              _ end: UnsafeRawPointer?, _ elen: Int, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    out?.pointee = nil
    return run {
        guard let out else { throw invalid("out is NULL") }
        let h = try handle(r, ReaderHandle.self, "reader")
        let lo = start == nil ? nil : Array(try bytes(start, slen, "start"))
        let hi = end == nil ? nil : Array(try bytes(end, elen, "end"))
        let it = try h.reader.scan(start: lo, end: hi)
        let reader = h.reader
        out.pointee = retainedPointer(IteratorHandle(owner: h, iterator: it) { reader.isClosed })
        return 0
    }
}

@c @implementation
public func shale_reader_close(_ r: OpaquePointer?) -> Int32 {
    guard let r else { return 0 }
    Unmanaged<ReaderHandle>.fromOpaque(UnsafeRawPointer(r)).takeUnretainedValue().reader.close()
    release(r, ReaderHandle.self)
    return 0
}
