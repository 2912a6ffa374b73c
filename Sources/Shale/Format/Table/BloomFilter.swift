/// A 64-bit hash of the XXH64 family, written out here because it is part of the file format:
/// the filter's bit positions must never change between builds.
enum Hash64 {
    private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* p2, 31) &* p1
    }

    @inline(__always) private static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        (acc ^ round(0, v)) &* p1 &+ p4
    }

    @inline(__always) private static func u64(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt64 {
        UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    static func hash(_ b: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let n = b.count
        var i = 0
        var h: UInt64
        if n >= 32 {
            var v1 = seed &+ p1 &+ p2
            var v2 = seed &+ p2
            var v3 = seed
            var v4 = seed &- p1
            while i + 32 <= n {
                v1 = round(v1, u64(b, i))
                v2 = round(v2, u64(b, i + 8))
                v3 = round(v3, u64(b, i + 16))
                v4 = round(v4, u64(b, i + 24))
                i += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt64(n)
        while i + 8 <= n {
            h ^= round(0, u64(b, i))
            h = rotl(h, 27) &* p1 &+ p4
            i += 8
        }
        if i + 4 <= n {
            let k = UInt64(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            h ^= k &* p1
            h = rotl(h, 23) &* p2 &+ p3
            i += 4
        }
        while i < n {
            h ^= UInt64(b[i]) &* p5
            h = rotl(h, 11) &* p1
            i += 1
        }
        h ^= h >> 33
        h = h &* p2
        h ^= h >> 29
        h = h &* p3
        h ^= h >> 32
        return h
    }
}

/// A whole-table bloom filter over user keys, so a point lookup that misses a table costs no
/// index or block access.
///
/// Two layouts, told apart by the first byte:
/// - classic (`probes`, 1...30): probes use double hashing (h1 + i*h2) over the whole bit array;
/// - blocked (`0x80 | probes`): the hash picks one 64-byte block and every probe lands in it,
///   so a lookup touches one cache line instead of `probes` scattered ones. Written by default.
///
/// Encoding: layout/probe byte u8 | bit array. An empty encoding means "no filter".
enum BloomFilter {
    static let blockBytes = 64
    static let blockedFlag: UInt8 = 0x80

    /// Probe count that minimises false positives for a bits-per-key budget (≈ bits * ln 2).
    static func probes(bitsPerKey: Int) -> Int { min(30, max(1, Int(Double(bitsPerKey) * 0.69))) }

    /// Builds a blocked filter from key hashes (each user key hashed once, duplicates allowed).
    static func build(hashes: [UInt64], bitsPerKey: Int) -> [UInt8] {
        guard bitsPerKey > 0 else { return [] }
        let k = probes(bitsPerKey: bitsPerKey)
        let blocks = max(1, (hashes.count * bitsPerKey + blockBytes * 8 - 1) / (blockBytes * 8))
        var out = [UInt8](repeating: 0, count: 1 + blocks * blockBytes)
        out[0] = blockedFlag | UInt8(k)
        out.withUnsafeMutableBytes { buf in
            for h in hashes {
                let base = 1 + blockOf(h, blocks) * blockBytes
                var (x, delta) = inBlockProbes(h)
                for _ in 0..<k {
                    let bit = Int(x & UInt64(blockBytes * 8 - 1))
                    buf[base + (bit >> 3)] |= UInt8(1 << (bit & 7))
                    x = x &+ delta
                }
            }
        }
        return out
    }

    /// The block a hash selects: the high half of hash × block count.
    @inline(__always)
    static func blockOf(_ h: UInt64, _ blocks: Int) -> Int { Int(h.multipliedFullWidth(by: UInt64(blocks)).high) }

    /// Start and step of the probes inside a block, from the hash bits the block choice used
    /// least (the low half, rotated up).
    @inline(__always)
    static func inBlockProbes(_ h: UInt64) -> (UInt64, UInt64) { ((h << 32) | (h >> 32), (h >> 21) | 1) }

    /// Checks an encoded filter's shape; throws when it cannot be a filter.
    static func validate(_ filter: UnsafeRawBufferPointer) throws {
        if filter.isEmpty { return }
        guard filter.count >= 2 else { throw ShaleError.corruption("malformed bloom filter") }
        let k = filter[0] & ~blockedFlag
        guard k >= 1, k <= 30 else { throw ShaleError.corruption("malformed bloom filter") }
        if filter[0] & blockedFlag != 0 && (filter.count - 1) % blockBytes != 0 {
            throw ShaleError.corruption("malformed bloom filter")
        }
    }

    /// False only when `hash`'s key was certainly not added. `filter` must have passed `validate`.
    @inline(__always)
    static func mayContain(_ filter: UnsafeRawBufferPointer, hash h: UInt64) -> Bool {
        if filter.count < 2 { return true }
        let head = filter[0]
        let k = Int(head & ~blockedFlag)
        if head & blockedFlag != 0 {
            let base = 1 + blockOf(h, (filter.count - 1) / blockBytes) * blockBytes
            var (x, delta) = inBlockProbes(h)
            for _ in 0..<k {
                let bit = Int(x & UInt64(blockBytes * 8 - 1))
                if filter[base + (bit >> 3)] & UInt8(1 << (bit & 7)) == 0 { return false }
                x = x &+ delta
            }
            return true
        }
        let bits = UInt64((filter.count - 1) * 8)
        var x = h
        let delta = (h >> 33) | (h << 31) | 1
        for _ in 0..<k {
            let bit = Int(x.multipliedFullWidth(by: bits).high)
            if filter[1 + (bit >> 3)] & UInt8(1 << (bit & 7)) == 0 { return false }
            x = x &+ delta
        }
        return true
    }
}
