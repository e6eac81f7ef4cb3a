import Foundation

/// y = tanh(z): increasing, convex below 0 and concave above, with values in
/// (−1, 1). Relaxation: tangents and chord by curvature on one side of 0, the
/// tangents through the end points across it (SmoothRelaxation.sShaped).
/// f′ = 1 − tanh²: its absolute error stays within a few ulps of 1.
public struct Tanh: ElementwiseOperator {
    public init() {}
    public var description: String { "tanh" }

    static let function = SmoothFunction(value: { Foundation.tanh($0) },
                                         derivative: { let t = Foundation.tanh($0); return 1 - t * t },
                                         ulps: LibmError.tanh, slopeUlps: 4 * LibmError.tanh)

    public func value(_ z: Double) -> Double { Foundation.tanh(z) }
    public func derivative(_ z: Double) -> Double { Self.function.derivative(z) }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (max(-1, LibmError.down(value(l), LibmError.tanh)), min(1, LibmError.up(value(u), LibmError.tanh)))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        Self.function.sigmoidShaped(lower: l, upper: u, inflection: 0)
    }
}

extension SmoothFunction {
    /// The relaxed set of an increasing function convex below `inflection` and concave above it.
    public func sigmoidShaped(lower l: Double, upper u: Double, inflection c: Double) -> RelaxedSet {
        if u <= c { return SmoothRelaxation.convex(self, lower: l, upper: u) }
        if l >= c { return SmoothRelaxation.concave(self, lower: l, upper: u) }
        return SmoothRelaxation.sShaped(self, lower: l, upper: u, inflection: c)
    }
}
