/// Checkpoint ids: random (version 4) UUIDs, written as 36-character lowercase text.
public enum CheckpointId {
    public static func random() -> [UInt8] {
        var b = (0..<16).map { _ in UInt8.random(in: 0...255) }
        b[6] = (b[6] & 0x0f) | 0x40
        b[8] = (b[8] & 0x3f) | 0x80
        return b
    }

    public static func text(_ b: [UInt8]) -> String {
        let hex = b.map { byte -> String in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        let c = Array(hex)
        guard c.count == 32 else { return hex }
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    /// Parses UUID text; invalid-argument for anything else.
    public static func parse(_ s: String) throws -> [UInt8] {
        let u = Array(s.utf8)
        guard u.count == 36, u[8] == 45, u[13] == 45, u[18] == 45, u[23] == 45 else {
            throw ShaleError.invalid("'\(s)' is not a checkpoint id (want a UUID like 0f8fad5b-d9cb-469f-a165-70867728950e)")
        }
        var out: [UInt8] = []
        var hi: UInt8? = nil
        for (i, ch) in u.enumerated() where ![8, 13, 18, 23].contains(i) {
            let v: UInt8
            switch ch {
            case 48...57: v = ch - 48
            case 97...102: v = ch - 87
            case 65...70: v = ch - 55
            default: throw ShaleError.invalid("'\(s)' is not a checkpoint id (bad hex digit)")
            }
            if let h = hi {
                out.append(h << 4 | v)
                hi = nil
            } else {
                hi = v
            }
        }
        return out
    }
}

extension CheckpointEntry {
    public var idText: String { CheckpointId.text(id) }

    public func isExpired(nowMs: Int64) -> Bool { expireTimeMs != 0 && expireTimeMs <= nowMs }
}
