#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Shale

// Output helpers: raw writes to stdout/stderr, safe byte escaping, hex, ISO-8601 times,
// aligned tables, and a small ordered JSON value (render and parse).

/// Writes all of `bytes` to a file descriptor. A closed pipe ends the program quietly.
func writeFD(_ fd: Int32, _ bytes: [UInt8]) {
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 {
            if errno == EINTR { continue }
            if errno == EPIPE { exit(0) }
            return
        }
        off += n
    }
}

func writeOut(_ bytes: [UInt8]) { writeFD(1, bytes) }
func writeOut(_ s: String) { writeFD(1, Array(s.utf8)) }
func writeLine(_ s: String = "") { writeFD(1, Array((s + "\n").utf8)) }
func writeErr(_ s: String) { writeFD(2, Array(s.utf8)) }

/// Reads a whole file ("-" = standard input).
func readWholeFile(_ path: String) throws -> [UInt8] {
    let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        let e = errno
        let msg = "cannot open \(path): \(String(cString: strerror(e)))"
        throw e == ENOENT ? ShaleError.notFound(msg) : ShaleError.io(msg)
    }
    defer { if fd != 0 { close(fd) } }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw ShaleError.io("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return out
}

// MARK: bytes as text

enum Bytes {
    static let digits = Array("0123456789abcdef".utf8)

    static func hex(_ b: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(b.count * 2)
        for x in b {
            out.append(digits[Int(x >> 4)])
            out.append(digits[Int(x & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func fromHex(_ s: String, what: String) throws -> [UInt8] {
        var t = Substring(s)
        if t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2) }
        let u = Array(t.utf8)
        guard u.count % 2 == 0 else { throw ShaleError.invalid("\(what) '\(s)' is not hex: odd number of digits") }
        func val(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = val(u[i]), let l = val(u[i + 1]) else {
                throw ShaleError.invalid("\(what) '\(s)' is not hex")
            }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    /// Printable ASCII as is; backslash, quotes-free escapes for everything else, so any key
    /// is shown on one line and can be told apart from any other.
    static func escaped(_ b: [UInt8]) -> String {
        var out = ""
        for x in b {
            switch x {
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20...0x7e: out.unicodeScalars.append(Unicode.Scalar(x))
            default: out += "\\x" + hex([x])
            }
        }
        return out
    }

    /// The bytes as a string when they are valid UTF-8, else nil.
    static func utf8(_ b: [UInt8]) -> String? {
        var it = b.makeIterator()
        var decoder = UTF8()
        var s = ""
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let u): s.unicodeScalars.append(u)
            case .emptyInput: return s
            case .error: return nil
            }
        }
    }
}

// MARK: times

/// Milliseconds since the epoch as ISO-8601 UTC, e.g. 2025-01-31T12:00:00.123Z.
func isoTime(_ ms: Int64) -> String {
    var secs = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
    let millis = Int(ms - Int64(secs) * 1000)
    var parts = tm()
    guard gmtime_r(&secs, &parts) != nil else { return String(ms) }
    func pad(_ v: Int32, _ w: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
        + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
}

// MARK: tables

/// Renders rows as left-aligned columns separated by two spaces.
func renderTable(header: [String], rows: [[String]]) -> String {
    var widths = header.map { $0.count }
    for r in rows {
        for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) }
    }
    func line(_ cells: [String]) -> String {
        var s = ""
        for (i, c) in cells.enumerated() {
            if i == cells.count - 1 { s += c } else { s += c + String(repeating: " ", count: widths[i] - c.count + 2) }
        }
        return s + "\n"
    }
    return line(header) + rows.map(line).joined()
}

// MARK: JSON

/// A JSON value that keeps the order of object members.
indirect enum JSON: Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool { a.render() == b.render() }

    static func int<T: BinaryInteger>(_ v: T) -> JSON { .number(String(v)) }
    static func optString(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }

    /// Compact (indent nil) or pretty (indent = spaces per level) text.
    func render(indent: Int? = 2, level: Int = 0) -> String {
        let nl = indent == nil ? "" : "\n"
        let pad = { (l: Int) in indent.map { String(repeating: " ", count: $0 * l) } ?? "" }
        let colon = indent == nil ? ":" : ": "
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return jsonString(s)
        case .array(let a):
            if a.isEmpty { return "[]" }
            return "[" + nl + a.map { pad(level + 1) + $0.render(indent: indent, level: level + 1) }
                .joined(separator: "," + nl) + nl + pad(level) + "]"
        case .object(let o):
            if o.isEmpty { return "{}" }
            return "{" + nl + o.map { pad(level + 1) + jsonString($0.0) + colon + $0.1.render(indent: indent, level: level + 1) }
                .joined(separator: "," + nl) + nl + pad(level) + "}"
        }
    }

    /// Parses JSON text (enough of RFC 8259 for the engine's stats document).
    static func parse(_ text: String) throws -> JSON {
        var p = JSONParser(Array(text.utf8))
        let v = try p.value()
        p.skipSpace()
        if p.i != p.b.count { throw p.fail("trailing text") }
        return v
    }
}

struct JSONParser {
    let b: [UInt8]
    var i = 0
    init(_ b: [UInt8]) { self.b = b }

    func fail(_ m: String) -> ShaleError { ShaleError.internalError("bad JSON at offset \(i): \(m)") }

    mutating func skipSpace() {
        while i < b.count, [0x20, 0x09, 0x0a, 0x0d].contains(b[i]) { i += 1 }
    }

    mutating func literal(_ s: String, _ v: JSON) throws -> JSON {
        let u = Array(s.utf8)
        guard i + u.count <= b.count, Array(b[i..<i + u.count]) == u else { throw fail("expected \(s)") }
        i += u.count
        return v
    }

    mutating func value() throws -> JSON {
        skipSpace()
        guard i < b.count else { throw fail("unexpected end") }
        switch b[i] {
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "["):
            i += 1
            var out: [JSON] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            while true {
                out.append(try value())
                skipSpace()
                guard i < b.count else { throw fail("unterminated array") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
                throw fail("expected , or ]")
            }
        case UInt8(ascii: "{"):
            i += 1
            var out: [(String, JSON)] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let k = try string()
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected :") }
                i += 1
                out.append((k, try value()))
                skipSpace()
                guard i < b.count else { throw fail("unterminated object") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
                throw fail("expected , or }")
            }
        default:
            let start = i
            while i < b.count, "+-0123456789.eE".utf8.contains(b[i]) { i += 1 }
            if start == i { throw fail("unexpected character") }
            return .number(String(decoding: b[start..<i], as: UTF8.self))
        }
    }

    mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while i < b.count {
            let c = b[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < b.count else { break }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "u"):
                guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16) else {
                    throw fail("bad \\u escape")
                }
                i += 4
                out.append(contentsOf: Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{fffd}").utf8))
            default: out.append(e)
            }
        }
        throw fail("unterminated string")
    }
}
