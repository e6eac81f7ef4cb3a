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

/// A truncated back-substitution (`stops`): the bound is the CROWN bound of the graph
/// above the stop with the stop's box as its input (built here as that separate graph,
/// with the same bounds above the stop), and it holds every sampled forward pass.
final class TruncatedCROWNTests: XCTestCase {
    func random(_ rows: Int, _ cols: Int, _ rng: inout SplitMix64) -> Matrix {
        Matrix(rows: rows, cols: cols, columnMajor: (0..<(rows * cols)).map { _ in 2 * rng.unit() - 1 })
    }

    func testStopAtAMiddleNodeIsTheUpperGraphOverItsBox() throws {
        var rng = SplitMix64(seed: 5)
        let a1 = random(6, 3, &rng), a2 = random(4, 6, &rng), a3 = random(6, 4, &rng), a4 = random(2, 6, &rng)
        let b1 = (0..<6).map { _ in rng.unit() - 0.5 }, b3 = (0..<6).map { _ in rng.unit() - 0.5 }
        var g = Graph()
        let x = g.addInput(name: "x", size: 3)
        let z1 = try g.addAffine(name: "z1", terms: [AffineTerm(input: x, weight: a1)], bias: b1)
        let y1 = try g.addReLU(name: "y1", input: z1)
        let s = try g.addAffine(name: "s", terms: [AffineTerm(input: y1, weight: a2)], bias: [0, 0, 0, 0])
        let z3 = try g.addAffine(name: "z3", terms: [AffineTerm(input: s, weight: a3)], bias: b3)
        let y3 = try g.addReLU(name: "y3", input: z3)
        let out = try g.addAffine(name: "out", terms: [AffineTerm(input: y3, weight: a4)], bias: [0, 0])
        g.output = out
        let box = Interval(lower: [-1, -0.5, 0], upper: [0.5, 1, 1])
        let bounds = IntermediateBounds.crown(g, box: box, extra: [s])
        let c = Matrix(rows: 2, cols: 2, columnMajor: [1, 0, 0, -1])
        let stopped = DualBound(graph: g).evaluate(target: out, objectives: c, box: box, bounds: bounds, stops: [s])
        // The oracle: the graph above s alone, its input box s's bounds.
        var upper = Graph()
        let si = upper.addInput(name: "s", size: 4)
        let u3 = try upper.addAffine(name: "z3", terms: [AffineTerm(input: si, weight: a3)], bias: b3)
        let v3 = try upper.addReLU(name: "y3", input: u3)
        let o = try upper.addAffine(name: "out", terms: [AffineTerm(input: v3, weight: a4)], bias: [0, 0])
        upper.output = o
        // With the full graph's bounds of the nodes above s, so that both relax y3 alike.
        let upperBox = bounds[s]
        let upperBounds = [bounds[s], bounds[z3], bounds[y3], bounds[out]]
        let alone = DualBound(graph: upper).evaluate(target: o, objectives: c, box: upperBox, bounds: upperBounds)
        for j in 0..<2 {
            XCTAssertEqual(stopped.lower[j], alone.lower[j], accuracy: 1e-9 * max(1, abs(alone.lower[j])))
        }
        for _ in 0..<2000 {
            let p = (0..<3).map { box.lower[$0] + rng.unit() * (box.upper[$0] - box.lower[$0]) }
            let v = g.evaluate(p)
            XCTAssertLessThanOrEqual(stopped.lower[0], v[0])
            XCTAssertLessThanOrEqual(stopped.lower[1], -v[1])
        }
    }
}
