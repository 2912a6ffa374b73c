/// Status codes of the C ABI; the numbers never change.
public enum ShaleStatus: Int32, Sendable {
    case ok = 0
    case notFound = 1
    case invalidArgument = 2
    case ioError = 3
    case corruption = 4
    case closed = 5
    case fenced = 6
    case busy = 7
    case notSupported = 8
    case internalError = 9

    public var name: String {
        switch self {
        case .ok: return "OK"
        case .notFound: return "NOT_FOUND"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .ioError: return "IO_ERROR"
        case .corruption: return "CORRUPTION"
        case .closed: return "CLOSED"
        case .fenced: return "FENCED"
        case .busy: return "BUSY"
        case .notSupported: return "NOT_SUPPORTED"
        case .internalError: return "INTERNAL"
        }
    }
}

/// Every error the engine raises: a status for the caller to act on and a message naming
/// the file or argument at fault.
public struct ShaleError: Error, CustomStringConvertible, Sendable, Equatable {
    public let status: ShaleStatus
    public let message: String

    public init(_ status: ShaleStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.name): \(message)" }

    public static func invalid(_ m: String) -> ShaleError { ShaleError(.invalidArgument, m) }
    public static func corruption(_ m: String) -> ShaleError { ShaleError(.corruption, m) }
    public static func io(_ m: String) -> ShaleError { ShaleError(.ioError, m) }
    public static func notFound(_ m: String) -> ShaleError { ShaleError(.notFound, m) }
    public static func closed(_ m: String = "the database is closed") -> ShaleError { ShaleError(.closed, m) }
    public static func fenced(_ m: String) -> ShaleError { ShaleError(.fenced, m) }
    public static func busy(_ m: String) -> ShaleError { ShaleError(.busy, m) }
    public static func notSupported(_ m: String) -> ShaleError { ShaleError(.notSupported, m) }
    public static func internalError(_ m: String) -> ShaleError { ShaleError(.internalError, m) }
}
