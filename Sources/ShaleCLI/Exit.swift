#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Shale

// Exit codes follow the engine's status codes (0 OK, 1 NOT_FOUND, 2 INVALID_ARGUMENT,
// 3 IO_ERROR, 4 CORRUPTION, 5 CLOSED, 6 FENCED, 7 BUSY, 8 NOT_SUPPORTED, 9 INTERNAL).
// Command-line usage errors are INVALID_ARGUMENT (2). Errors print
// `shale: <STATUS_NAME>: <message>` to stderr.

enum Exit {
    /// Parses the command line, runs the command and exits with the status's code.
    static func run(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try ShaleCommand.parseAsRoot(arguments)
            try command.run()
            exit(0)
        } catch {
            fail(error)
        }
    }

    static func fail(_ error: Error) -> Never {
        switch error {
        case let e as ShaleError:
            report(e.status, e.message)
        case let e as ExitCode:
            exit(e.rawValue)
        default:
            let code = ShaleCommand.exitCode(for: error)
            if code == .success {
                // --help, --version and other clean exits.
                let text = ShaleCommand.fullMessage(for: error)
                if !text.isEmpty { writeLine(text) }
                exit(0)
            }
            if code == .validationFailure {
                let message = ShaleCommand.message(for: error)
                var usage = ShaleCommand.fullMessage(for: error)
                let prefix = "Error: " + message
                if usage.hasPrefix(prefix) { usage = String(usage.dropFirst(prefix.count)) }
                while usage.first == "\n" { usage.removeFirst() }
                writeErr("shale: \(ShaleStatus.invalidArgument.name): \(message)\n")
                if !usage.isEmpty { writeErr(usage + "\n") }
                exit(ShaleStatus.invalidArgument.rawValue)
            }
            report(.internalError, ShaleCommand.message(for: error))
        }
    }

    static func report(_ status: ShaleStatus, _ message: String) -> Never {
        writeErr("shale: \(status.name): \(message)\n")
        exit(status.rawValue)
    }
}
