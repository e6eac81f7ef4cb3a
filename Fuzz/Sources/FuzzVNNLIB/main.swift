import Foundation
import Verification

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVNNLIB(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: Data(bytes: start, count: count), as: UTF8.self)
    if let p = try? VNNLIBParser.parse(text: text, file: "fuzz.vnnlib") {
        for d in p.disjuncts {
            precondition(d.lower.count == p.inputCount && d.upper.count == p.inputCount, "box of the wrong size")
            precondition(zip(d.lower, d.upper).allSatisfy { $0 <= $1 }, "empty box kept")
        }
    }
    return 0
}
