import ArgumentParser
import Shale

// put, get, delete, scan.

/// Turns a command-line key or value into bytes (hex-decoded with --hex).
func argBytes(_ s: String, hex: Bool, what: String) throws -> [UInt8] {
    hex ? try Bytes.fromHex(s, what: what) : Array(s.utf8)
}

struct Put: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store a value under a key.",
        discussion: """
            Opens the database as its writer (creating it if missing): this fences any other \
            writer process of the database. The write is durable when the command returns.
            """)

    @Argument(help: "The database location.") var db: String
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value (or use --value-file).") var value: String?
    @Option(help: ArgumentHelp("Read the value's bytes from a file ('-' = standard input).", valueName: "path"))
    var valueFile: String?
    @Flag(help: "KEY and VALUE are hex.") var hex = false
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if value == nil && valueFile == nil { throw ValidationError("give a VALUE or --value-file") }
        if value != nil && valueFile != nil { throw ValidationError("give either a VALUE or --value-file, not both") }
    }

    func run() throws {
        let k = try argBytes(key, hex: hex, what: "key")
        let v = try valueFile.map { try readWholeFile($0) } ?? argBytes(value!, hex: hex, what: "value")
        try withWriter(db, try engine.make()) { db in
            try db.put(k, v)
            try db.flush()
        }
    }
}

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the value of a key (raw bytes to stdout; exit 1 when missing).",
        discussion: """
            Reads the latest durable state (or a checkpoint) through a read-only view: safe \
            beside a live writer process, which it never fences.
            """)

    @Argument(help: "The database location.") var db: String
    @Argument(help: "The key.") var key: String
    @Option(help: ArgumentHelp("Read the state of this checkpoint.", valueName: "id")) var checkpoint: String?
    @Flag(help: "KEY is hex and the value is printed as hex (with a newline).") var hex = false

    func run() throws {
        let k = try argBytes(key, hex: hex, what: "key")
        let reader = try openReader(db, checkpoint: checkpoint)
        defer { reader.close() }
        guard let v = try reader.get(k) else {
            throw ShaleError.notFound("key '\(Bytes.escaped(k))' not found")
        }
        if hex { writeLine(Bytes.hex(v)) } else { writeOut(v) }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a key (deleting a missing key is not an error).",
        discussion: "Opens the existing database as its writer: this fences any other writer process.")

    @Argument(help: "The database location.") var db: String
    @Argument(help: "The key.") var key: String
    @Flag(help: "KEY is hex.") var hex = false
    @OptionGroup var engine: EngineOptions

    func run() throws {
        let k = try argBytes(key, hex: hex, what: "key")
        try withWriter(db, try engine.make { $0.createIfMissing = false }) { db in
            try db.delete(k)
            try db.flush()
        }
    }
}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List keys and values in [start, end), in key order.",
        discussion: """
            Prints one `key<TAB>value` line per entry, bytes outside printable ASCII escaped \
            (\\n, \\t, \\\\, \\xNN); --hex prints hex instead; --json prints an array of \
            {"key", "value", "key_hex", "value_hex"} objects ("key"/"value" are null when the \
            bytes are not UTF-8). Reads through a read-only view: never fences a writer.
            """)

    @Argument(help: "The database location.") var db: String
    @Option(help: ArgumentHelp("First key (inclusive).", valueName: "key")) var start: String?
    @Option(help: ArgumentHelp("End key (exclusive).", valueName: "key")) var end: String?
    @Option(help: "At most this many entries.") var limit: Int?
    @Option(help: ArgumentHelp("Read the state of this checkpoint.", valueName: "id")) var checkpoint: String?
    @Flag(help: "--start/--end are hex, and keys and values are printed as hex.") var hex = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    func run() throws {
        let s = try start.map { try argBytes($0, hex: hex, what: "start key") }
        let e = try end.map { try argBytes($0, hex: hex, what: "end key") }
        let reader = try openReader(db, checkpoint: checkpoint)
        defer { reader.close() }
        let it = try reader.scan(start: s, end: e)
        var items: [JSON] = []
        var out: [UInt8] = []
        var count = 0
        while limit.map({ count < $0 }) ?? true, try it.next() {
            count += 1
            let k = it.currentKey, v = it.currentValue
            if json {
                items.append(.object([
                    ("key", .optString(Bytes.utf8(k))), ("value", .optString(Bytes.utf8(v))),
                    ("key_hex", .string(Bytes.hex(k))), ("value_hex", .string(Bytes.hex(v))),
                ]))
            } else {
                let line = hex ? Bytes.hex(k) + "\t" + Bytes.hex(v) : Bytes.escaped(k) + "\t" + Bytes.escaped(v)
                out.append(contentsOf: line.utf8)
                out.append(0x0a)
                if out.count >= 1 << 16 {
                    writeOut(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
        }
        if json { writeLine(JSON.array(items).render()) } else { writeOut(out) }
    }
}
