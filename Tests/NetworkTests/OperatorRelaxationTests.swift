import Foundation
import Network
import XCTest
import ONNXSchema

/// Every operator's interval and relaxed set hold its graph on dense samples
/// over many intervals (tiny, huge, one-sided, straddling, the end points),
/// and each set's projection satisfies the projection's optimality condition.
final class OperatorRelaxationTests: XCTestCase {
    static let operators: [any ElementwiseOperator] = [
        ReLU(), LeakyReLU(alpha: 0.01), LeakyReLU(alpha: 0.3), LeakyReLU(alpha: 2.5), Clip(minimum: -1, maximum: 1),
        Clip(minimum: 0, maximum: 6), Tanh(), Sigmoid(), Softplus(), Exp(), Sinusoid.sine, Sinusoid.cosine, SquareRoot(),
        Reciprocal(), Power(exponent: 2), Power(exponent: 3), Power(exponent: 4),
    ]

    static var intervals: [(Double, Double)] {
        var list: [(Double, Double)] = [(-1, 1), (-3, 0.5), (-0.5, 3), (0.1, 0.2), (-0.2, -0.1), (2, 7), (-7, -2),
                                        (-1e-9, 1e-9), (1e-12, 2e-12), (-40, 40), (-700, 5), (3, 3), (-2, -2),
                                        (0, 1), (-1, 0), (-50, -40), (40, 50), (-6.3, 6.3), (1.5, 4.8), (100, 103)]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<60 {
            let c = Double.random(in: -8...8, using: &rng), r = pow(10, Double.random(in: -6...1, using: &rng))
            list.append((c - r, c + r))
        }
        return list
    }

    /// The polygon holds (z, y) if y lies within its range above z, up to the
    /// rounding of interpolating an edge (a few ulps of the vertices' magnitudes).
    func holds(_ set: RelaxedSet, _ z: Double, _ y: Double) -> Bool {
        let r = set.range(at: z)
        let (mz, my) = set.magnitudes
        let slope = max(abs(set.lowerSlopeRange.0), abs(set.lowerSlopeRange.1), abs(set.upperSlopeRange.0),
                        abs(set.upperSlopeRange.1))
        let tolerance = 8 * Double.ulpOfOne * (abs(y) + my + mz * slope) + 1e-300
        return r.lower <= y + tolerance && y <= r.upper + tolerance
    }

