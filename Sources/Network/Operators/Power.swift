import Foundation

/// y = z^n for an integer n ≥ 2 (ONNX Pow with a constant integer exponent,
/// and Mul of a tensor by itself). Even n: convex. Odd n: concave below 0 and
/// convex above, relaxed as the mirror image (y ↦ −y) of a tanh-like shape.
/// The value is a product of n roundings: n ulps.
public struct Power: ElementwiseOperator {
    public let exponent: Int

    /// Beyond this the value overflows for any |z| > 2 and the relaxation says nothing.
    public static let largestExponent = 64

    public init(exponent: Int) { self.exponent = exponent }
    public var description: String { exponent == 2 ? "square" : "pow(\(exponent))" }

    var ulps: Double { Double(exponent) + 1 }

    var function: SmoothFunction {
        let n = exponent
        return SmoothFunction(value: { Power.power($0, n) }, derivative: { Double(n) * Power.power($0, n - 1) },
                              ulps: ulps, slopeUlps: ulps + 2)
    }

    /// z^n by repeated squaring (each step correctly rounded).
    static func power(_ z: Double, _ n: Int) -> Double {
        var result = 1.0, base = z, k = n
        while k > 0 {
            if k & 1 == 1 { result *= base }
            base *= base
            k >>= 1
        }
        return result
    }

    public func value(_ z: Double) -> Double { Self.power(z, exponent) }
    public func derivative(_ z: Double) -> Double { Double(exponent) * Self.power(z, exponent - 1) }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        let a = value(l), b = value(u)
        if exponent % 2 == 1 { return (LibmError.down(a, ulps), LibmError.up(b, ulps)) }
        let top = LibmError.up(max(a, b), ulps)
        return (l <= 0 && u >= 0 ? 0 : max(0, LibmError.down(min(a, b), ulps)), top)
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        if exponent % 2 == 0 { return SmoothRelaxation.convex(function, lower: l, upper: u) }
        // −z^n is convex below 0 and concave above: tanh's shape.
        return function.negated.sigmoidShaped(lower: l, upper: u, inflection: 0).negated
    }
}
