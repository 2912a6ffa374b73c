import Foundation
import XCTest
@testable import Shale

/// Bytes of a string.
func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A fresh directory under /tmp, removed by `remove()`.
final class TempDir {
    let path: String

    init(_ tag: String = "shale-unit") {
        path = "/tmp/\(tag)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Every file name below the directory (relative paths), including hidden ones.
    func allFiles() -> [String] {
        guard let e = FileManager.default.enumerator(atPath: path) else { return [] }
        var out: [String] = []
        while let p = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + p, isDirectory: &isDir), !isDir.boolValue {
                out.append(p)
            }
        }
        return out.sorted()
    }
}

/// A memory:// location name nobody else uses.
func freshMemoryName(_ tag: String) -> String { "\(tag)-\(UInt64.random(in: 0...UInt64.max))" }

/// Runs `body`, which must throw a ShaleError with `status`; returns the error for more checks.
@discardableResult
func assertThrowsStatus<T>(_ status: ShaleStatus, _ what: String = "", file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> T) -> ShaleError? {
    do {
        _ = try body()
        XCTFail("\(what): expected \(status.name), got success", file: file, line: line)
    } catch let e as ShaleError {
        XCTAssertEqual(e.status, status, "\(what): \(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("\(what): expected ShaleError \(status.name), got \(error)", file: file, line: line)
    }
    return nil
}

/// Options from string pairs (through the public setter, as the C ABI does).
func makeOptions(_ pairs: [(String, String)]) throws -> Options {
    var o = Options()
    for (k, v) in pairs { try o.set(k, v) }
    return o
}

/// Reads one number out of `DB.statsJSON()`.
func stat(_ db: DB, _ name: String) throws -> Int {
    let json = try db.statsJSON()
    let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    guard let v = obj?[name] as? NSNumber else {
        throw ShaleError.internalError("stats has no number \(name): \(json)")
    }
    return v.intValue
}

/// Every live (key, value) of a scan.
func scanAll(_ db: DB, start: [UInt8]? = nil, end: [UInt8]? = nil, snapshot: Snapshot? = nil) throws -> [([UInt8], [UInt8])] {
    let it = try db.scan(start: start, end: end, snapshot: snapshot)
    var out: [([UInt8], [UInt8])] = []
    while try it.next() { out.append((it.currentKey, it.currentValue)) }
    return out
}

/// A database location on one of the two local backends, cleaned up by `cleanup()`.
struct TestLocation {
    let location: String
    let dir: TempDir?

    static func memory(_ tag: String) -> TestLocation {
        TestLocation(location: "memory://" + freshMemoryName(tag), dir: nil)
    }

    static func directory(_ tag: String) -> TestLocation {
        let d = TempDir(tag)
        return TestLocation(location: d.path, dir: d)
    }

    func cleanup() {
        if location.hasPrefix("memory://") { MemoryStore.drop(String(location.dropFirst("memory://".count))) }
        dir?.remove()
    }
}
