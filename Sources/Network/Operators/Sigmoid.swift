import Foundation

/// y = 1 / (1 + e^−z): increasing, convex below 0 and concave above, values
/// in (0, 1); relaxed like tanh. Value error: exp's plus an addition and a
/// division, each correctly rounded. f′ = s(1 − s), accurate in absolute terms.
public struct Sigmoid: ElementwiseOperator {
    public init() {}
    public var description: String { "sigmoid" }

    static let ulps = LibmError.exp + 2 * LibmError.division
    static let function = SmoothFunction(value: { Sigmoid.logistic($0) },
                                         derivative: { let s = Sigmoid.logistic($0); return s * (1 - s) },
                                         ulps: ulps, slopeUlps: 4 * ulps)

    @inline(__always) static func logistic(_ z: Double) -> Double { 1 / (1 + Foundation.exp(-z)) }

    public func value(_ z: Double) -> Double { Self.logistic(z) }
    public func derivative(_ z: Double) -> Double { Self.function.derivative(z) }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (max(0, LibmError.down(value(l), Self.ulps)), min(1, LibmError.up(value(u), Self.ulps)))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        Self.function.sigmoidShaped(lower: l, upper: u, inflection: 0)
    }
}
