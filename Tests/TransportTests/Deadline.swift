import Dispatch

/// A point on the monotonic clock: wall-clock jumps (NTP, suspend) cannot stretch or cut a wait.
struct Deadline {
    let end: UInt64
    init(seconds: Double) { end = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9) }
    var passed: Bool { DispatchTime.now().uptimeNanoseconds >= end }
}

/// Seconds on the monotonic clock since `start` (from `monotonicNow()`).
func monotonicNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
func secondsSince(_ start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
