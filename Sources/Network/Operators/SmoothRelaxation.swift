/// A smooth scalar function as the relaxation builder needs it: its libm
/// value and derivative, each with an error bound.
public struct SmoothFunction: Sendable {
    public let value: @Sendable (Double) -> Double
    public let derivative: @Sendable (Double) -> Double
    /// Relative error of `value`, in ulps (LibmError).
    public let ulps: Double
    /// Error of `derivative`, in ulps of (|f'| + 1): absolute where f' is
    /// computed as 1 − tanh² or s(1 − s) and loses its relative accuracy.
    public let slopeUlps: Double

    public init(value: @escaping @Sendable (Double) -> Double, derivative: @escaping @Sendable (Double) -> Double,
                ulps: Double, slopeUlps: Double) {
        self.value = value
        self.derivative = derivative
        self.ulps = ulps
        self.slopeUlps = slopeUlps
    }

    /// −f, whose convex pieces are f's concave ones.
    public var negated: SmoothFunction {
        let f = value, df = derivative
        return SmoothFunction(value: { -f($0) }, derivative: { -df($0) }, ulps: ulps, slopeUlps: slopeUlps)
    }
}

/// y = slope·z + intercept.
public struct Line: Sendable {
    public var slope: Double
    public var intercept: Double
    @inline(__always) public func at(_ z: Double) -> Double { slope * z + intercept }
}

/// Sound lines for smooth functions over [l, u], and the polygon they cut out.
///
/// The arguments, each beside its construction:
/// - on an interval where f is convex, every tangent lies below f and the
///   chord through the end points lies above it (concave: the reverse);
/// - a line built from rounded values is moved outward by a margin that
///   covers libm's error in f and f′ (`LibmError`) and the rounding of the
///   line's own arithmetic, so the exact graph stays on the right side;
/// - the polygon's vertices are the lines' envelope points, moved outward by
///   the rounding of evaluating the lines there.
public enum SmoothRelaxation {
    static let eps = Double.ulpOfOne
    static let tiny = 8 * Double.leastNormalMagnitude

    /// The tangent at d, lowered: below f wherever f is convex on [l, u] ∪ {d}.
    /// Slope error e bends the line by at most e·|z − d| over [l, u].
    public static func tangentBelow(_ f: SmoothFunction, at d: Double, lower l: Double, upper u: Double) -> Line {
        let fv = f.value(d), a = f.derivative(d)
        let reach = max(abs(u - d), abs(d - l))
        let margin = eps * ((f.ulps + 2) * abs(fv) + 2 * abs(a * d) + f.slopeUlps * (abs(a) + 1) * reach) + tiny
        return Line(slope: a, intercept: fv - a * d - margin)
    }

    /// The tangent at d, raised: above f wherever f is concave.
    public static func tangentAbove(_ f: SmoothFunction, at d: Double, lower l: Double, upper u: Double) -> Line {
        let line = tangentBelow(f.negated, at: d, lower: l, upper: u)
        return Line(slope: -line.slope, intercept: -line.intercept)
    }

    /// The chord through (l, f(l)) and (u, f(u)), lowered: below f where f is
    /// concave on [l, u] (the chord through the exact values is, and this one
    /// is below that at both ends, hence between them).
    public static func chordBelow(_ f: SmoothFunction, lower l: Double, upper u: Double) -> Line {
        let fl = LibmError.down(f.value(l), f.ulps), fu = LibmError.down(f.value(u), f.ulps)
        guard u > l else { return Line(slope: 0, intercept: min(fl, fu)) }
        let a = (fu - fl) / (u - l)
        let margin = 4 * eps * (abs(fl) + abs(fu) + abs(a) * (abs(l) + abs(u))) + tiny
        return Line(slope: a, intercept: fl - a * l - margin)
    }

    public static func chordAbove(_ f: SmoothFunction, lower l: Double, upper u: Double) -> Line {
        let line = chordBelow(f.negated, lower: l, upper: u)
        return Line(slope: -line.slope, intercept: -line.intercept)
    }

