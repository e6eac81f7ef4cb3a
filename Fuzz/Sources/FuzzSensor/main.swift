import Foundation
import Monitor

/// Sensor messages: the first byte picks how the rest is split into frames.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSensor(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Data(bytes: start, count: count)
    let decoder = SensorDecoder(topic: "state", stateCount: 2, maximumBytes: 4096)
    guard let first = bytes.first else { _ = decoder.decode([]); return 0 }
    let rest = bytes.dropFirst()
    let frames: [Data]
    switch first % 3 {
    case 0: frames = [Data("state".utf8), Data(rest)]
    case 1: frames = [Data(rest)]
    default:
        let cut = rest.startIndex + rest.count / 2
        frames = [Data(rest[..<cut]), Data(rest[cut...])]
    }
    if case .success(let m) = decoder.decode(frames) {
        precondition(m.x.count == 2 && m.x.allSatisfy { $0.isFinite }, "decoded a bad state")
        precondition(m.radius.map { $0.allSatisfy { $0 >= 0 && $0.isFinite } } ?? true, "decoded a bad radius")
    }
    return 0
}
