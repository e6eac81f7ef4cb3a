/// One neuron's relaxed set: a convex polygon in the (z, y) plane, z the
/// pre-activation value and y the operator's output, that contains the
/// operator's true graph {(z, f(z)) : l ≤ z ≤ u}. It is stored as its vertices,
/// counter-clockwise from the left end of the lower chain, so that
/// - the dual function's term min g_z·z + g_y·y over the set is a minimum over
///   the vertices (a linear function's minimum over a polygon is at a vertex);
/// - the splitting solver's projection is onto a handful of edges;
/// - CROWN's slopes are the slopes of the lower chain's and upper chain's edges.
/// Soundness is the operator's: it hands in points whose hull holds its graph.
public struct RelaxedSet: Sendable {
    /// Enough for the hull of the points any operator hands in (at most this many).
    public static let capacity = 12

    public private(set) var count = 0
    /// False for the unconstrained set (bounds not finite or outside the domain).
    public private(set) var isFinite = true
    /// Index of the lower chain's right end (vertices 0...lowerEnd are the lower chain).
    public private(set) var lowerEnd = 0
    var zs = InlineArray<12, Double>(repeating: 0)
    var ys = InlineArray<12, Double>(repeating: 0)
    /// The pre-activation interval [l, u] the set was built for.
    public private(set) var lower: Double
    public private(set) var upper: Double
    /// The slopes CROWN uses when the output's coefficient is ≥ 0 (a lower
    /// line) or < 0 (an upper line); each is one of the chain's edge slopes.
    public var crownLowerSlope = 0.0
    public var crownUpperSlope = 0.0
    /// Cached at construction (the dual function and the slope rules read them per neuron and column).
    public private(set) var magnitudes: (z: Double, y: Double) = (0, 0)
    public private(set) var lowerSlopeRange: (Double, Double) = (0, 0)
    public private(set) var upperSlopeRange: (Double, Double) = (0, 0)

    public func z(_ i: Int) -> Double { zs[i] }
    public func y(_ i: Int) -> Double { ys[i] }

    /// The convex hull of `points` (at most `capacity`), for pre-activation [l, u].
    /// CROWN's slopes default to the chords' slopes; operators set better ones.
    public init(hullOf points: [(z: Double, y: Double)], lower l: Double, upper u: Double) {
        lower = l
        upper = u
        let sorted = points.sorted { $0.z < $1.z || ($0.z == $1.z && $0.y < $1.y) }
        // Andrew's monotone chain: the lower hull left to right, then the upper hull right to left.
        var hull: [(z: Double, y: Double)] = []
        hull.reserveCapacity(sorted.count + 1)
        func turnsLeft(_ o: (z: Double, y: Double), _ a: (z: Double, y: Double), _ b: (z: Double, y: Double)) -> Bool {
            (a.z - o.z) * (b.y - o.y) - (a.y - o.y) * (b.z - o.z) > 0
        }
        for p in sorted {
            while hull.count >= 2 && !turnsLeft(hull[hull.count - 2], hull[hull.count - 1], p) { hull.removeLast() }
            hull.append(p)
        }
        let lowerCount = hull.count
        for p in sorted.reversed().dropFirst() {
            while hull.count > lowerCount && !turnsLeft(hull[hull.count - 2], hull[hull.count - 1], p) {
                hull.removeLast()
            }
            hull.append(p)
        }
        if hull.count > 1 { hull.removeLast() }   // the first point again
        // Capacity is a programming bound: operators hand in at most `capacity` points.
        precondition(hull.count <= Self.capacity, "a relaxed set has at most \(Self.capacity) vertices")
        count = hull.count
        lowerEnd = min(lowerCount, hull.count) - 1
        for (i, p) in hull.enumerated() {
            zs[i] = p.z
            ys[i] = p.y
        }
        isFinite = hull.allSatisfy { $0.z.isFinite && $0.y.isFinite }
        finish()
    }

    /// A triangle or segment given in counter-clockwise order with its lower
    /// chain's right end (ReLU's closed forms: no hull to compute).
    public init(ordered points: (z: Double, y: Double), _ b: (z: Double, y: Double), _ c: (z: Double, y: Double)?,
                lowerEnd: Int, lower l: Double, upper u: Double) {
        lower = l
        upper = u
        zs[0] = points.z; ys[0] = points.y
        zs[1] = b.z; ys[1] = b.y
        count = 2
        if let c {
            zs[2] = c.z; ys[2] = c.y
            count = 3
        }
        self.lowerEnd = lowerEnd
        isFinite = l.isFinite && u.isFinite
        finish()
    }

