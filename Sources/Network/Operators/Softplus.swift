import Foundation

/// y = log(1 + e^z): increasing and convex, values > 0. Computed as
/// max(z, 0) + log1p(e^−|z|), which neither overflows nor loses the small
/// values; its error is log1p's and exp's plus two roundings. f′ = sigmoid.
public struct Softplus: ElementwiseOperator {
    public init() {}
    public var description: String { "softplus" }

    static let ulps = LibmError.log1p + LibmError.exp + 2
    static let function = SmoothFunction(value: { Softplus.softplus($0) },
                                         derivative: { Sigmoid.logistic($0) },
                                         ulps: ulps, slopeUlps: 4 * Sigmoid.ulps)

    @inline(__always) static func softplus(_ z: Double) -> Double { max(z, 0) + Foundation.log1p(Foundation.exp(-abs(z))) }

    public func value(_ z: Double) -> Double { Self.softplus(z) }
    public func derivative(_ z: Double) -> Double { Self.function.derivative(z) }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (max(0, LibmError.down(value(l), Self.ulps)), LibmError.up(value(u), Self.ulps))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        SmoothRelaxation.convex(Self.function, lower: l, upper: u)
    }
}
