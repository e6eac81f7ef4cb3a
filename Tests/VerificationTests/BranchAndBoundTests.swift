import Foundation
import XCTest
import Bounds
import LinearAlgebra
import Network
import Splitting
@testable import Verification

/// Instances from Scripts/make_bab_fixtures.py: truth by exact MILP (HiGHS), `lp_proves` by the LP
/// relaxation with LP-tight intermediate bounds, counterexamples by the script's attack, checked there.
struct BaBCase: Decodable {
    let onnx: String
    let vnnlib: String
    let truth: String
    let lp_proves: Bool
    let random_sampling_finds: Bool
    /// The case's margin (least over the box of the largest row excess a·y − b) by exact MILP and by the LP
    /// relaxation with LP-tight intermediate bounds (HiGHS); nil where the script did not compute it.
    let milp_margin: Double?
    let lp_margin: Double?

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bab")

    static func all() throws -> [BaBCase] {
        try JSONDecoder().decode([BaBCase].self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
    }

    func load() throws -> (Graph, Property) {
        (try ONNXImporter.load(path: Self.folder.appendingPathComponent(onnx).path).graph,
         try VNNLIBParser.parse(path: Self.folder.appendingPathComponent(vnnlib).path))
    }
}

final class BranchAndBoundTests: XCTestCase {
    /// Both splitting methods on every instance: the MILP's answer, and every `sat` holds a real violation.
    func testAnswersMatchExactMILPWithEitherSplitting() throws {
        let cases = try BaBCase.all()
        XCTAssertGreaterThanOrEqual(cases.filter { $0.truth == "sat" }.count, 2)
        XCTAssertGreaterThanOrEqual(cases.filter { $0.truth == "unsat" && !$0.lp_proves }.count, 4)
        for c in cases {
            let (graph, property) = try c.load()
            // ReLU splits with α-CROWN alone (the default), with ADMM after it, and input splits.
            for (limit, iterations) in [(0, 0), (0, 300), (Int.max, 0)] {
                var v = Verifier(graph: graph)
                v.inputSplitLimit = limit
                v.domainIterations = iterations
                let report = try v.verify(property, timeout: 60)
                let label = "\(c.vnnlib) (\(limit == 0 ? "ReLU" : "input") splits, \(iterations) ADMM iterations)"
                XCTAssertEqual(report.answer.word, c.truth, label)
                if case .sat(let x, let y) = report.answer { assertViolates(property, graph, x, y, label) }
            }
        }
    }

    /// Where the LP relaxation cannot prove the property, the root bound does not either (ours is never
    /// tighter than the LP's: a check of soundness too), and ReLU splits close it.
    func testReLUSplitsProveWhatTheLPCannot() throws {
        for c in try BaBCase.all() where c.truth == "unsat" && !c.lp_proves {
            let (graph, property) = try c.load()
            var root = Verifier(graph: graph)
            root.inputSplitLimit = 0
            root.maximumDomains = 0
            XCTAssertEqual(try root.verify(property, timeout: 60).answer, .unknown, c.vnnlib)
            var bab = root
            bab.maximumDomains = 100_000
            let report = try bab.verify(property, timeout: 60)
            XCTAssertEqual(report.answer, .unsat, c.vnnlib)
            XCTAssertGreaterThan(report.reluSplits, 0, c.vnnlib)
            XCTAssertGreaterThan(report.domainsProven, 0, c.vnnlib)
        }
    }