    /// The caches and CROWN's default slopes.
    mutating func finish() {
        var mz = 0.0, my = 0.0
        for i in 0..<count {
            mz = max(mz, abs(zs[i]))
            my = max(my, abs(ys[i]))
        }
        magnitudes = (mz, my)
        lowerSlopeRange = computedLowerSlopeRange
        upperSlopeRange = computedUpperSlopeRange
        crownLowerSlope = longestEdgeSlope(lower: true)
        crownUpperSlope = longestEdgeSlope(lower: false)
    }

    /// A set for bounds that are not finite or leave the operator's domain: no
    /// constraint, so every bound through it is −∞ (sound: nothing is claimed).
    public static func unconstrained(lower l: Double, upper u: Double) -> RelaxedSet {
        var s = RelaxedSet(hullOf: [(0, 0)], lower: l, upper: u)
        s.isFinite = false
        s.magnitudes = (0, 0)
        return s
    }

    /// CROWN's default: the slope of the chain's longest edge (in z), the later
    /// one on a tie. For the ReLU triangle that is the adaptive rule: slope 1
    /// when u ≥ −l, else 0.
    func longestEdgeSlope(lower: Bool) -> Double {
        let n = lower ? lowerEnd + 1 : upperChainCount
        guard n > 1 else { return chordSlope }
        var best = 0, bestLength = -1.0
        for j in 0..<(n - 1) {
            let a = lower ? j : upperVertex(j), b = lower ? j + 1 : upperVertex(j + 1)
            let length = zs[b] - zs[a]
            if length >= bestLength { best = j; bestLength = length }
        }
        return lower ? edgeSlope(best, best + 1) : edgeSlope(upperVertex(best), upperVertex(best + 1))
    }

    /// Whether the set is a segment or a point: the operator is linear on [l, u]
    /// (a stable ReLU, a Clip inside one piece), so the node is affine there.
    public var isLinear: Bool { isFinite && count <= 2 }

    /// The range of the lower chain's edge slopes (its first and last edges: it is convex).
    var computedLowerSlopeRange: (Double, Double) {
        guard lowerEnd > 0 else { return (chordSlope, chordSlope) }
        let a = edgeSlope(0, 1), b = edgeSlope(lowerEnd - 1, lowerEnd)
        return (min(a, b), max(a, b))
    }

    /// The range of the upper chain's edge slopes.
    var computedUpperSlopeRange: (Double, Double) {
        let n = upperChainCount
        guard n > 1 else { return (chordSlope, chordSlope) }
        let a = edgeSlope(upperVertex(0), upperVertex(1)), b = edgeSlope(upperVertex(n - 2), upperVertex(n - 1))
        return (min(a, b), max(a, b))
    }

    /// The upper chain left to right is vertex 0, then count−1 down to lowerEnd.
    var upperChainCount: Int { count > 1 ? count - lowerEnd + 1 : 1 }
    @inline(__always) func upperVertex(_ j: Int) -> Int { j == 0 ? 0 : count - j }

    var chordSlope: Double {
        guard count > 1, zs[lowerEnd] > zs[0] else { return 0 }
        return (ys[lowerEnd] - ys[0]) / (zs[lowerEnd] - zs[0])
    }

    func edgeSlope(_ a: Int, _ b: Int) -> Double {
        let dz = zs[b] - zs[a]
        return dz > 0 ? (ys[b] - ys[a]) / dz : 0
    }

    /// min over the set of g_z·z + g_y·y.
    @inline(__always)
    public func minimum(gz: Double, gy: Double) -> Double {
        guard isFinite else { return gz == 0 && gy == 0 ? 0 : -.infinity }
        // Triangles and segments (every ReLU) without the loop.
        let first = min(gz * zs[0] + gy * ys[0], gz * zs[1] + gy * ys[1])
        if count == 2 { return first }
        if count == 3 { return min(first, gz * zs[2] + gy * ys[2]) }
        var m = count == 1 ? gz * zs[0] + gy * ys[0] : first
        var i = 2
        while i < count {
            m = min(m, gz * zs[i] + gy * ys[i])
            i += 1
        }
        return m
    }

