import ArgumentParser
import Shale

/// The root `shale` command.
struct ShaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shale",
        abstract: "Operate a Shale database: data, checkpoints, restore, clone, stats, dumps.",
        discussion: """
            Every command takes the database location first: a directory path, file:///dir, \
            or memory://name (which lives only inside one process, so it is of little use here).

            Reads (get, scan, checkpoint list, dump) open a read-only view of the latest durable \
            state or of a checkpoint: they work beside a live writer process and never fence it. \
            Writes (put, delete, checkpoint create) open the database as its writer, which FENCES \
            any other writer process of that database (its later writes fail with FENCED). \
            restore also fences a live writer; checkpoint refresh/delete do not.

            Exit codes are the engine's status codes: 0 OK, 1 NOT_FOUND, 2 INVALID_ARGUMENT \
            (also bad command-line usage), 3 IO_ERROR, 4 CORRUPTION, 5 CLOSED, 6 FENCED, 7 BUSY, \
            8 NOT_SUPPORTED, 9 INTERNAL. Errors print `shale: <STATUS>: <message>` to stderr.
            """,
        version: shaleVersion,
        subcommands: [
            Put.self, Get.self, Delete.self, Scan.self,
            CheckpointCommand.self, Restore.self, Clone.self, Stats.self, Dump.self,
        ]
    )
}

/// Engine options for commands that open the database (`-o key=value`, repeatable).
struct EngineOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("option")],
            help: ArgumentHelp("An engine option as key=value (repeatable), e.g. -o wal_sync=always.",
                               valueName: "key=value"))
    var options: [String] = []

    /// Options with the command's defaults, then the user's settings on top.
    func make(_ defaults: (inout Options) -> Void = { _ in }) throws -> Options {
        var o = Options()
        defaults(&o)
        for kv in options {
            guard let eq = kv.firstIndex(of: "=") else {
                throw ShaleError.invalid("option '\(kv)' is not key=value")
            }
            try o.set(String(kv[..<eq]), String(kv[kv.index(after: eq)...]))
        }
        return o
    }
}

/// Runs `body` with the database open as its writer, then closes it (close errors count).
func withWriter<T>(_ location: String, _ options: Options, _ body: (DB) throws -> T) throws -> T {
    let db = try DB.open(location, options: options)
    let result: T
    do {
        result = try body(db)
    } catch {
        try? db.close()
        throw error
    }
    try db.close()
    return result
}

/// Opens a read-only view: the latest durable state, or a checkpoint.
func openReader(_ location: String, checkpoint: String?) throws -> Reader {
    try Reader.open(location, checkpointId: checkpoint)
}