    /// What the dual bound relies on, exactly: for every direction g, the
    /// minimum of g·v over the vertices is at most g·(z, f(z)) on the graph.
    func testVertexMinimumIsBelowTheGraphInEveryDirection() {
        var rng = SystemRandomNumberGenerator()
        for op in Self.operators {
            for (l, u) in Self.intervals where op.domainViolation(lower: l, upper: u) == nil {
                let set = op.relaxation(lower: l, upper: u)
                guard set.isFinite else { continue }
                let directions = [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)]
                    + (0..<40).map { _ in (Double.random(in: -1...1, using: &rng), Double.random(in: -1...1, using: &rng)) }
                for s in 0...400 {
                    let z = s == 400 ? u : l + (u - l) * Double(s) / 400
                    let y = op.value(z)
                    for (gz, gy) in directions {
                        let m = set.minimum(gz: gz, gy: gy)
                        // The test's own products round by at most an ulp each.
                        let here = gz * z + gy * y
                        let rounding = 2 * Double.ulpOfOne * (abs(gz * z) + abs(gy * y))
                        XCTAssertLessThanOrEqual(m, here + rounding, "\(op) [\(l), \(u)] at z = \(z), g = (\(gz), \(gy))")
                        if m > here + rounding { return }
                    }
                }
            }
        }
    }

    func testIntervalsAndSetsHoldTheGraph() {
        for op in Self.operators {
            for (l, u) in Self.intervals where op.domainViolation(lower: l, upper: u) == nil {
                let set = op.relaxation(lower: l, upper: u)
                let iv = op.checkedInterval(lower: l, upper: u)
                guard set.isFinite else { continue }   // overflow (exp of 700): unconstrained, nothing claimed
                let samples = 2000
                for s in 0...samples {
                    let z = s == samples ? u : l + (u - l) * Double(s) / Double(samples)
                    let y = op.value(z)
                    XCTAssertTrue(iv.lower <= y && y <= iv.upper, "\(op) on [\(l), \(u)]: f(\(z)) = \(y) outside \(iv)")
                    if !holds(set, z, y) {
                        XCTFail("\(op) on [\(l), \(u)]: (\(z), \(y)) outside the set \(set.range(at: z))")
                        break
                    }
                }
            }
        }
    }

    /// Bounds outside the domain, or not finite, give the unconstrained set,
    /// whose minimum is −∞ (nothing claimed).
    func testOutsideTheDomainNothingIsClaimed() {
        XCTAssertFalse(SquareRoot().relaxation(lower: -1, upper: 4).isFinite)
        XCTAssertFalse(Reciprocal().relaxation(lower: -1, upper: 4).isFinite)
        XCTAssertFalse(Tanh().relaxation(lower: -.infinity, upper: 4).isFinite)
        XCTAssertEqual(Reciprocal().relaxation(lower: -1, upper: 4).minimum(gz: 1, gy: 1), -.infinity)
        XCTAssertEqual(SquareRoot().checkedInterval(lower: -1, upper: 4).lower, -.infinity)
    }

    /// p* is the projection of x onto a convex set S iff (x − p*)·(s − p*) ≤ 0
    /// for every s in S; checked against the set's vertices (enough, by linearity).
    func testProjectionIsOptimal() {
        var rng = SystemRandomNumberGenerator()
        for op in Self.operators {
            for (l, u) in Self.intervals.prefix(30) where op.domainViolation(lower: l, upper: u) == nil {
                let set = op.relaxation(lower: l, upper: u)
                guard set.isFinite, set.count > 0 else { continue }
                let (mz, my) = set.magnitudes
                for _ in 0..<50 {
                    let p = Double.random(in: -2...2, using: &rng) * max(mz, 1e-9)
                    let q = Double.random(in: -2...2, using: &rng) * max(my, 1e-9)
                    let wz: Double = Bool.random(using: &rng) ? 1 : 3
                    let wy: Double = Bool.random(using: &rng) ? 1 : 2
                    let (a, b) = op.project(p, q, onto: set, weightZ: wz, weightY: wy)
                    // The projection lands on an edge: inside up to the rounding of the edge's parameter.
                    let r = set.range(at: a)
                    let edgeRounding = 1e-12 * (mz + my)
                    XCTAssertTrue(set.count == 1 || (r.lower - edgeRounding <= b && b <= r.upper + edgeRounding),
                                  "\(op) [\(l), \(u)]: projection (\(a), \(b)) outside the set \(r)")
                    let extent: Double = abs(p) + abs(q) + mz + my
                    let scale: Double = extent * extent
                    for i in 0..<set.count {
                        let dz: Double = wz * (p - a) * (set.z(i) - a)
                        let dy: Double = wy * (q - b) * (set.y(i) - b)
                        let inner = dz + dy
                        XCTAssertLessThanOrEqual(inner, 1e-9 * scale, "\(op) [\(l), \(u)]: not the nearest point")
                    }
                }
            }
        }
    }

    /// ReLU's closed form is the polygon projection (the triangle's).
    func testReLUClosedFormMatchesThePolygon() {
        var rng = SystemRandomNumberGenerator()
        for (l, u) in [(-1.0, 2.0), (-3.0, 0.5), (0.5, 2.0), (-2.0, -1.0)] {
            let set = ReLU().relaxation(lower: l, upper: u)
            for _ in 0..<200 {
                let p = Double.random(in: -4...4, using: &rng), q = Double.random(in: -4...4, using: &rng)
                let a = ReLU().project(p, q, onto: set, weightZ: 1, weightY: 1)
                let b = set.project(p, q)
                XCTAssertEqual(a.0, b.0, accuracy: 1e-12)
                XCTAssertEqual(a.1, b.1, accuracy: 1e-12)
            }
        }
    }
}

/// Activation attributes from a model file that would put NaN or ∞ into the
/// graph are refused with the node named.
final class ActivationImportTests: XCTestCase {
    func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    func testNonFiniteAttributesAreRefused() throws {
        for (op, attribute) in [("LeakyRelu", float("alpha", .nan)), ("HardSigmoid", float("alpha", .infinity)),
                                ("HardSigmoid", float("beta", .nan))] {
            let data = try onnxModel(input: [1, 4], node: onnxNode(op, inputs: ["x"], [attribute]))
            assertImportRefused(data, "not a finite number")
        }
    }
}