    /// The y-range of the set above z (z clamped into the set's z-range).
    public func range(at z: Double) -> (lower: Double, upper: Double) {
        guard isFinite else { return (-.infinity, .infinity) }
        let zc = min(max(z, zs[0]), zs[lowerEnd])
        if count <= 3 && lowerEnd == count - 1 { return triangleRange(at: zc) }
        var lo = ys[lowerEnd], hi = ys[lowerEnd]
        for j in 0..<lowerEnd where zc <= zs[j + 1] {
            lo = interpolate(j, j + 1, at: zc, vertical: min)
            break
        }
        for j in 0..<max(0, upperChainCount - 1) where zc <= zs[upperVertex(j + 1)] {
            hi = interpolate(upperVertex(j), upperVertex(j + 1), at: zc, vertical: max)
            break
        }
        return (min(lo, hi), max(lo, hi))
    }

    /// range(at:) for a segment or a triangle whose upper chain is the chord
    /// (every ReLU set): no loops, no closures, in the solver's per-pair loop.
    @inline(__always)
    func triangleRange(at zc: Double) -> (lower: Double, upper: Double) {
        let last = count - 1
        let dz = zs[last] - zs[0]
        let chord = dz > 0 ? ys[0] + (ys[last] - ys[0]) * (zc - zs[0]) / dz : max(ys[0], ys[last])
        guard count == 3 else {
            let low = dz > 0 ? chord : min(ys[0], ys[last])
            return (min(low, chord), max(low, chord))
        }
        let (a, b) = zc <= zs[1] ? (0, 1) : (1, 2)
        let ez = zs[b] - zs[a]
        let low = ez > 0 ? ys[a] + (ys[b] - ys[a]) * (zc - zs[a]) / ez : min(ys[a], ys[b])
        return (min(low, chord), max(low, chord))
    }

    /// The edge from vertex a to b at z; a vertical edge (a point interval) gives its lower or upper end.
    @inline(__always)
    func interpolate(_ a: Int, _ b: Int, at z: Double, vertical: (Double, Double) -> Double) -> Double {
        let dz = zs[b] - zs[a]
        return dz > 0 ? ys[a] + (ys[b] - ys[a]) * (z - zs[a]) / dz : vertical(ys[a], ys[b])
    }

    /// The slope of the lower chain's edge holding z strictly inside (by a
    /// margin of `margin` from its ends), nil near a vertex.
    public func lowerEdgeSlope(at z: Double, margin: Double) -> Double? {
        for j in 0..<lowerEnd where z > zs[j] + margin && z < zs[j + 1] - margin {
            return edgeSlope(j, j + 1)
        }
        return nil
    }

    /// The set in scaled coordinates (z / dz, y / dy), for the solver's variables.
    public func scaled(z dz: Double, y dy: Double) -> RelaxedSet {
        var s = self
        for i in 0..<count {
            s.zs[i] = zs[i] / dz
            s.ys[i] = ys[i] / dy
        }
        s.lower = lower / dz
        s.upper = upper / dz
        s.finish()
        s.crownLowerSlope = crownLowerSlope * dz / dy
        s.crownUpperSlope = crownUpperSlope * dz / dy
        return s
    }

    /// Projection of (p, q) onto the set in the metric w_z·dz² + w_y·dy²:
    /// the point itself when inside, otherwise the nearest point of the edges.
    public func project(_ p: Double, _ q: Double, weightZ wz: Double = 1, weightY wy: Double = 1) -> (Double, Double) {
        let sz = wz == 1 ? 1 : wz.squareRoot(), sy = wy == 1 ? 1 : wy.squareRoot()
        let px = p * sz, py = q * sy
        if !isFinite { return (p, q) }
        if count == 1 { return (zs[0], ys[0]) }
        var inside = count >= 3
        var best = (z: zs[0], y: ys[0]), bestD = Double.infinity
        for i in 0..<count {
            let j = i + 1 == count ? 0 : i + 1
            let ax = zs[i] * sz, ay = ys[i] * sy, bx = zs[j] * sz, by = ys[j] * sy
            let dx = bx - ax, dy = by - ay
            if dx * (py - ay) - dy * (px - ax) < 0 { inside = false }
            let len = dx * dx + dy * dy
            let t = len > 0 ? min(max(((px - ax) * dx + (py - ay) * dy) / len, 0), 1) : 0
            let x = ax + t * dx, y = ay + t * dy
            let d = (px - x) * (px - x) + (py - y) * (py - y)
            if d < bestD {
                bestD = d
                best = (x / sz, y / sy)
            }
            if count == 2 { break }
        }
        return inside ? (p, q) : (best.z, best.y)
    }
}
