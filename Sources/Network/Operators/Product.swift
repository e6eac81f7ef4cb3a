/// p_i = x_i · y_i, the product of two values: the graph's `.product` node reads
/// one affine node of size 2n holding x (its first n values) and y (the last n).
/// Over the box [lx, ux] × [ly, uy] the convex hull of the graph {(x, y, xy)}
/// is the tetrahedron of its four corners (the McCormick envelope: xy is linear
/// along every edge of the box and a saddle inside, so each point of the graph
/// is a convex combination of the corners, and the corners are on the graph).
/// The dual function's term is a minimum over the corners; the solver projects
/// onto the tetrahedron exactly in 3-D.
public enum Product {
    /// Sound bounds of xy over the box: the extreme corner products, rounded outward.
    public static func interval(_ x: (Double, Double), _ y: (Double, Double)) -> (lower: Double, upper: Double) {
        guard x.0.isFinite, x.1.isFinite, y.0.isFinite, y.1.isFinite, x.0 <= x.1, y.0 <= y.1 else {
            return (-.infinity, .infinity)
        }
        let c = [x.0 * y.0, x.0 * y.1, x.1 * y.0, x.1 * y.1]
        let lo = c.min() ?? 0, hi = c.max() ?? 0
        // One rounding per product (≤ half an ulp): one step outward covers it.
        return (lo.isFinite ? lo.nextDown : -.infinity, hi.isFinite ? hi.nextUp : .infinity)
    }
}

/// One product neuron's relaxed set: the McCormick tetrahedron over its input box.
public struct ProductSet: Sendable {
    public let lowerX: Double, upperX: Double, lowerY: Double, upperY: Double
    /// False when the box is not finite or its products overflow: no constraint (bounds through it are −∞).
    public let isFinite: Bool
    /// Corners (x, y, x·y) in the order (lx,ly), (ux,ly), (lx,uy), (ux,uy). The
    /// products are rounded to nearest; the dual's rounding margin covers that
    /// (each is one rounding of a term counted in its magnitude).
    public let xs: (Double, Double, Double, Double)
    public let ys: (Double, Double, Double, Double)
    public let ps: (Double, Double, Double, Double)
    /// Largest |x|, |y|, |p| over the corners, for the rounding margin.
    public let magnitudes: (x: Double, y: Double, p: Double)

    public init(x: (Double, Double), y: (Double, Double)) {
        (lowerX, upperX, lowerY, upperY) = (x.0, x.1, y.0, y.1)
        xs = (x.0, x.1, x.0, x.1)
        ys = (y.0, y.0, y.1, y.1)
        ps = (x.0 * y.0, x.1 * y.0, x.0 * y.1, x.1 * y.1)
        let box = [x.0, x.1, y.0, y.1]
        isFinite = box.allSatisfy(\.isFinite) && x.0 <= x.1 && y.0 <= y.1
            && [ps.0, ps.1, ps.2, ps.3].allSatisfy(\.isFinite)
        magnitudes = isFinite ? (max(abs(x.0), abs(x.1)), max(abs(y.0), abs(y.1)),
                                 max(abs(ps.0), abs(ps.1), abs(ps.2), abs(ps.3))) : (0, 0, 0)
    }

    /// The corner i (0...3).
    public func corner(_ i: Int) -> (x: Double, y: Double, p: Double) {
        switch i {
        case 0: return (xs.0, ys.0, ps.0)
        case 1: return (xs.1, ys.1, ps.1)
        case 2: return (xs.2, ys.2, ps.2)
        default: return (xs.3, ys.3, ps.3)
        }
    }

    /// min over the tetrahedron of g_x·x + g_y·y + g_p·p: the smallest corner value.
    @inline(__always)
    public func minimum(gx: Double, gy: Double, gp: Double) -> Double {
        guard isFinite else { return gx == 0 && gy == 0 && gp == 0 ? 0 : -.infinity }
        return min(gx * xs.0 + gy * ys.0 + gp * ps.0, gx * xs.1 + gy * ys.1 + gp * ps.1,
                   gx * xs.2 + gy * ys.2 + gp * ps.2, gx * xs.3 + gy * ys.3 + gp * ps.3)
    }