    /// α-CROWN on the root: never below CROWN, never above the LP relaxation's or the exact (MILP) margin
    /// (its bounds are sound and at most as tight as the LP), and strictly tighter than CROWN somewhere.
    func testAlphaCROWNLiesBetweenCROWNAndTheLP() throws {
        var tighter = 0
        for c in try BaBCase.all() {
            let (graph, property) = try c.load()
            guard property.disjuncts.count == 1, let d = property.disjuncts.first, let lp = c.lp_margin else { continue }
            let box = Interval(lower: d.lower, upper: d.upper)
            let dual = DualBound(graph: graph)
            var scratch = DualScratch()
            let root = IntermediateBounds.crownWithRelaxations(graph, box: box, dual: dual, extra: [], stops: nil,
                                                               scratch: &scratch)
            let rows = ReLUBranchAndBound.objectives(d, graph)
            let crown = dual.evaluate(target: graph.output, objectives: rows, box: box, bounds: root.bounds,
                                      rule: .crown, keepActivationCoefficients: false, relaxations: root.relaxations,
                                      stops: [], scratch: &scratch)
            let alpha = try XCTUnwrap(AlphaCROWN(dual: dual, iterations: 60).optimise(
                target: graph.output, objectives: rows, box: box, bounds: root.bounds, relaxations: root.relaxations,
                start: nil, targets: [Double](repeating: .infinity, count: rows.cols), scratch: &scratch))
            // A start of the wrong shape (another case's, one column more) is ignored, not a trap.
            var wrong: [Int: Matrix] = [:]
            for (w, _) in graph.activationOf { wrong[w] = Matrix(rows: graph.nodes[w].size, cols: rows.cols + 1) }
            let ignored = try XCTUnwrap(AlphaCROWN(dual: dual, iterations: 60).optimise(
                target: graph.output, objectives: rows, box: box, bounds: root.bounds, relaxations: root.relaxations,
                start: wrong, targets: [Double](repeating: .infinity, count: rows.cols), scratch: &scratch))
            XCTAssertEqual(ignored.lower, alpha.lower, c.vnnlib)
            let margin = { (lower: [Double]) in zip(lower, d.outputs).map { $0 - $1.bound }.max() ?? -.infinity }
            XCTAssertGreaterThanOrEqual(margin(alpha.lower), margin(crown.lower), c.vnnlib)
            XCTAssertLessThanOrEqual(margin(alpha.lower), lp + 1e-6, c.vnnlib)
            if let exact = c.milp_margin { XCTAssertLessThanOrEqual(margin(alpha.lower), exact + 1e-6, c.vnnlib) }
            if margin(alpha.lower) > margin(crown.lower) + 1e-6 { tighter += 1 }
        }
        XCTAssertGreaterThan(tighter, 0, "α-CROWN tightened no root bound")
    }

    /// Input splitting cut short (one level) hands its open parts to ReLU splits: still the MILP's answer.
    func testInputSplitsHandOpenPartsToReLUSplits() throws {
        var handed = 0
        for c in try BaBCase.all() where c.truth == "unsat" && !c.lp_proves {
            let (graph, property) = try c.load()
            var v = Verifier(graph: graph)
            v.inputSplitLimit = Int.max
            v.maximumDepth = 1
            let report = try v.verify(property, timeout: 60)
            XCTAssertEqual(report.answer, .unsat, c.vnnlib)
            if report.domainsBounded > 0 { handed += 1 }
        }
        XCTAssertGreaterThan(handed, 0, "no part reached ReLU splits: the hand-over went untested")
    }

    /// A cap on the open domains is never exceeded; hitting it gives `unknown`, never a wrong answer.
    func testOpenDomainsStayUnderTheCap() throws {
        var capped = 0
        for c in try BaBCase.all() where c.truth == "unsat" && !c.lp_proves {
            let (graph, property) = try c.load()
            var v = Verifier(graph: graph)
            v.inputSplitLimit = 0
            v.maximumDomains = 1
            let report = try v.verify(property, timeout: 60)
            XCTAssertLessThanOrEqual(report.largestOpenList, 1, c.vnnlib)
            XCTAssertTrue(report.answer == .unknown || report.answer == .unsat, c.vnnlib)
            if report.answer == .unknown { capped += 1 }
        }
        XCTAssertGreaterThan(capped, 0, "no instance needed more than one open domain: the cap went untested")
    }

    /// The attack alone finds the violations that uniform sampling misses, each checked by a forward pass.
    func testGradientAttackFindsHiddenCounterexamples() throws {
        let hidden = try BaBCase.all().filter { $0.truth == "sat" && !$0.random_sampling_finds }
        XCTAssertFalse(hidden.isEmpty)
        for c in hidden {
            let (graph, property) = try c.load()
            let d = property.disjuncts[0]
            let attack = GradientAttack(graph: graph)
            let found = attack.run(lower: d.lower, upper: d.upper, cases: property.disjuncts.map(\.outputs),
                                   deadline: DispatchTime.now().uptimeNanoseconds + 10_000_000_000)
            let cex = try XCTUnwrap(found, c.vnnlib)
            assertViolates(property, graph, cex.input, cex.output, c.vnnlib)
        }
    }

    func assertViolates(_ property: Property, _ graph: Graph, _ x: [Double], _ y: [Double], _ label: String) {
        let y2 = graph.evaluate(x)
        XCTAssertEqual(y, y2, label)
        XCTAssertTrue(property.disjuncts.contains { d in
            x.indices.allSatisfy { d.lower[$0] <= x[$0] && x[$0] <= d.upper[$0] }
                && Verifier.violation(y2, d.outputs) <= 0
        }, label)
    }
}
