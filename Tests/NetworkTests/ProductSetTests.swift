import Network
import XCTest

/// The McCormick tetrahedron of x·y: its interval and its set hold the graph
/// on dense grids over many boxes, its vertex minimum is never above the graph
/// in any direction, and its projection meets the optimality condition of a
/// projection onto a convex hull (checked at its four corners).
final class ProductSetTests: XCTestCase {
    static let boxes: [((Double, Double), (Double, Double))] = [
        ((-1, 1), (-1, 1)), ((0.5, 2), (-3, -1)), ((-2, 3), (0, 0)), ((1e-9, 2e-9), (-5, 7)), ((-40, 40), (3, 3)),
        ((2, 2), (-1, 4)), ((-1e6, 1e6), (-1e-6, 1e-6)), ((0, 1), (0, 1)), ((-7, -2), (-3, -0.5)),
    ]

    static var randomBoxes: [((Double, Double), (Double, Double))] {
        var rng = SystemRandomNumberGenerator()
        return boxes + (0..<40).map { _ in
            let c = (Double.random(in: -5...5, using: &rng), Double.random(in: -5...5, using: &rng))
            let r = (pow(10, Double.random(in: -4...1, using: &rng)), pow(10, Double.random(in: -4...1, using: &rng)))
            return ((c.0 - r.0, c.0 + r.0), (c.1 - r.1, c.1 + r.1))
        }
    }

    /// 25 points from b.0 to b.1, both ends exactly (interpolation can round past b.1).
    func grid(_ b: (Double, Double)) -> [Double] { (0...24).map { min(b.0 + (b.1 - b.0) * Double($0) / 24, b.1) } }

    func testIntervalAndSetHoldTheProductOnDenseGrids() {
        for (bx, by) in Self.randomBoxes {
            let set = ProductSet(x: bx, y: by)
            let iv = Product.interval(bx, by)
            XCTAssertTrue(set.isFinite)
            for x in grid(bx) {
                for y in grid(by) {
                    let p = x * y
                    XCTAssertLessThanOrEqual(iv.lower, p, "\(bx) × \(by) at (\(x), \(y))")
                    XCTAssertGreaterThanOrEqual(iv.upper, p, "\(bx) × \(by) at (\(x), \(y))")
                    let r = set.range(x: x, y: y)
                    let tolerance = 8 * Double.ulpOfOne * (set.magnitudes.p + set.magnitudes.x * set.magnitudes.y)
                    XCTAssertLessThanOrEqual(r.lower, p + tolerance, "\(bx) × \(by) at (\(x), \(y)): under-estimator")
                    XCTAssertGreaterThanOrEqual(r.upper, p - tolerance, "\(bx) × \(by) at (\(x), \(y)): over-estimator")
                }
            }
        }
    }

    /// The dual bound's term: min over the corners ≤ g·(x, y, xy) on the graph, for many directions.
    func testVertexMinimumIsBelowTheGraphInEveryDirection() {
        var rng = SystemRandomNumberGenerator()
        for (bx, by) in Self.randomBoxes {
            let set = ProductSet(x: bx, y: by)
            for _ in 0..<30 {
                let g = (Double.random(in: -1...1, using: &rng), Double.random(in: -1...1, using: &rng),
                         Double.random(in: -1...1, using: &rng))
                let m = set.minimum(gx: g.0, gy: g.1, gp: g.2)
                var graphMin = Double.infinity
                for x in grid(bx) { for y in grid(by) { graphMin = min(graphMin, g.0 * x + g.1 * y + g.2 * x * y) } }
                let scale = abs(g.0) * set.magnitudes.x + abs(g.1) * set.magnitudes.y + abs(g.2) * set.magnitudes.p
                // The grid holds the corners, which are on the graph: the two minima agree.
                XCTAssertEqual(m, graphMin, accuracy: 1e-12 * max(scale, 1e-300), "\(bx) × \(by) direction \(g)")
            }
        }
    }

    /// q is the projection of v onto the hull of the corners c_k in the metric W
    /// iff (v − q)ᵀW(c_k − q) ≤ 0 for every corner (and q is in the hull).
    func testProjectionMeetsItsOptimalityCondition() {
        var rng = SystemRandomNumberGenerator()
        for (bx, by) in Self.randomBoxes {
            let set = ProductSet(x: bx, y: by)
            let span = (bx.1 - bx.0 + 1e-3, by.1 - by.0 + 1e-3, set.magnitudes.p + 1e-3)
            for _ in 0..<40 {
                let w = (Double(Int.random(in: 1...3, using: &rng)), Double(Int.random(in: 1...3, using: &rng)),
                         Double(Int.random(in: 1...3, using: &rng)))
                let v = (Double.random(in: bx.0 - span.0...bx.1 + span.0, using: &rng),
                         Double.random(in: by.0 - span.1...by.1 + span.1, using: &rng),
                         Double.random(in: -2 * span.2...2 * span.2, using: &rng))
                let q = set.project(v.0, v.1, v.2, weights: w)
                let r = set.range(x: q.0, y: q.1)
                let size = span.0 * span.0 * w.0 + span.1 * span.1 * w.1 + span.2 * span.2 * w.2
                XCTAssertTrue(q.0 >= bx.0 - 1e-9 * span.0 && q.0 <= bx.1 + 1e-9 * span.0, "\(v) -> \(q): x outside")
                XCTAssertTrue(q.1 >= by.0 - 1e-9 * span.1 && q.1 <= by.1 + 1e-9 * span.1, "\(v) -> \(q): y outside")
                XCTAssertTrue(q.2 >= r.lower - 1e-9 * span.2 && q.2 <= r.upper + 1e-9 * span.2, "\(v) -> \(q): p outside")
                for k in 0..<4 {
                    let c = set.corner(k)
                    let inner = (v.0 - q.0) * w.0 * (c.x - q.0) + (v.1 - q.1) * w.1 * (c.y - q.1)
                        + (v.2 - q.2) * w.2 * (c.p - q.2)
                    XCTAssertLessThanOrEqual(inner, 1e-9 * size, "\(bx) × \(by): \(v) -> \(q) is not nearest (corner \(k))")
                }
            }
        }
    }

    func testNonFiniteBoxesGiveTheUnconstrainedSet() {
        for (bx, by) in [((-Double.infinity, 1.0), (0.0, 1.0)), ((0.0, 1.0), (.nan, 1.0)), ((1e200, 1e201), (1e200, 1e201)),
                         ((2.0, 1.0), (0.0, 1.0))] {
            let set = ProductSet(x: bx, y: by)
            XCTAssertFalse(set.isFinite, "\(bx) × \(by)")
            XCTAssertEqual(set.minimum(gx: 0, gy: 0, gp: 1), -.infinity)
            let iv = Product.interval(bx, by)
            XCTAssertTrue(iv.lower == -.infinity || iv.upper == .infinity || !iv.lower.isFinite, "\(bx) × \(by)")
        }
    }
}
