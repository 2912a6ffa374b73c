import CShaleABI
import Shale
#if canImport(Glibc)
import Glibc
#endif

// Static C strings, made once and never freed.
nonisolated(unsafe) private let statusNames: [UnsafePointer<CChar>] = (0...9).map {
    UnsafePointer(strdup(ShaleStatus(rawValue: Int32($0))!.name)!)
}
nonisolated(unsafe) private let unknownName: UnsafePointer<CChar> = UnsafePointer(strdup("UNKNOWN")!)
nonisolated(unsafe) private let versionString: UnsafePointer<CChar> = UnsafePointer(strdup(shaleVersion)!)

@c @implementation
public func shale_errmsg() -> UnsafePointer<CChar>! { ErrorState.current }

@c @implementation
public func shale_status_name(_ status: Int32) -> UnsafePointer<CChar>! {
    status >= 0 && Int(status) < statusNames.count ? statusNames[Int(status)] : unknownName
}

@c @implementation
public func shale_version() -> UnsafePointer<CChar>! { versionString }

@c @implementation
public func shale_free(_ ptr: UnsafeMutableRawPointer?) { free(ptr) }

// MARK: options

@c @implementation
public func shale_options_new() -> OpaquePointer! { retainedPointer(OptionsHandle()) }

@c @implementation
public func shale_options_set(_ opts: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: UnsafePointer<CChar>?) -> Int32 {
    run {
        let h = try handle(opts, OptionsHandle.self, "options")
        try h.options.set(try string(key, "option key"), try string(value, "option value"))
        return 0
    }
}

@c @implementation
public func shale_options_free(_ opts: OpaquePointer?) {
    if let opts { release(opts, OptionsHandle.self) }
}