    /// The polygon {l ≤ z ≤ u, max lower lines ≤ y ≤ min upper lines}, as the
    /// hull of its envelope points (each moved outward by its evaluation's
    /// rounding), with CROWN's slopes.
    public static func set(lower: [Line], upper: [Line], l: Double, u: Double,
                           crownLower: Double, crownUpper: Double) -> RelaxedSet {
        var points: [(z: Double, y: Double)] = []
        for z in breakpoints(lower, l, u) {
            let (y, m) = envelope(lower, at: z, below: true)
            points.append((z, y - m))
        }
        for z in breakpoints(upper, l, u) {
            let (y, m) = envelope(upper, at: z, below: false)
            points.append((z, y + m))
        }
        var set = RelaxedSet(hullOf: points, lower: l, upper: u)
        set.crownLowerSlope = crownLower
        set.crownUpperSlope = crownUpper
        return set
    }

    /// l, u and the lines' pairwise crossings inside (l, u).
    static func breakpoints(_ lines: [Line], _ l: Double, _ u: Double) -> [Double] {
        var zs = [l, u]
        for i in lines.indices {
            for j in lines.indices where j > i && lines[i].slope != lines[j].slope {
                let z = (lines[j].intercept - lines[i].intercept) / (lines[i].slope - lines[j].slope)
                if z > l && z < u { zs.append(z) }
            }
        }
        return zs
    }

    /// max (below) or min (above) of the lines at z, and the rounding margin.
    static func envelope(_ lines: [Line], at z: Double, below: Bool) -> (Double, Double) {
        var y = below ? -Double.infinity : .infinity
        var mag = 0.0
        for line in lines {
            let v = line.at(z)
            y = below ? max(y, v) : min(y, v)
            mag = max(mag, abs(line.slope * z) + abs(line.intercept))
        }
        return (y, 2 * eps * mag + tiny)
    }

    /// f convex on [l, u]: tangents at l, the midpoint and u below (CROWN's is
    /// the midpoint's), the chord above.
    public static func convex(_ f: SmoothFunction, lower l: Double, upper u: Double) -> RelaxedSet {
        let m = l / 2 + u / 2
        let tangents = [l, m, u].filter { f.derivative($0).isFinite }
            .map { tangentBelow(f, at: $0, lower: l, upper: u) }
        let chord = chordAbove(f, lower: l, upper: u)
        let crown = f.derivative(m).isFinite ? tangentBelow(f, at: m, lower: l, upper: u) : chord
        return set(lower: tangents.isEmpty ? [chordBelowByRange(f, l, u)] : tangents, upper: [chord],
                   l: l, u: u, crownLower: crown.slope, crownUpper: chord.slope)
    }

    /// f concave on [l, u]: the mirror image of `convex`.
    public static func concave(_ f: SmoothFunction, lower l: Double, upper u: Double) -> RelaxedSet {
        convex(f.negated, lower: l, upper: u).negated
    }

    /// A horizontal line below f from its lower end value (f monotone increasing
    /// there); used only when no tangent is finite.
    static func chordBelowByRange(_ f: SmoothFunction, _ l: Double, _ u: Double) -> Line {
        Line(slope: 0, intercept: min(LibmError.down(f.value(l), f.ulps), LibmError.down(f.value(u), f.ulps)))
    }

