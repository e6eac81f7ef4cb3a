import Dispatch

/// A point on the monotonic clock: wall-clock jumps (NTP, suspend) cannot stretch or cut a test's wait.
public struct Deadline {
    let end: UInt64
    public init(seconds: Double) { end = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9) }
    public var passed: Bool { DispatchTime.now().uptimeNanoseconds >= end }
}

/// Monotonic time stamps for measuring elapsed seconds in tests.
public func monotonicNow() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
public func secondsSince(_ start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
