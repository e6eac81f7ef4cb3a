import Foundation
import Reachability

/// TOML and the system description built from it (models resolve in an empty folder).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTOML(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: Data(bytes: start, count: count), as: UTF8.self)
    _ = try? TOMLParser.parse(text, file: "fuzz.toml")
    _ = try? SystemDescription.parse(text: text, file: "fuzz.toml", directory: "/nonexistent-reachguard-fuzz")
    return 0
}