    /// Position of (x, y) in the box as (s, t) ∈ [0, 1]² (0 along a flat side).
    func unitCoordinates(x: Double, y: Double) -> (Double, Double) {
        let wx = upperX - lowerX, wy = upperY - lowerY
        let s = wx > 0 ? (min(max(x, lowerX), upperX) - lowerX) / wx : 0
        let t = wy > 0 ? (min(max(y, lowerY), upperY) - lowerY) / wy : 0
        return (s, t)
    }

    /// CROWN's planes, as their coefficients on x and y: for g_p ≥ 0 the
    /// under-estimator through corners 0, 1, 2 (for xy: ly·x + lx·y − lx·ly), for
    /// g_p < 0 the over-estimator through corners 0, 2, 3 (uy·x + lx·y − lx·uy).
    /// Any coefficients give a valid dual term; these are McCormick's.
    public func crownPlane(lower: Bool) -> (x: Double, y: Double) {
        let wx = upperX - lowerX, wy = upperY - lowerY
        let ax = wx > 0 ? (lower ? ps.1 - ps.0 : ps.3 - ps.2) / wx : 0
        let ay = wy > 0 ? (ps.2 - ps.0) / wy : 0
        return (ax, ay)
    }

    /// The range of p over the tetrahedron above (x, y), clamped into the box.
    /// The lower hull of the four corners is the triangulation along the
    /// diagonal 1–2 (for xy, and for any positive scaling of it, p00 + p11 ≥ p01
    /// + p10), so the lower end is the larger of its two planes and the upper end
    /// the smaller of the other diagonal's.
    public func range(x: Double, y: Double) -> (lower: Double, upper: Double) {
        guard isFinite else { return (-.infinity, .infinity) }
        let (s, t) = unitCoordinates(x: x, y: y)
        let (q00, q10, q01, q11) = ps
        let lo = max(q00 + s * (q10 - q00) + t * (q01 - q00), q11 + (1 - s) * (q01 - q11) + (1 - t) * (q10 - q11))
        let hi = min(q00 + t * (q01 - q00) + s * (q11 - q01), q00 + s * (q10 - q00) + t * (q11 - q10))
        return (min(lo, hi), max(lo, hi))
    }

    /// The set in scaled coordinates (x/dx, y/dy, p/dp), for the solver's variables.
    public func scaled(x dx: Double, y dy: Double, p dp: Double) -> ProductSet {
        ProductSet(x: (lowerX / dx, upperX / dx), y: (lowerY / dy, upperY / dy),
                   corners: (ps.0 / dp, ps.1 / dp, ps.2 / dp, ps.3 / dp), finite: isFinite)
    }

    /// A set with given corner values (a scaled copy).
    private init(x: (Double, Double), y: (Double, Double), corners: (Double, Double, Double, Double), finite: Bool) {
        (lowerX, upperX, lowerY, upperY) = (x.0, x.1, y.0, y.1)
        xs = (x.0, x.1, x.0, x.1)
        ys = (y.0, y.0, y.1, y.1)
        ps = corners
        isFinite = finite && [x.0, x.1, y.0, y.1, ps.0, ps.1, ps.2, ps.3].allSatisfy(\.isFinite)
        magnitudes = isFinite ? (max(abs(x.0), abs(x.1)), max(abs(y.0), abs(y.1)),
                                 max(abs(ps.0), abs(ps.1), abs(ps.2), abs(ps.3))) : (0, 0, 0)
    }
}

extension ProductSet {
    typealias Point3 = (Double, Double, Double)
    /// A triangle whose Gram determinant is below this fraction of |e1|²|e2|²
    /// (sin² of its angle at a) is flat: its edges hold its nearest point.
    static let flatTriangle = 1e-14

