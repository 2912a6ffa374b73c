import ArgumentParser
import Shale

// restore, clone, stats, dump manifest.

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Roll the database back to a checkpoint, as a new manifest version.",
        discussion: """
            The state before the restore is kept as a checkpoint named pre-restore-<unix ms> \
            (printed), and every other checkpoint survives, so a restore can be undone. A writer \
            process still running on the database is FENCED.
            """)

    @Argument(help: "The database location.") var db: String
    @Argument(help: "The checkpoint id.") var id: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        // The checkpoint the restore made of the replaced state.
        let pre: CheckpointEntry? = try CheckpointAdmin.restore(db, checkpointId: id)
        if json {
            writeLine(JSON.object([("restored", .string(id)), ("pre_restore", pre.map(checkpointJSON) ?? .null)]).render())
        } else if let pre {
            writeLine("restored \(db) to checkpoint \(id); the previous state is checkpoint \(pre.idText) (\(pre.name))")
        } else {
            writeLine("restored \(db) to checkpoint \(id)")
        }
    }
}

struct Clone: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new, independent database from a checkpoint (or the latest durable state).",
        discussion: """
            Tables are hard-linked on the same local filesystem and copied otherwise; the clone \
            shares nothing the source can later delete. DEST must not exist. Never fences the \
            source's writer.
            """)

    @Argument(help: "The source database location.") var source: String
    @Argument(help: "The new database location (must not exist).") var destination: String
    @Option(help: ArgumentHelp("Clone this checkpoint (default: the latest durable state).", valueName: "id"))
    var checkpoint: String?

    func run() throws {
        try CheckpointAdmin.clone(source, checkpointId: checkpoint, destination: destination)
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the database's state and counters.",
        discussion: """
            Opens the database read-only (it replays the WAL in memory but takes no writer \
            role, so it never fences a writer). Counters are this process's, so mostly zero; \
            the state fields (sequences, manifest, levels, checkpoints) are the useful part.
            """)

    @Argument(help: "The database location.") var db: String
    @Flag(help: "Print the engine's JSON document as is.") var json = false

    func run() throws {
        var options = Options()
        options.readOnly = true
        options.createIfMissing = false
        let handle = try DB.open(db, options: options)
        let text: String
        do {
            text = try handle.statsJSON()
        } catch {
            try? handle.close()
            throw error
        }
        try handle.close()
        if json {
            writeLine(text)
            return
        }
        guard case .object(let fields) = try JSON.parse(text) else {
            throw ShaleError.internalError("stats are not a JSON object")
        }
        var rows: [[String]] = []
        for (k, v) in fields {
            switch v {
            case .string(let s): rows.append([k, s])
            case .array(let levels) where k == "levels":
                for (i, level) in levels.enumerated() {
                    guard case .object(let lf) = level else { continue }
                    let parts = lf.map { "\($0.0) \($0.1.render(indent: nil))" }.joined(separator: ", ")
                    rows.append(["level \(i)", parts])
                }
            default: rows.append([k, v.render(indent: nil)])
            }
        }
        let width = rows.map { $0[0].count }.max() ?? 0
        for r in rows { writeLine(r[0] + String(repeating: " ", count: width - r[0].count + 2) + r[1]) }
    }
}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode and print internal files.",
        subcommands: [DumpManifest.self])
}

