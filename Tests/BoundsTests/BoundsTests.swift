import XCTest
import OracleFixtures
import LinearAlgebra
import Network
@testable import Bounds

final class BoundsTests: XCTestCase {
    /// IBP and CROWN contain the exact range (MILP) and CROWN is inside IBP.
    func testIBPAndCROWNContainTheExactRange() throws {
        for name in LPFixture.testSet {
            let fx = try LPFixture.load(name)
            let graph = try fx.graph()
            for cs in fx.cases {
                let box = cs.box.interval
                let ibp = IBP.bounds(graph, box: box)
                let crown = IntermediateBounds.crown(graph, box: box)
                guard let exact = cs.milp else { continue }
                for j in 0..<graph.outputSize {
                    XCTAssertLessThanOrEqual(ibp[graph.output].lower[j], exact.lower[j] + 1e-9)
                    XCTAssertGreaterThanOrEqual(ibp[graph.output].upper[j], exact.upper[j] - 1e-9)
                    XCTAssertLessThanOrEqual(crown[graph.output].lower[j], exact.lower[j] + 1e-9, name)
                    XCTAssertGreaterThanOrEqual(crown[graph.output].upper[j], exact.upper[j] - 1e-9, name)
                    XCTAssertGreaterThanOrEqual(crown[graph.output].lower[j], ibp[graph.output].lower[j] - 1e-12)
                }
                // Intermediate: CROWN never tighter than the LP-optimal layer bounds.
                for (w, r) in zip(graph.preActivationNodes, cs.lp_layers) {
                    for i in 0..<r.lower.count {
                        XCTAssertLessThanOrEqual(crown[w].lower[i], r.lower[i] + 1e-7, "\(name) node \(w) neuron \(i)")
                        XCTAssertGreaterThanOrEqual(crown[w].upper[i], r.upper[i] - 1e-7, "\(name) node \(w) neuron \(i)")
                    }
                }
                // IBP matches the oracle's IBP on the first layer (exact there).
                if let first = graph.preActivationNodes.first, let ref = cs.ibp.first {
                    for i in 0..<ref.lower.count {
                        XCTAssertEqual(ibp[first].lower[i], ref.lower[i], accuracy: 1e-9)
                        XCTAssertEqual(ibp[first].upper[i], ref.upper[i], accuracy: 1e-9)
                    }
                }
            }
        }
    }

    /// Any multipliers give a valid bound: random ones stay below the exact minimum.
    func testDualBoundIsValidForArbitraryMultipliers() throws {
        let fx = try LPFixture.load("t_3_10_10_10_2")
        let graph = try fx.graph()
        let cs = fx.cases[0]
        let box = cs.box.interval
        let bounds = IntermediateBounds.crown(graph, box: box)
        let dual = DualBound(graph: graph)
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<20 {
            var table: [Int: Matrix] = [:]
            for w in graph.preActivationNodes {
                var h = Matrix(rows: graph.nodes[w].size, cols: 2)
                for i in 0..<h.data.count { h.data[i] = Double.random(in: -2...2, using: &rng) }
                table[w] = h
            }
            let c = outputObjectives(2)
            let r = dual.evaluate(target: graph.output, objectives: c.columns(0..<2), box: box, bounds: bounds, rule: .given(table))
            for j in 0..<2 {
                XCTAssertLessThanOrEqual(r.lower[j], (cs.milp?.lower[j] ?? cs.sampled.lower[j]) + 1e-9, "trial \(trial)")
                XCTAssertGreaterThan(r.margin[j], 0)
            }
        }
    }
}
