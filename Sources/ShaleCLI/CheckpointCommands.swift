import ArgumentParser
import Shale

// checkpoint create | list | refresh | delete.

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Create, list, refresh and delete checkpoints.",
        subcommands: [Create.self, List.self, Refresh.self, Remove.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a checkpoint of the state on storage now; prints its id.",
            discussion: """
                Does not take the writer role, so a writer running in another process keeps \
                going. The checkpoint holds what the WAL holds when the command runs: with \
                wal_sync=always, every acknowledged write.
                """)

        @Argument(help: "The database location.") var db: String
        @Option(help: "A name for the checkpoint (at most 63 bytes).") var name: String?
        @Option(help: ArgumentHelp("Expire after this many milliseconds (0 = never).", valueName: "ms"))
        var lifetimeMs: Int64 = 0
        @Flag(help: "Print the checkpoint as JSON.") var json = false

        func run() throws {
            let entry = try CheckpointAdmin.createDetached(db, name: name, lifetimeMs: lifetimeMs)
            if json {
                writeLine(checkpointJSON(entry).render())
            } else {
                writeLine(entry.idText)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the checkpoints, oldest first.",
            discussion: "Reads the newest manifest only: safe beside a live writer, never fences it.")

        @Argument(help: "The database location.") var db: String
        @Flag(help: "Print JSON (an array).") var json = false

        func run() throws {
            let list = try CheckpointAdmin.list(db)
            if json {
                writeLine(JSON.array(list.map(checkpointJSON)).render())
                return
            }
            let now = wallClockMs()
            let rows = list.map { c in
                [c.idText, c.name.isEmpty ? "-" : Bytes.escaped(Array(c.name.utf8)), String(c.manifestId),
                 String(c.sequence), isoTime(c.createTimeMs), c.expireTimeMs == 0 ? "never" : isoTime(c.expireTimeMs),
                 c.isExpired(nowMs: now) ? "yes" : "no"]
            }
            writeOut(renderTable(header: ["ID", "NAME", "MANIFEST", "SEQUENCE", "CREATED", "EXPIRES", "EXPIRED"], rows: rows))
        }
    }

    struct Refresh: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a checkpoint a new lifetime counted from now (0 = never expires).",
            discussion: "Edits the manifest by compare-and-swap: safe beside a live writer, never fences it.")

        @Argument(help: "The database location.") var db: String
        @Argument(help: "The checkpoint id.") var id: String
        @Option(help: ArgumentHelp("The new lifetime in milliseconds (0 = never expires).", valueName: "ms"))
        var lifetimeMs: Int64

        func run() throws {
            try CheckpointAdmin.refresh(db, id: id, lifetimeMs: lifetimeMs)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete",
            abstract: "Delete a checkpoint (its files are collected later).",
            discussion: "Edits the manifest by compare-and-swap: safe beside a live writer, never fences it.")

        @Argument(help: "The database location.") var db: String
        @Argument(help: "The checkpoint id.") var id: String

        func run() throws {
            try CheckpointAdmin.delete(db, id: id)
        }
    }
}

/// A checkpoint entry as a JSON object.
func checkpointJSON(_ c: CheckpointEntry) -> JSON {
    let now = wallClockMs()
    return .object([
        ("id", .string(c.idText)),
        ("name", c.name.isEmpty ? .null : .string(c.name)),
        ("manifest_id", .int(c.manifestId)),
        ("sequence", .int(c.sequence)),
        ("created_ms", .int(c.createTimeMs)),
        ("created", .string(isoTime(c.createTimeMs))),
        ("expires_ms", c.expireTimeMs == 0 ? .null : .int(c.expireTimeMs)),
        ("expires", c.expireTimeMs == 0 ? .null : .string(isoTime(c.expireTimeMs))),
        ("expired", .bool(c.isExpired(nowMs: now))),
        ("wal_from", .int(c.walFrom)),
        ("wal_to", .int(c.walTo)),
        ("format_version", .int(c.formatVersion)),
    ])
}
