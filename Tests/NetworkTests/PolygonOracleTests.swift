import Foundation
import Network
import XCTest

/// Each activation's relaxed set against a generic QP (scipy) for its weighted
/// projection and HiGHS (scipy's linprog) for its minimum in a direction, over
/// the same polygons (Scripts/make_projection_fixtures.py).
final class PolygonOracleTests: XCTestCase {
    struct Fixture: Decodable {
        struct Activation: Decodable {
            let kind: String
            let alpha: Double?
            let min: Double?
            let max: Double?
        }
        struct Projection: Decodable {
            let point: [Double]
            let weights: [Double]
            let projection: [Double]
        }
        struct Minimum: Decodable {
            let direction: [Double]
            let minimum: Double
        }
        struct Record: Decodable {
            let activation: Activation
            let lower: Double
            let upper: Double
            let projections: [Projection]
            let minima: [Minimum]
        }
        let records: [Record]
    }

    func op(_ a: Fixture.Activation) throws -> any ElementwiseOperator {
        switch a.kind {
        case "relu_like": return ReLU()
        case "leaky": return LeakyReLU(alpha: try XCTUnwrap(a.alpha))
        case "clip": return Clip(minimum: try XCTUnwrap(a.min), maximum: try XCTUnwrap(a.max))
        case "tanh": return Tanh()
        case "sigmoid": return Sigmoid()
        case "softplus": return Softplus()
        default: throw XCTSkip("unknown activation \(a.kind) in the fixture")
        }
    }

    func testProjectionAndMinimumMatchScipy() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/activations/polygons.json")
        let fx = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertGreaterThanOrEqual(fx.records.count, 60)
        for r in fx.records {
            let f = try op(r.activation)
            let set = f.relaxation(lower: r.lower, upper: r.upper)
            let what = "\(f) on [\(r.lower), \(r.upper)]"
            let scale = max(1, set.magnitudes.z, set.magnitudes.y)
            for p in r.projections {
                let (z, y) = f.project(p.point[0], p.point[1], onto: set, weightZ: p.weights[0], weightY: p.weights[1])
                XCTAssertEqual(z, p.projection[0], accuracy: 1e-7 * scale, "\(what): projection of \(p.point) (z)")
                XCTAssertEqual(y, p.projection[1], accuracy: 1e-7 * scale, "\(what): projection of \(p.point) (y)")
            }
            for m in r.minima {
                let v = set.minimum(gz: m.direction[0], gy: m.direction[1])
                XCTAssertEqual(v, m.minimum, accuracy: 1e-9 * scale * (abs(m.direction[0]) + abs(m.direction[1])),
                               "\(what): minimum in direction \(m.direction)")
            }
        }
    }
}