struct DumpManifest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print a manifest version: sequences, WAL position, levels and tables, checkpoints.",
        discussion: "Reads only: safe beside a live writer. Keys are printed escaped (\\xNN for bytes outside printable ASCII).")

    @Argument(help: "The database location.") var db: String
    @Option(help: ArgumentHelp("The manifest version (default: the newest).", valueName: "N")) var id: UInt64?
    @Flag(help: "List the manifest version ids present instead.") var list = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let store = try StoreLocation.open(db, createIfMissing: false)
        let manifests = ManifestStore(store: store)
        if list {
            let ids = try manifests.versionIds()
            if json { writeLine(JSON.array(ids.map { .int($0) }).render(indent: nil)) } else { ids.forEach { writeLine(String($0)) } }
            return
        }
        let m: Manifest
        if let id {
            m = try manifests.load(id)
        } else {
            guard let latest = try manifests.loadLatest() else { throw ShaleError.notFound("no database at \(db)") }
            m = latest
        }
        if json { writeLine(manifestJSON(m).render()) } else { writeOut(manifestText(m)) }
    }

    func tableJSON(_ t: TableMeta) -> JSON {
        .object([
            ("id", .int(t.id)), ("path", .string(t.path)), ("bytes", .int(t.fileBytes)), ("entries", .int(t.entryCount)),
            ("min_sequence", .int(t.minSequence)), ("max_sequence", .int(t.maxSequence)),
            ("smallest", .string(Bytes.escaped(t.smallest))), ("largest", .string(Bytes.escaped(t.largest))),
            ("smallest_hex", .string(Bytes.hex(t.smallest))), ("largest_hex", .string(Bytes.hex(t.largest))),
        ])
    }

    func manifestJSON(_ m: Manifest) -> JSON {
        .object([
            ("id", .int(m.id)),
            ("path", .string(Manifest.path(m.id))),
            ("writer_epoch", .int(m.writerEpoch)),
            ("created_ms", .int(m.createTimeMs)),
            ("created", .string(isoTime(m.createTimeMs))),
            ("flushed_sequence", .int(m.flushedSequence)),
            ("next_table_number", .int(m.nextTableNumber)),
            ("wal_replay_from", .int(m.walReplayFrom)),
            ("wal_bounds", .array(m.walBounds.map { .object([("segment", .int($0.segment)), ("length", .int($0.length))]) })),
            ("levels", .array(m.levels.enumerated().map { (i, level) in
                .object([
                    ("level", .int(i)), ("tables", .array(level.map(tableJSON))),
                    ("bytes", .int(level.reduce(UInt64(0)) { $0 + $1.fileBytes })),
                    ("entries", .int(level.reduce(UInt64(0)) { $0 + $1.entryCount })),
                ])
            })),
            ("checkpoints", .array(m.checkpoints.map(checkpointJSON))),
        ])
    }

    func manifestText(_ m: Manifest) -> String {
        var s = "manifest \(m.id) (\(Manifest.path(m.id)))\n"
        let fields: [(String, String)] = [
            ("created", isoTime(m.createTimeMs)),
            ("writer epoch", String(m.writerEpoch)),
            ("flushed sequence", String(m.flushedSequence)),
            ("next table number", String(m.nextTableNumber)),
            ("WAL replay from", "segment \(m.walReplayFrom)"),
            ("WAL bounds", m.walBounds.isEmpty ? "none"
                : m.walBounds.map { "segment \($0.segment): \($0.length) bytes" }.joined(separator: ", ")),
        ]
        for (k, v) in fields { s += "  " + k + String(repeating: " ", count: 19 - k.count) + v + "\n" }
        s += "levels\n"
        for (i, level) in m.levels.enumerated() {
            let bytes = level.reduce(UInt64(0)) { $0 + $1.fileBytes }
            let entries = level.reduce(UInt64(0)) { $0 + $1.entryCount }
            s += "  L\(i): \(level.count) table\(level.count == 1 ? "" : "s"), \(bytes) bytes, \(entries) entries\n"
            if level.isEmpty { continue }
            let rows = level.map { t in
                ["    " + String(t.id), String(t.fileBytes), String(t.entryCount), "\(t.minSequence)..\(t.maxSequence)",
                 "'" + Bytes.escaped(t.smallest) + "' .. '" + Bytes.escaped(t.largest) + "'"]
            }
            s += renderTable(header: ["    TABLE", "BYTES", "ENTRIES", "SEQUENCES", "KEYS"], rows: rows)
        }
        s += "checkpoints (\(m.checkpoints.count))\n"
        if !m.checkpoints.isEmpty {
            let now = wallClockMs()
            let rows = m.checkpoints.map { c in
                ["  " + c.idText, c.name.isEmpty ? "-" : Bytes.escaped(Array(c.name.utf8)), String(c.manifestId),
                 String(c.sequence), "\(c.walFrom)..\(c.walTo)", isoTime(c.createTimeMs),
                 c.expireTimeMs == 0 ? "never" : isoTime(c.expireTimeMs), c.isExpired(nowMs: now) ? "yes" : "no"]
            }
            s += renderTable(header: ["  ID", "NAME", "MANIFEST", "SEQUENCE", "WAL", "CREATED", "EXPIRES", "EXPIRED"], rows: rows)
        }
        return s
    }
}
