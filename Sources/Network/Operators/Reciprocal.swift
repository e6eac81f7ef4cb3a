/// y = 1/z on intervals that exclude 0: decreasing; convex for z > 0, concave
/// for z < 0. Correctly rounded. An interval holding 0 leaves the domain
/// (the set is unconstrained, so every bound through it is −∞; `bound`
/// names the node).
public struct Reciprocal: ElementwiseOperator {
    public init() {}
    public var description: String { "reciprocal" }

    static let function = SmoothFunction(value: { 1 / $0 }, derivative: { -1 / ($0 * $0) },
                                         ulps: LibmError.division, slopeUlps: 3 * LibmError.division)

    public func value(_ z: Double) -> Double { 1 / z }
    public func derivative(_ z: Double) -> Double { Self.function.derivative(z) }

    public func domainViolation(lower l: Double, upper u: Double) -> String? {
        l <= 0 && u >= 0 ? "reciprocal of an interval holding 0 ([\(l), \(u)])" : nil
    }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (LibmError.down(value(u), 1), LibmError.up(value(l), 1))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        l > 0 ? SmoothRelaxation.convex(Self.function, lower: l, upper: u)
            : SmoothRelaxation.concave(Self.function, lower: l, upper: u)
    }
}