    /// Projection of (x, y, p) onto the tetrahedron in the metric
    /// w_x·dx² + w_y·dy² + w_p·dp²: the point itself when inside, otherwise the
    /// nearest point of the four faces (exact up to rounding; the solver's
    /// iterates need no more, the certificate is the dual's).
    public func project(_ x: Double, _ y: Double, _ p: Double, weights w: (x: Double, y: Double, p: Double))
        -> (Double, Double, Double) {
        guard isFinite else { return (x, y, p) }
        let s = (w.x.squareRoot(), w.y.squareRoot(), w.p.squareRoot())
        let q: Point3 = (x * s.0, y * s.1, p * s.2)
        let c = (0..<4).map { i -> Point3 in
            let v = corner(i)
            return (v.x * s.0, v.y * s.1, v.p * s.2)
        }
        if Self.contains(q, c) { return (x, y, p) }
        let faces = [(0, 1, 2), (1, 2, 3), (0, 2, 3), (0, 1, 3)]
        var best = c[0], bestD = Double.infinity
        for (a, b, d) in faces {
            let r = Self.nearestOnTriangle(q, c[a], c[b], c[d])
            let dd = Self.distanceSquared(q, r)
            if dd < bestD { (best, bestD) = (r, dd) }
        }
        return (best.0 / s.0, best.1 / s.1, best.2 / s.2)
    }

    static func sub(_ a: Point3, _ b: Point3) -> Point3 { (a.0 - b.0, a.1 - b.1, a.2 - b.2) }
    static func dot(_ a: Point3, _ b: Point3) -> Double { a.0 * b.0 + a.1 * b.1 + a.2 * b.2 }
    static func distanceSquared(_ a: Point3, _ b: Point3) -> Double { dot(sub(a, b), sub(a, b)) }
    static func along(_ a: Point3, _ d: Point3, _ t: Double) -> Point3 { (a.0 + t * d.0, a.1 + t * d.1, a.2 + t * d.2) }

    /// Signed volume (×6) of the tetrahedron a, b, c, d.
    static func orientation(_ a: Point3, _ b: Point3, _ c: Point3, _ d: Point3) -> Double {
        let u = sub(b, a), v = sub(c, a), w = sub(d, a)
        return u.0 * (v.1 * w.2 - v.2 * w.1) - u.1 * (v.0 * w.2 - v.2 * w.0) + u.2 * (v.0 * w.1 - v.1 * w.0)
    }

    /// Whether q is inside a tetrahedron of positive volume: on the side of
    /// each face that holds the opposite corner. A flat one holds no interior point.
    static func contains(_ q: Point3, _ c: [Point3]) -> Bool {
        let whole = orientation(c[0], c[1], c[2], c[3])
        guard whole != 0, whole.isFinite else { return false }
        let sides = [orientation(q, c[1], c[2], c[3]), orientation(c[0], q, c[2], c[3]),
                     orientation(c[0], c[1], q, c[3]), orientation(c[0], c[1], c[2], q)]
        return sides.allSatisfy { $0 * whole >= 0 }
    }

    /// The nearest point of segment a–b to q (a point when a = b).
    static func nearestOnSegment(_ q: Point3, _ a: Point3, _ b: Point3) -> Point3 {
        let d = sub(b, a), len = dot(d, d)
        let t = len > 0 ? min(max(dot(sub(q, a), d) / len, 0), 1) : 0
        return along(a, d, t)
    }

    /// The nearest point of triangle a, b, c to q: the projection onto its
    /// plane when that lands inside (the 2×2 normal equations), else the
    /// nearest point of its edges. Flat triangles fall to the edges.
    static func nearestOnTriangle(_ q: Point3, _ a: Point3, _ b: Point3, _ c: Point3) -> Point3 {
        let e1 = sub(b, a), e2 = sub(c, a), r = sub(q, a)
        let g11 = dot(e1, e1), g12 = dot(e1, e2), g22 = dot(e2, e2)
        let det = g11 * g22 - g12 * g12
        if det > flatTriangle * g11 * g22 {
            let r1 = dot(r, e1), r2 = dot(r, e2)
            let u = (g22 * r1 - g12 * r2) / det, v = (g11 * r2 - g12 * r1) / det
            if u >= 0 && v >= 0 && u + v <= 1 { return along(along(a, e1, u), e2, v) }
        }
        let candidates = [nearestOnSegment(q, a, b), nearestOnSegment(q, b, c), nearestOnSegment(q, a, c)]
        return candidates.min { distanceSquared(q, $0) < distanceSquared(q, $1) } ?? a
    }
}
