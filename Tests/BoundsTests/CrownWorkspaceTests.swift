import XCTest
import LinearAlgebra
import Network
@testable import Bounds

/// The storage a monitor's tube keeps from message to message must not change a bound: every pass over
/// a kept workspace (its bounds, sets and buffers overwritten in place) gives a fresh pass's numbers, bit for bit.
final class CrownWorkspaceTests: XCTestCase {
    func testKeptWorkspaceGivesAFreshPassBitForBit() throws {
        var rng = SplitMix64(seed: 11)
        let g = try network(&rng)
        let dual = DualBound(graph: g)
        var workspace = CrownWorkspace()
        var scratch = DualScratch()
        var ibpBounds: [Interval] = []
        var buffers = IBPBuffers()
        // Boxes of different centres and widths: different neurons are undecided from one pass to the next.
        for width in [0.01, 1.0, 0.2, 2.0, 0.05, 0.5] {
            let centre = (0..<3).map { _ in rng.unit() - 0.5 }
            let box = Interval(lower: centre.map { $0 - width / 2 }, upper: centre.map { $0 + width / 2 })
            IntermediateBounds.crownWithRelaxations(g, box: box, dual: dual, extra: [], stops: nil,
                                                    scratch: &scratch, workspace: &workspace)
            let fresh = IntermediateBounds.crownWithRelaxations(g, box: box)
            assertSameBits(workspace.bounds, fresh.bounds, "CROWN, width \(width)")
            for (w, weights) in fresh.relaxations.propagation {
                XCTAssertEqual(workspace.relaxations.propagation[w]?.map(\.bitPattern), weights.map(\.bitPattern))
            }
            for (w, sets) in fresh.relaxations.sets {
                let kept = workspace.relaxations.sets[w] ?? []
                XCTAssertEqual(kept.map(\.crownLowerSlope.bitPattern), sets.map(\.crownLowerSlope.bitPattern))
                XCTAssertEqual(kept.map(\.crownUpperSlope.bitPattern), sets.map(\.crownUpperSlope.bitPattern))
                XCTAssertEqual(workspace.relaxations.columns[w]?.packed.map(\.bitPattern),
                               SetColumns(sets).packed.map(\.bitPattern))
            }
            // The output's bound over the kept sets, with the kept scratch, is a fresh evaluation's.
            let c = Matrix(rows: 2, cols: 2, columnMajor: [1, 0, 0, -1])
            let kept = dual.evaluate(target: g.output, objectives: c, box: box, bounds: workspace.bounds, rule: .crown,
                                     keepActivationCoefficients: false, relaxations: workspace.relaxations, stops: [],
                                     scratch: &scratch)
            let alone = DualBound(graph: g).evaluate(target: g.output, objectives: c, box: box, bounds: fresh.bounds)
            XCTAssertEqual(kept.lower.map(\.bitPattern), alone.lower.map(\.bitPattern))
            XCTAssertEqual(kept.margin.map(\.bitPattern), alone.margin.map(\.bitPattern))
            IBP.bounds(g, box: box, into: &ibpBounds, buffers: &buffers)
            assertSameBits(ibpBounds, IBP.bounds(g, box: box), "IBP, width \(width)")
        }
    }

    /// x (3) → 6 → ReLU → 4 → tanh → 6 → ReLU → 2.
    func network(_ rng: inout SplitMix64) throws -> Graph {
        func random(_ rows: Int, _ cols: Int) -> Matrix {
            Matrix(rows: rows, cols: cols, columnMajor: (0..<(rows * cols)).map { _ in 2 * rng.unit() - 1 })
        }
        func bias(_ n: Int) -> [Double] { (0..<n).map { _ in rng.unit() - 0.5 } }
        var g = Graph()
        let x = g.addInput(name: "x", size: 3)
        let z1 = try g.addAffine(name: "z1", terms: [AffineTerm(input: x, weight: random(6, 3))], bias: bias(6))
        let y1 = try g.addReLU(name: "y1", input: z1)
        let z2 = try g.addAffine(name: "z2", terms: [AffineTerm(input: y1, weight: random(4, 6))], bias: bias(4))
        let y2 = try g.addElementwise(name: "y2", Tanh(), input: z2)
        let z3 = try g.addAffine(name: "z3", terms: [AffineTerm(input: y2, weight: random(6, 4))], bias: bias(6))
        let y3 = try g.addReLU(name: "y3", input: z3)
        g.output = try g.addAffine(name: "out", terms: [AffineTerm(input: y3, weight: random(2, 6))], bias: bias(2))
        return g
    }

    func assertSameBits(_ a: [Interval], _ b: [Interval], _ what: String) {
        XCTAssertEqual(a.count, b.count, what)
        for (v, (x, y)) in zip(a, b).enumerated() {
            XCTAssertEqual(x.lower.map(\.bitPattern), y.lower.map(\.bitPattern), "\(what), node \(v)")
            XCTAssertEqual(x.upper.map(\.bitPattern), y.upper.map(\.bitPattern), "\(what), node \(v)")
        }
    }
}
