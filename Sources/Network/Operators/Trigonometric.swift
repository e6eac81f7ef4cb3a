import Foundation

/// sin and cos, for plant models. Both are sin(z + phase) with phase 0 or π/2,
/// so they share one construction:
/// - interval: the end values, widened by libm's error, and ±1 when a maximum
///   (or minimum) point lies in [l, u] or within a safety margin of it (the
///   margin covers the error of locating k·π in floating point);
/// - relaxed set: on an interval that keeps that margin away from every zero of
///   f″ = −f (a single curvature), tangents and chord as for any convex or
///   concave function; otherwise the chord shifted by |f″|·(u − l)²/8 with
///   |f″| ≤ 1, cut by the interval's horizontal lines.
public struct Sinusoid: ElementwiseOperator {
    /// f(z) = sin(z + phase·π/2); phase 0 is sin, 1 is cos.
    let phase: Int

    public static let sine = Sinusoid(phase: 0)
    public static let cosine = Sinusoid(phase: 1)

    public var description: String { phase == 0 ? "sin" : "cos" }

    /// Widths beyond which the interval is [−1, 1] and the chord is no use.
    static let wholePeriod = 2 * Double.pi
    /// Arguments beyond which the critical points are not located (|z|·ε near 1e−7).
    static let largestLocatedArgument = 1e8

    public func value(_ z: Double) -> Double { phase == 0 ? Foundation.sin(z) : Foundation.cos(z) }
    public func derivative(_ z: Double) -> Double { slope(z) }
    func slope(_ z: Double) -> Double { phase == 0 ? Foundation.cos(z) : -Foundation.sin(z) }

    var function: SmoothFunction {
        let p = self
        return SmoothFunction(value: { p.value($0) }, derivative: { p.slope($0) },
                              ulps: LibmError.sinCos, slopeUlps: LibmError.sinCos)
    }

    /// A margin around z for locating multiples of π/2 near it.
    static func margin(_ z: Double) -> Double { 1e-9 * (1 + abs(z)) }

    /// Whether some point π/2·(4k + offset) − phase·π/2 lies in [l − m, u + m].
    func holdsPoint(quarter offset: Int, _ l: Double, _ u: Double) -> Bool {
        let shift = Double(offset - phase) * Double.pi / 2
        let m = Self.margin(max(abs(l), abs(u)))
        // k such that 2πk + shift ≥ l − m, then check it is ≤ u + m.
        let k = ((l - m - shift) / Self.wholePeriod).rounded(.up)
        return 2 * Double.pi * k + shift <= u + m
    }

    func isLocatable(_ l: Double, _ u: Double) -> Bool {
        max(abs(l), abs(u)) < Self.largestLocatedArgument && u - l < Self.wholePeriod
    }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        guard isLocatable(l, u) else { return (-1, 1) }
        let a = value(l), b = value(u)
        var lo = LibmError.down(min(a, b), LibmError.sinCos), hi = LibmError.up(max(a, b), LibmError.sinCos)
        if holdsPoint(quarter: 1, l, u) { hi = 1 }    // sin's maxima at π/2 + 2πk
        if holdsPoint(quarter: 3, l, u) { lo = -1 }   // its minima at 3π/2 + 2πk
        return (max(-1, lo), min(1, hi))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        let range = interval(lower: l, upper: u)
        // Zeros of f″ = −f: sin's at πk, i.e. quarters 0 and 2.
        if isLocatable(l, u) && !holdsPoint(quarter: 0, l, u) && !holdsPoint(quarter: 2, l, u) {
            // One curvature: f > 0 (concave) or f < 0 (convex) on all of [l, u].
            let mid = value(l / 2 + u / 2)
            return mid > 0 ? SmoothRelaxation.concave(function, lower: l, upper: u)
                : SmoothRelaxation.convex(function, lower: l, upper: u)
        }
        return SmoothRelaxation.boundedCurvature(function, lower: l, upper: u, secondDerivative: 1, range: range)
    }
}
