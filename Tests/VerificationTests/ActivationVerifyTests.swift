import Foundation
import Network
import OracleFixtures
import XCTest
@testable import Verification

/// `verify` on tanh, sigmoid and product networks, with thresholds placed by
/// the fixture scripts' oracles: beyond HiGHS's LP bound (so the property holds
/// and the relaxation can prove it) and inside the attained range (so it is
/// violated and a counterexample must come back).
final class ActivationVerifyTests: XCTestCase {
    func property(inputs box: LPFixture.Range, output j: Int, outputs: Int, atLeast t: Double) -> String {
        var text = (0..<box.lower.count).map { "(declare-const X_\($0) Real)" }
        text += (0..<outputs).map { "(declare-const Y_\($0) Real)" }
        for i in 0..<box.lower.count {
            text.append("(assert (>= X_\(i) \(box.lower[i])))")
            text.append("(assert (<= X_\(i) \(box.upper[i])))")
        }
        text.append("(assert (>= Y_\(j) \(t)))")   // the unsafe outputs
        return text.joined(separator: "\n")
    }

    func testProvesBeyondTheLPAndFalsifiesInsideTheAttainedRange() throws {
        for name in ["tanh_4_64_64_2", "sigmoid_6_64_64_64_3", "product_4_16_8_2"] {
            let fx = try ActivationFixture.load(name)
            let graph = try fx.graph()
            let verifier = Verifier(graph: graph)
            let cs = fx.cases[0]
            let n = graph.outputSize
            let width = cs.lp.upper[0] - cs.lp.lower[0]
            let safe = try VNNLIBParser.parse(text: property(inputs: cs.box, output: 0, outputs: n,
                                                             atLeast: cs.lp.upper[0] + 0.05 * width))
            XCTAssertEqual(try verifier.verify(safe, timeout: 60).answer.word, "unsat", "\(name): should be proved")
            let seen = max(cs.sampled.upper[0], cs.attacked.upper[0])
            let violated = try VNNLIBParser.parse(text: property(inputs: cs.box, output: 0, outputs: n,
                                                                 atLeast: seen - 0.05 * width))
            let report = try verifier.verify(violated, timeout: 60)
            guard case .sat(let x, let y) = report.answer else {
                return XCTFail("\(name): expected a counterexample, got \(report.answer.word)")
            }
            XCTAssertEqual(graph.evaluate(x), y, name)
            XCTAssertGreaterThanOrEqual(y[0], seen - 0.05 * width, name)
            for i in x.indices { XCTAssertTrue(cs.box.lower[i] <= x[i] && x[i] <= cs.box.upper[i], name) }
        }
    }
}
