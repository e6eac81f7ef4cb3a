/// y = max(0, z). Its relaxed set over [l, u] is the triangle (l, 0), (0, 0),
/// (u, u) when l < 0 < u, the segment y = z (l ≥ 0) or y = 0 (u ≤ 0) when it
/// is stable: the convex hull of its graph, with exact vertices (no rounding).
public struct ReLU: ElementwiseOperator {
    public init() {}
    public var description: String { "relu" }
    public var isPositivelyHomogeneous: Bool { true }

    @inline(__always) public func value(_ z: Double) -> Double { max(0, z) }
    public func derivative(_ z: Double) -> Double { z > 0 ? 1 : 0 }

    /// Stable: one piece on finite bounds (as `relaxedSet` makes a segment then).
    public func isLinear(lower l: Double, upper u: Double) -> Bool {
        l.isFinite && u.isFinite && l <= u && (l >= 0 || u <= 0)
    }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        (max(0, l), max(0, u))
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        if l >= 0 { return RelaxedSet(ordered: (l, l), (u, u), nil, lowerEnd: 1, lower: l, upper: u) }
        if u <= 0 { return RelaxedSet(ordered: (l, 0), (u, 0), nil, lowerEnd: 1, lower: l, upper: u) }
        // Counter-clockwise: the lower chain (l,0)-(0,0)-(u,u), then the chord back. CROWN's
        // adaptive lower slope (1 when u ≥ −l) is the longest lower edge.
        return RelaxedSet(ordered: (l, 0), (0, 0), (u, u), lowerEnd: 2, lower: l, upper: u)
    }

    /// The closed form for equal weights; the polygon routine otherwise.
    @inline(__always)
    public func project(_ p: Double, _ q: Double, onto set: RelaxedSet, weightZ: Double,
                        weightY: Double) -> (Double, Double) {
        weightZ == weightY && set.isFinite ? reluProjection(p, q, lower: set.lower, upper: set.upper)
            : set.project(p, q, weightZ: weightZ, weightY: weightY)
    }

    /// The closed form over the bounds read once per node (equal weights: the
    /// solver's copies of z and y are equally many); the polygon routine otherwise.
    public func projectPairs(_ sets: [RelaxedSet], z: inout [Double], y: inout [Double], weightZ: Double,
                             weightY: Double) {
        let n = sets.count
        guard n > 0, weightZ == weightY, sets.allSatisfy(\.isFinite) else {
            for c in 0..<(n > 0 ? min(z.count, y.count) / n : 0) {
                for (i, set) in sets.enumerated() {
                    let idx = i + c * n
                    (z[idx], y[idx]) = set.project(z[idx], y[idx], weightZ: weightZ, weightY: weightY)
                }
            }
            return
        }
        let lower = sets.map(\.lower), upper = sets.map(\.upper)
        let columns = min(z.count, y.count) / n
        z.withUnsafeMutableBufferPointer { zp in
            y.withUnsafeMutableBufferPointer { yp in
                for c in 0..<columns {
                    for i in 0..<n {
                        let idx = i + c * n
                        (zp[idx], yp[idx]) = reluProjection(zp[idx], yp[idx], lower: lower[i], upper: upper[i])
                    }
                }
            }
        }
    }
}

/// Closed-form projection of a point (p, q) onto a ReLU's relaxed set for
/// pre-activation bounds [l, u]: the triangle (l,0), (0,0), (u,u) for an
/// unstable neuron, the segment y = z or y = 0 for a stable one.
@inlinable
public func reluProjection(_ p: Double, _ q: Double, lower l: Double, upper u: Double) -> (Double, Double) {
    if l >= 0 {
        let t = min(max((p + q) / 2, l), u)
        return (t, t)
    }
    if u <= 0 {
        return (min(max(p, l), u), 0)
    }
    let s = u / (u - l)
    if q >= 0 && q >= p && q <= s * (p - l) { return (p, q) }
    // Nearest point on each of the three edges.
    var best = (0.0, 0.0)
    var bestD = Double.infinity
    // y = 0, z in [l, 0]
    let z1 = min(max(p, l), 0)
    let d1 = (p - z1) * (p - z1) + q * q
    if d1 < bestD { bestD = d1; best = (z1, 0) }
    // y = z, z in [0, u]
    let t2 = min(max((p + q) / 2, 0), u)
    let d2 = (p - t2) * (p - t2) + (q - t2) * (q - t2)
    if d2 < bestD { bestD = d2; best = (t2, t2) }
    // upper edge from (l, 0) to (u, u)
    let dx = u - l, dy = u
    let tt = min(max(((p - l) * dx + q * dy) / (dx * dx + dy * dy), 0), 1)
    let z3 = l + tt * dx, y3 = tt * dy
    let d3 = (p - z3) * (p - z3) + (q - y3) * (q - y3)
    if d3 < bestD { best = (z3, y3) }
    return best
}