    /// f convex on (−∞, c] and concave on [c, ∞), with l < c < u (tanh, sigmoid at 0).
    /// Lower side: a tangent at d ≤ c lies below f on [l, c] (convexity), and
    /// on [c, u] f minus it is concave, so it is below f there too as soon as
    /// it is below f(u) at u. The tangent through (u, f(u)) is found by
    /// bisection for d* ∈ [l, c]; the bracket's left end d ≤ d* is used and the
    /// line is then lowered, if need be, until it is below f's lower value at
    /// u. When even the tangent at l passes above f(u), the chord from l to u
    /// lies below f (f − chord is 0 at l with a positive slope, convex, then
    /// concave down to 0 at u). The upper side is the mirror image.
    public static func sShaped(_ f: SmoothFunction, lower l: Double, upper u: Double, inflection c: Double) -> RelaxedSet {
        let (lowerLines, crownLower) = sLowerSide(f, l: l, u: u, c: c)
        // The upper side of f is the lower side of z ↦ −f(−z), which is also convex below −c.
        let g = SmoothFunction(value: { -f.value(-$0) }, derivative: { f.derivative(-$0) },
                               ulps: f.ulps, slopeUlps: f.slopeUlps)
        let (mirrored, crownMirrored) = sLowerSide(g, l: -u, u: -l, c: -c)
        let upperLines = mirrored.map { Line(slope: $0.slope, intercept: -$0.intercept) }
        return set(lower: lowerLines, upper: upperLines, l: l, u: u,
                   crownLower: crownLower, crownUpper: crownMirrored)
    }

    static let bisectionSteps = 80   // halves [l, c] to below an ulp for any double range

    static func sLowerSide(_ f: SmoothFunction, l: Double, u: Double, c: Double) -> ([Line], Double) {
        let fuLow = LibmError.down(f.value(u), f.ulps)
        func passesBelowU(_ d: Double) -> Bool { f.value(d) + f.derivative(d) * (u - d) < f.value(u) }
        guard passesBelowU(l) else {
            let chord = chordBelow(f, lower: l, upper: u)
            return ([chord], chord.slope)
        }
        var lo = l, hi = c
        for _ in 0..<bisectionSteps {
            let mid = lo / 2 + hi / 2
            if mid <= lo || mid >= hi { break }
            if passesBelowU(mid) { lo = mid } else { hi = mid }
        }
        // Each tangent at a point ≤ d* is lowered until it is below f's lower value at u.
        func validated(_ d: Double) -> Line {
            var tangent = tangentBelow(f, at: d, lower: l, upper: u)
            let excess = tangent.at(u) + 2 * eps * (abs(tangent.slope * u) + abs(tangent.intercept)) - fuLow
            if excess > 0 { tangent.intercept -= excess + tiny }
            return tangent
        }
        let tangent = validated(lo)
        return (lo > l ? [tangent, validated(l)] : [tangent], tangent.slope)
    }

    /// Any f with |f″| ≤ M on [l, u], of unknown curvature sign: the chord
    /// through exact values is within M·(u − l)²/8 of f (the interpolation
    /// error of a line), so the chord shifted down and up by that much (plus
    /// the end values' rounding) holds f; `range` adds y ≥ min f, y ≤ max f.
    public static func boundedCurvature(_ f: SmoothFunction, lower l: Double, upper u: Double, secondDerivative m: Double,
                                        range: (lower: Double, upper: Double)) -> RelaxedSet {
        let fl = f.value(l), fu = f.value(u)
        let a = u > l ? (fu - fl) / (u - l) : 0
        let width = u - l
        let shift = m * width * width / 8 * (1 + 4 * eps)
            + eps * (f.ulps + 4) * (abs(fl) + abs(fu) + abs(a) * (abs(l) + abs(u))) + tiny
        let b = fl - a * l
        let lower = [Line(slope: a, intercept: b - shift), Line(slope: 0, intercept: range.lower)]
        let upper = [Line(slope: a, intercept: b + shift), Line(slope: 0, intercept: range.upper)]
        return set(lower: lower, upper: upper, l: l, u: u, crownLower: a, crownUpper: a)
    }
}

extension RelaxedSet {
    /// The set of −f from the set of f: the mirror image in y.
    public var negated: RelaxedSet {
        var points: [(z: Double, y: Double)] = []
        for i in 0..<count { points.append((zs[i], -ys[i])) }
        var s = RelaxedSet(hullOf: points, lower: lower, upper: upper)
        if !isFinite { return .unconstrained(lower: lower, upper: upper) }
        s.crownLowerSlope = -crownUpperSlope
        s.crownUpperSlope = -crownLowerSlope
        return s
    }
}
