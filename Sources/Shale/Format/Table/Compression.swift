import CLZ4
import CZstd

/// How a table's data blocks are compressed. Each block records its own type byte, so a
/// table may mix compressed blocks with blocks that did not shrink and were stored raw.
public enum Compression: String, Sendable, CaseIterable {
    case none, zstd, lz4

    /// The on-disk type byte; these numbers never change.
    var code: UInt8 {
        switch self {
        case .none: return 0
        case .zstd: return 1
        case .lz4: return 2
        }
    }

    init?(code: UInt8) {
        switch code {
        case 0: self = .none
        case 1: self = .zstd
        case 2: self = .lz4
        default: return nil
        }
    }
}

/// A reusable zstd compression context: creating one per block costs more than compressing.
final class ZstdCompressor {
    let cctx: OpaquePointer?
    init() { cctx = ZSTD_createCCtx() }
    deinit { if let c = cctx { ZSTD_freeCCtx(c) } }
}

/// A reusable zstd decompression context (ZSTD_decompress would allocate one per call).
final class ZstdDecompressor {
    let dctx: OpaquePointer?
    init() { dctx = ZSTD_createDCtx() }
    deinit { if let d = dctx { ZSTD_freeDCtx(d) } }
}

/// A compressed block payload is `varint rawLength | codec bytes`; the raw length lets the
/// reader size its buffer up front and check the codec produced exactly that much.
enum BlockCodec {
    /// Appends the compressed payload of `src` to `out` and returns true, or returns false
    /// (leaving `out` as it was) when the codec failed or saved less than 1/8.
    static func compress(_ src: UnsafeRawBufferPointer, _ c: Compression, zstdLevel: Int,
                         zstd: ZstdCompressor?, into out: inout [UInt8]) -> Bool {
        guard c != .none, let s = src.baseAddress, src.count > 0 else { return false }
        let mark = out.count
        var w = ByteWriter(capacity: 10)
        w.varint(UInt64(src.count))
        out.append(contentsOf: w.bytes)
        let start = out.count
        var bound = 0
        switch c {
        case .none: return false
        case .zstd:
            bound = ZSTD_compressBound(src.count)
            if ZSTD_isError(bound) != 0 { out.removeSubrange(mark...); return false }
        case .lz4:
            if src.count > Int(LZ4_MAX_INPUT_SIZE) { out.removeSubrange(mark...); return false }
            bound = Int(LZ4_compressBound(Int32(src.count)))
        }
        out.append(contentsOf: repeatElement(0, count: bound))
        let written: Int = out.withUnsafeMutableBytes { all in
            let d = all.baseAddress! + start
            switch c {
            case .none: return -1
            case .zstd:
                let level = Int32(min(max(zstdLevel, 1), 3))
                let n: Int
                if let ctx = zstd?.cctx {
                    n = ZSTD_compressCCtx(ctx, d, bound, s, src.count, level)
                } else {
                    n = ZSTD_compress(d, bound, s, src.count, level)
                }
                return ZSTD_isError(n) != 0 ? -1 : n
            case .lz4:
                let n = LZ4_compress_default(s.assumingMemoryBound(to: CChar.self),
                                             d.assumingMemoryBound(to: CChar.self),
                                             Int32(src.count), Int32(bound))
                return n <= 0 ? -1 : Int(n)
            }
        }
        let total = (start - mark) + max(written, 0)
        if written < 0 || total >= src.count - src.count / 8 {
            out.removeSubrange(mark...)
            return false
        }
        out.removeSubrange((start + written)...)
        return true
    }

    /// Reads the raw length at the front of a compressed payload.
    static func rawLength(_ payload: UnsafeRawBufferPointer, file: String, block: Int) throws -> (raw: Int, body: UnsafeRawBufferPointer) {
        var r = ByteReader(payload, what: "\(file): block \(block)")
        let raw = try r.varint()
        guard raw > 0, raw <= UInt64(Int32.max) else {
            throw ShaleError.corruption("\(file): block \(block): implausible uncompressed size \(raw)")
        }
        return (Int(raw), UnsafeRawBufferPointer(rebasing: payload[r.offset...]))
    }

    /// Decompresses `src` into exactly `dst.count` bytes; any codec error or size mismatch is
    /// corruption.
    static func decompress(_ c: Compression, _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer,
                           zstd: ZstdDecompressor?, file: String, block: Int) throws {
        guard let s = src.baseAddress, src.count > 0, let d = dst.baseAddress, dst.count > 0 else {
            throw ShaleError.corruption("\(file): block \(block): empty compressed payload")
        }
        switch c {
        case .none:
            throw ShaleError.corruption("\(file): block \(block): not a compressed block")
        case .zstd:
            let n: Int
            if let ctx = zstd?.dctx {
                n = ZSTD_decompressDCtx(ctx, d, dst.count, s, src.count)
            } else {
                n = ZSTD_decompress(d, dst.count, s, src.count)
            }
            if ZSTD_isError(n) != 0 {
                let why = String(cString: ZSTD_getErrorName(n))
                throw ShaleError.corruption("\(file): block \(block): zstd decompression failed (\(why))")
            }
            if n != dst.count {
                throw ShaleError.corruption("\(file): block \(block): zstd produced \(n) bytes, expected \(dst.count)")
            }
        case .lz4:
            guard src.count <= Int(Int32.max) else {
                throw ShaleError.corruption("\(file): block \(block): lz4 payload too large")
            }
            let n = LZ4_decompress_safe(s.assumingMemoryBound(to: CChar.self), d.assumingMemoryBound(to: CChar.self),
                                        Int32(src.count), Int32(dst.count))
            if n < 0 {
                throw ShaleError.corruption("\(file): block \(block): lz4 decompression failed")
            }
            if Int(n) != dst.count {
                throw ShaleError.corruption("\(file): block \(block): lz4 produced \(n) bytes, expected \(dst.count)")
            }
        }
    }
}
