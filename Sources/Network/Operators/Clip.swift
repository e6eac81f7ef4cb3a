/// y = min(max(z, a), b): ONNX Clip (both its attribute and its input form),
/// HardTanh (a = −1, b = 1), ReLU6 (0, 6), and HardSigmoid after its affine
/// part. Piecewise linear with exact values, so its relaxed set is the hull of
/// the graph's points at l, u and the corners a, b that fall inside (l, u); it
/// is a segment (stable) when [l, u] stays within one piece.
public struct Clip: ElementwiseOperator {
    public let minimum: Double
    public let maximum: Double

    public init(minimum: Double, maximum: Double) {
        self.minimum = minimum
        self.maximum = maximum
    }

    public var description: String { "clip(\(minimum), \(maximum))" }

    @inline(__always) public func value(_ z: Double) -> Double { min(max(z, minimum), maximum) }
    public func derivative(_ z: Double) -> Double { z > minimum && z < maximum ? 1 : 0 }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (value(l), value(u))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        var points: [(z: Double, y: Double)] = [(l, value(l)), (u, value(u))]
        for corner in [minimum, maximum] where corner > l && corner < u { points.append((corner, corner)) }
        return RelaxedSet(hullOf: points, lower: l, upper: u)
    }
}
