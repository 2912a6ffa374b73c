import CShaleSupport

/// CRC32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
public enum CRC32C {
    @inline(__always)
    public static func checksum(_ b: UnsafeRawBufferPointer, extending crc: UInt32 = 0) -> UInt32 {
        guard let p = b.baseAddress, b.count > 0 else { return crc }
        return shl_crc32c_extend(crc, p, b.count)
    }

    public static func checksum(_ b: [UInt8], extending crc: UInt32 = 0) -> UInt32 {
        b.withUnsafeBytes { checksum($0, extending: crc) }
    }

    public static var isHardware: Bool { shl_crc32c_hardware() != 0 }
}
