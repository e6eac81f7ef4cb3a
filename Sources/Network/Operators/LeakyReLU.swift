/// y = z for z ≥ 0, α·z below (ONNX LeakyRelu, and PRelu with one slope).
/// Convex for α ≤ 1, concave for α > 1; either way its relaxed set is the hull
/// of the graph's points at l, 0 and u. α·l is not exact in floating point,
/// so both of its neighbours enter the hull when it is not (checked by FMA).
public struct LeakyReLU: ElementwiseOperator {
    public let alpha: Double

    public init(alpha: Double) { self.alpha = alpha }
    public var description: String { "leaky_relu(\(alpha))" }
    public var isPositivelyHomogeneous: Bool { true }

    @inline(__always) public func value(_ z: Double) -> Double { z >= 0 ? z : alpha * z }
    public func derivative(_ z: Double) -> Double { z >= 0 ? 1 : alpha }

    public func interval(lower l: Double, upper u: Double) -> (lower: Double, upper: Double) {
        let a = scaled(l), b = scaled(u)
        let values = [a.lower, a.upper, b.lower, b.upper] + (l < 0 && u > 0 ? [0.0] : [])
        return (values.min() ?? 0, values.max() ?? 0)
    }

    /// α·z as an enclosing pair (equal when the product is exact); z itself for z ≥ 0.
    func scaled(_ z: Double) -> (lower: Double, upper: Double) {
        guard z < 0 else { return (z, z) }
        let p = alpha * z
        let error = (-p).addingProduct(alpha, z)   // exact α·z − p (FMA)
        if error == 0 { return (p, p) }
        return error > 0 ? (p, p.nextUp) : (p.nextDown, p)
    }

    public func relaxedSet(lower l: Double, upper u: Double) -> RelaxedSet {
        var points: [(z: Double, y: Double)] = []
        for z in (l < 0 && u > 0 ? [l, 0, u] : [l, u]) {
            let y = scaled(z)
            points.append((z, y.lower))
            if y.upper != y.lower { points.append((z, y.upper)) }
        }
        return RelaxedSet(hullOf: points, lower: l, upper: u)
    }
}
