import Foundation
import XCTest

/// Networks whose last operator is a ReLU (policies with non-negative outputs)
/// or a ReLU then a constant (MATLAB's u = relu(W x + b) − 10), through every
/// command. References are dense samples (Scripts/make_reliability_fixtures.py).
final class ReLUOutputTests: XCTestCase {
    struct Reference: Decodable {
        struct Box: Decodable { let lower: [Double]; let upper: [Double] }
        struct Case: Decodable {
            let box: Box
            let sampled: [[Double]]?
            let steps_lower: [[Double]]?
            let steps_upper: [[Double]]?
        }
        let cases: [String: Case]
    }

    let folder = "Tests/Fixtures/reliability/"

    func reference(_ name: String) throws -> Reference.Case {
        let url = repositoryRoot.appendingPathComponent(folder + "reference.json")
        let all = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        guard let c = all.cases[name] else { throw XCTSkip("fixture case \(name) missing") }
        return c
    }

    func testBoundContainsTheSampledRangeInEveryMode() throws {
        let modes: [[String]] = [["--method", "admm"], ["--method", "crown"], ["--method", "ibp"],
                                 ["--method", "admm", "--intermediates", "lp"]]
        for name in ["relu_output", "relu_minus_ten", "dead_relu_output"] {
            let ref = try reference(name)
            guard let sampled = ref.sampled else { return XCTFail("no samples for \(name)") }
            let box = try writeTemporary("\(name)-box.json", "{\"lower\": \(ref.box.lower), \"upper\": \(ref.box.upper)}")
            for mode in modes {
                let r = try runCLI(["bound", folder + name + ".onnx", "--box", box, "--json"] + mode)
                XCTAssertEqual(r.status, 0, "\(name) \(mode): \(r.stderr)")
                guard let obj = jsonObject(r.stdout), let lower = obj["lower"] as? [Double],
                      let upper = obj["upper"] as? [Double] else { XCTFail("\(name) \(mode): \(r.stdout)"); continue }
                for j in 0..<sampled[0].count {
                    XCTAssertLessThanOrEqual(lower[j], sampled[0][j], "\(name) \(mode) output \(j)")
                    XCTAssertGreaterThanOrEqual(upper[j], sampled[1][j], "\(name) \(mode) output \(j)")
                }
            }
        }
    }

    /// Every output pre-activation is negative on the box, so the ReLU output is
    /// exactly 0: a bound that ignored the final ReLU would report a negative upper.
    func testDeadReLUOutputIsExactlyZero() throws {
        let ref = try reference("dead_relu_output")
        let box = try writeTemporary("dead-box.json", "{\"lower\": \(ref.box.lower), \"upper\": \(ref.box.upper)}")
        for method in ["admm", "crown"] {
            let r = try runCLI(["bound", folder + "dead_relu_output.onnx", "--box", box, "--method", method, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            guard let obj = jsonObject(r.stdout), let lower = obj["lower"] as? [Double],
                  let upper = obj["upper"] as? [Double] else { return XCTFail(r.stdout) }
            for j in 0..<2 {
                XCTAssertEqual(lower[j], 0, accuracy: 1e-9, method)
                XCTAssertEqual(upper[j], 0, accuracy: 1e-9, method)
                XCTAssertGreaterThanOrEqual(upper[j], 0, method)
            }
        }
    }

    func testVerifyProvesANonNegativeOutput() throws {
        let ref = try reference("relu_output")
        var text = "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const X_2 Real)\n"
        text += "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
        for i in 0..<3 {
            text += "(assert (>= X_\(i) \(ref.box.lower[i])))\n(assert (<= X_\(i) \(ref.box.upper[i])))\n"
        }
        // A ReLU output is never below 0: the violation cannot be reached.
        let unsat = try writeTemporary("relu-unsat.vnnlib", text + "(assert (<= Y_0 -0.001))\n")
        let a = try runCLI(["verify", folder + "relu_output.onnx", unsat])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.hasPrefix("unsat"), a.stdout)
        // The sampled maximum of Y_0 is reached, so asking for it is satisfiable.
        guard let top = ref.sampled?[1][0] else { return XCTFail("no samples") }
        let sat = try writeTemporary("relu-sat.vnnlib", text + "(assert (>= Y_0 \(top * 0.9)))\n")
        let b = try runCLI(["verify", folder + "relu_output.onnx", sat])
        XCTAssertTrue(b.stdout.hasPrefix("sat"), b.stdout + b.stderr)
    }

    func testReachTubeOfAReLUOutputControllerContainsSimulatedTrajectories() throws {
        let ref = try reference("brake")
        guard let lo = ref.steps_lower, let hi = ref.steps_upper else { return XCTFail("no trajectories") }
        let box = try writeTemporary("brake-box.json", "{\"lower\": \(ref.box.lower), \"upper\": \(ref.box.upper)}")
        for intermediates in ["crown", "lp"] {
            let r = try runCLI(["reach", folder + "brake/system.toml", "--box", box, "--json",
                                "--intermediates", intermediates])
            XCTAssertEqual(r.status, 0, r.stderr)
            guard let obj = jsonObject(r.stdout), let steps = obj["steps"] as? [[String: Any]] else {
                return XCTFail(r.stdout)
            }
            XCTAssertEqual(steps.count, lo.count)
            for (t, s) in steps.enumerated() {
                guard let l = s["lower"] as? [Double], let u = s["upper"] as? [Double] else { return XCTFail("step \(t)") }
                for i in 0..<2 {
                    XCTAssertLessThanOrEqual(l[i], lo[t][i] + 1e-12, "step \(t) state \(i)")
                    XCTAssertGreaterThanOrEqual(u[i], hi[t][i] - 1e-12, "step \(t) state \(i)")
                }
            }
        }
    }
}
