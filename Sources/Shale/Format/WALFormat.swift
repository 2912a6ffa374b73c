/// WAL segment layout:
///   segment := header(24, kind SHALEWAL) record* footer(24)?
///   record  := payload length u32 | payload crc32c u32 | header crc32c u32 (of the previous 8
///              bytes) | payload
///   payload := first sequence u64 | op count u32 | ops (see BatchRep)
/// A segment gets its footer when it is sealed (rolled); the body crc covers every record.
/// The live segment has no footer: a crash can leave a torn last record, which recovery
/// treats as the end of the log.
public enum WALFormat {
    public static let version: UInt32 = 1
    public static let recordHeaderSize = 12

    public static func segmentName(_ id: UInt64) -> String { "wal/" + paddedId(id) + ".wal" }

    public static func segmentId(fromName name: String) -> UInt64? {
        guard name.hasPrefix("wal/"), name.hasSuffix(".wal") else { return nil }
        return UInt64(name.dropFirst(4).dropLast(4))
    }

    /// Appends a record framing around payload bytes already at `out[start...]`:
    /// the caller reserved `recordHeaderSize` bytes at `start` before writing the payload.
    public static func sealRecord(_ out: inout [UInt8], headerAt start: Int) {
        let payloadLen = out.count - start - recordHeaderSize
        let crc = out.withUnsafeBytes { b in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(start + recordHeaderSize)...]))
        }
        out.withUnsafeMutableBytes { b in
            b.storeBytes(of: UInt32(payloadLen).littleEndian, toByteOffset: start, as: UInt32.self)
            b.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
            let hcrc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[start..<(start + 8)]))
            b.storeBytes(of: hcrc.littleEndian, toByteOffset: start + 8, as: UInt32.self)
        }
    }

    /// One decoded record: its payload and where it ends in the file.
    public struct Record {
        public let firstSequence: UInt64
        public let count: Int
        public let ops: UnsafeRawBufferPointer
        public let end: Int
    }

    public enum ScanEnd: Equatable {
        /// Every byte up to the limit was whole records.
        case clean
        /// The records stop at `validLength`: what follows is a torn write.
        case torn(validLength: Int)
    }

    /// Reads the records of a segment, up to `limit` bytes when the manifest bounds it.
    /// `tolerateTornTail`: a damaged last record ends the log instead of being corruption (only
    /// for an unsealed segment that no manifest has bounded yet).
    @discardableResult
    public static func scan(_ bytes: UnsafeRawBufferPointer, file: String, limit: Int?, tolerateTornTail: Bool,
                            _ body: (Record) throws -> Void) throws -> ScanEnd {
        _ = try FileEnvelope.readHeader(bytes, kind: .wal, supported: version, file: file)
        var end = bytes.count
        var sealed = false
        if FileEnvelope.hasFooter(bytes) {
            _ = try FileEnvelope.readBody(bytes, file: file)
            end = bytes.count - FileEnvelope.footerSize
            sealed = true
        }
        if let limit {
            if limit > end || limit < FileEnvelope.headerSize {
                throw ShaleError.corruption("\(file): the manifest expects \(limit) bytes of records, the file has \(end)")
            }
            end = limit
        }
        let tolerant = tolerateTornTail && !sealed && limit == nil
        var pos = FileEnvelope.headerSize
        while pos < end {
            let problem: String
            let recordEnd: Int
            decode: do {
                if end - pos < recordHeaderSize {
                    problem = "record header cut short"
                    recordEnd = end
                    break decode
                }
                let len = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: pos, as: UInt32.self)))
                let crc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: pos + 4, as: UInt32.self))
                let hcrc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: pos + 8, as: UInt32.self))
                if hcrc != CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + 8)])) {
                    problem = "record header checksum mismatch"
                    // The length is untrustworthy: torn only if no whole record follows.
                    recordEnd = hasRecord(bytes, after: pos, end: end) ? -1 : end
                    break decode
                }
                if len > end - pos - recordHeaderSize {
                    problem = "record of \(len) bytes runs past the end"
                    recordEnd = end
                    break decode
                }
                let payload = UnsafeRawBufferPointer(rebasing: bytes[(pos + recordHeaderSize)..<(pos + recordHeaderSize + len)])
                recordEnd = pos + recordHeaderSize + len
                if CRC32C.checksum(payload) != crc {
                    problem = "record checksum mismatch"
                    break decode
                }
                var r = ByteReader(payload, what: file)
                let seq = try r.u64()
                let count = Int(try r.u32())
                let ops = UnsafeRawBufferPointer(rebasing: payload[r.offset...])
                try body(Record(firstSequence: seq, count: count, ops: ops, end: recordEnd))
                pos = recordEnd
                continue
            }
            // A damaged record is a torn tail only if nothing but zeros follows it.
            if tolerant && recordEnd >= 0 && isTail(bytes, from: recordEnd, to: end) {
                return .torn(validLength: pos)
            }
            throw ShaleError.corruption("\(file): \(problem) at byte \(pos)")
        }
        return .clean
    }

    /// True when a record with valid header and payload checksums starts after `pos`.
    private static func hasRecord(_ b: UnsafeRawBufferPointer, after pos: Int, end: Int) -> Bool {
        var p = pos + 1
        while p + recordHeaderSize <= end {
            let hcrc = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: p + 8, as: UInt32.self))
            if hcrc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[p..<(p + 8)])) {
                let len = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
                let crc = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: p + 4, as: UInt32.self))
                if len <= end - p - recordHeaderSize,
                   CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(p + recordHeaderSize)..<(p + recordHeaderSize + len)])) == crc {
                    return true
                }
            }
            p += 1
        }
        return false
    }

    private static func isTail(_ b: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        var i = from
        while i < to {
            if b[i] != 0 { return false }
            i += 1
        }
        return true
    }
}

/// Zero-padded 20-digit decimal, so names sort by number.
public func paddedId(_ id: UInt64) -> String {
    let s = String(id)
    return String(repeating: "0", count: max(0, 20 - s.count)) + s
}
