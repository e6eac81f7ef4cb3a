/// y = √z on z ≥ 0: increasing and concave; tangents above (none at 0, where
/// the slope is infinite), the chord below. Correctly rounded (IEEE 754).
/// Bounds reaching below 0 leave the domain: the set is unconstrained.
public struct SquareRoot: ElementwiseOperator {
    public init() {}
    public var description: String { "sqrt" }

    static let function = SmoothFunction(value: { $0.squareRoot() }, derivative: { 0.5 / $0.squareRoot() },
                                         ulps: LibmError.sqrt, slopeUlps: LibmError.sqrt + 2 * LibmError.division)

    public func value(_ z: Double) -> Double { z.squareRoot() }
    public func derivative(_ z: Double) -> Double { Self.function.derivative(z) }

    public func domainViolation(lower l: Double, upper u: Double) -> String? {
        l < 0 ? "sqrt of an interval reaching below 0 (lower bound \(l))" : nil
    }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (max(0, LibmError.down(value(l), 1)), LibmError.up(value(u), 1))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        SmoothRelaxation.concave(Self.function, lower: l, upper: u)
    }
}
