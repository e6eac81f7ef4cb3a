import Foundation
import XCTest
import Bounds
import LinearAlgebra
import Network
@testable import Reachability

/// Envelopes of closed-loop ODE trajectories from Scripts/make_ode_examples.py and make_unicycle_example.py
/// (scipy DOP853 at rtol 1e-10, zero-order hold): at the samples and over a
/// grid inside every period.
struct ODEFixture: Decodable {
    struct Range: Decodable { let lower: [Double]; let upper: [Double] }
    struct Step: Decodable { let t: Int; let lower: [Double]; let upper: [Double] }
    struct Case: Decodable {
        let label: String
        let box: Range
        let horizon: Int
        let samples: [Step]
        let periods: [Step]
    }
    let name: String
    let system: String
    let cases: [Case]

    static func all() throws -> [ODEFixture] {
        let dir = repository.appendingPathComponent("Tests/Fixtures/ode")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        return try files.sorted().map {
            try JSONDecoder().decode(ODEFixture.self, from: Data(contentsOf: dir.appendingPathComponent($0)))
        }
    }
}

final class ODEReachTests: XCTestCase {
    /// scipy's own error at rtol 1e-10 over a second is far below this.
    static let integrationSlack = 1e-8

    /// Every example, tight and certify-first: each step's set holds the scipy
    /// envelope at the sample time, and each period's box holds it over the whole
    /// period; the examples are certified safe, and the last step is within 1.5×
    /// the simulated hull's width.
    func testTubesContainScipyTrajectories() throws {
        let fixtures = try ODEFixture.all()
        XCTAssertGreaterThanOrEqual(fixtures.count, 2)
        for fx in fixtures {
            let sys = try SystemDescription.load(path: repository.appendingPathComponent(fx.system).path)
            // Tight (the solver's tube) and certify-first (CROWN's, truncated passes included,
            // as the daemon publishes it).
            for cs in fx.cases { for certifyFirst in [false, true] {
                var analysis = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: .oneShot,
                                                 intermediates: .crown)
                analysis.settings.maxIterations = 300
                analysis.certifyFirst = certifyFirst
                let tube = try analysis.run(initial: Interval(lower: cs.box.lower, upper: cs.box.upper))
                let name = "\(fx.name)/\(cs.label)" + (certifyFirst ? " certify-first" : "")
                XCTAssertEqual(tube.method, certifyFirst ? .crown : .admm, name)
                XCTAssertNil(tube.note, name)
                XCTAssertEqual(tube.verdict, .safe, name)
                XCTAssertEqual(tube.steps.count, cs.horizon + 1, name)
                guard tube.steps.count == cs.horizon + 1 else { continue }
                for (sample, period) in zip(cs.samples, cs.periods) {
                    let s = tube.steps[sample.t], slack = Self.integrationSlack
                    for i in 0..<sys.stateCount {
                        XCTAssertLessThanOrEqual(s.lower[i], sample.lower[i] + slack, "\(name) t=\(s.t)")
                        XCTAssertGreaterThanOrEqual(s.upper[i], sample.upper[i] - slack, "\(name) t=\(s.t)")
                        let lo = try XCTUnwrap(s.intervalLower, name), hi = try XCTUnwrap(s.intervalUpper, name)
                        XCTAssertLessThanOrEqual(lo[i], period.lower[i] + slack, "\(name) period \(s.t)")
                        XCTAssertGreaterThanOrEqual(hi[i], period.upper[i] - slack, "\(name) period \(s.t)")
                    }
                }
                if let last = cs.samples.last {
                    let s = tube.steps[last.t]
                    for i in 0..<sys.stateCount {
                        let ratio = (s.upper[i] - s.lower[i]) / (last.upper[i] - last.lower[i])
                        XCTAssertLessThanOrEqual(ratio, 1.5, "\(name) x\(i): last step \(ratio)× the simulated hull")
                    }
                }
            } }
        }
    }

    /// The unrolled graph's forward pass (remainders 0) equals the Taylor map
    /// evaluated on its own, and the adaptive simulator agrees with scipy's samples' range.
    func testGraphIsTheTaylorMap() throws {
        let path = repository.appendingPathComponent("Config/pendulum/system.toml").path
        let sys = try SystemDescription.load(path: path)
        guard case .ode(let plant) = sys.plant else { return XCTFail("not an ODE plant") }
        let loop = try ClosedLoop(sys, steps: 3)
        var input = [0.2, -0.1] + [Double](repeating: 0, count: loop.graph.inputSize - 2)
        input[1] = -0.1
        let values = loop.graph.evaluateAll(input)
        var x = [0.2, -0.1]
        for t in 0..<3 {
            let u = loop.control(x)
            for _ in 0..<plant.substeps {
                var env = plant.constants
                for (name, v) in zip(plant.states, x) { env[name] = v }
                for (name, v) in zip(plant.inputs, u) { env[name] = v }
                x = plant.taylor.map { $0.value(env) }
            }
            for i in 0..<2 { XCTAssertEqual(values[loop.stateNodes[t + 1]][i], x[i], accuracy: 1e-12, "t=\(t + 1)") }
        }
    }

    /// Windows and modes: a set outside its window never costs `safe`, and
    /// `when = "interval"` is refused for a discrete-time plant, naming the key.
    func testUnsafeWindowsAndModes() throws {
        let dir = repository.appendingPathComponent("Config/pendulum").path
        let base = try String(contentsOfFile: dir + "/system.toml", encoding: .utf8)
        // th >= 0.15 is entered early by the "tilted" case (it starts at 0.2) but only unsafe from step 8 on.
        let windowed = base + "\n[[safety.unsafe]]\nH = [[-1.0, 0.0]]\nh = [-0.15]\nsteps = [8, 10]\n"
        let sys = try SystemDescription.parse(text: windowed, file: "w.toml", directory: dir)
        var a = try ReachAnalysis(system: sys, horizon: 10, intermediates: .crown)
        a.settings.maxIterations = 300
        let tube = try a.run(initial: Interval(lower: [0.19, -0.02], upper: [0.21, 0.02]))
        XCTAssertEqual(tube.verdict, .safe)
        // The picture draws each period's box (dashed) besides the sample-time boxes.
        let svg = TubeSVG.render(tube, system: sys, trajectories: [], dims: (0, 1))
        XCTAssertEqual(svg.components(separatedBy: "stroke-dasharray").count - 1, 10)
        let always = base + "\n[[safety.unsafe]]\nH = [[-1.0, 0.0]]\nh = [-0.15]\n"
        var b = try ReachAnalysis(system: try SystemDescription.parse(text: always, file: "a.toml", directory: dir),
                                  horizon: 10, intermediates: .crown)
        b.settings.maxIterations = 300
        let unsafe = try b.run(initial: Interval(lower: [0.19, -0.02], upper: [0.21, 0.02]))
        XCTAssertEqual(unsafe.verdict, .unsafe)
        XCTAssertEqual(unsafe.firstUnsafeStep, 0)
        let discretePath = repository.appendingPathComponent("Tests/Fixtures/discrete/pendulum.toml").path
        let discrete = try String(contentsOfFile: discretePath, encoding: .utf8)
            + "\n[[safety.unsafe]]\nH = [[1.0, 0.0]]\nh = [-2.0]\nwhen = \"interval\"\n"
        let discreteDir = repository.appendingPathComponent("Tests/Fixtures/discrete").path
        XCTAssertThrowsError(try SystemDescription.parse(text: discrete, file: "d.toml", directory: discreteDir)) { e in
            XCTAssertTrue("\(e)".contains("when"), "\(e)")
        }
    }

    /// [controller] inputs, output_scale and output_offset: the loop's control equals
    /// clip(s ⊙ net(P x + q) + o) with the network evaluated on its own (the raw ONNX
    /// import) and P, q, s, o written out by hand; the tube of the rescaled loop is
    /// sound against its own samples.
    func testControllerInputsAndOutputScaling() throws {
        let dir = repository.appendingPathComponent("Config/pendulum").path
        let base = try String(contentsOfFile: dir + "/system.toml", encoding: .utf8)
        let keys = "model = \"controller.onnx\"\ninputs = [\"2*th - om/4\", \"-(om + 0.1) * g/9.81\"]\n"
            + "output_scale = [0.5]\noutput_offset = [0.25]"
        let text = base.replacingOccurrences(of: "model = \"controller.onnx\"", with: keys)
        let sys = try SystemDescription.parse(text: text, file: "s.toml", directory: dir)
        let raw = try ONNXImporter.load(path: dir + "/controller.onnx").graph
        let loop = try ClosedLoop(sys, steps: 1)
        var rng = SplitMix64(seed: 11)
        for _ in 0..<50 {
            let th = rng.unit() - 0.5, om = 2 * rng.unit() - 1
            let net = raw.evaluate([2 * th - om / 4, -(om + 0.1)])[0]
            let expected = min(2, max(-2, 0.5 * net + 0.25))
            XCTAssertEqual(loop.control([th, om])[0], expected, accuracy: 1e-12)
        }
        var a = try ReachAnalysis(system: sys, horizon: 4, intermediates: .crown)
        a.settings.maxIterations = 200
        let box = Interval(lower: [0.05, -0.05], upper: [0.07, -0.03])
        let tube = try a.run(initial: box)
        XCTAssertEqual(tube.steps.count, 5)
        for k in 0..<20 {
            let x0 = [0.05 + 0.02 * Double(k % 5) / 4, -0.05 + 0.02 * Double(k / 5) / 3]
            let run = a.loop.simulateFlow(x0, disturbances: []) { _, _ in }
            for (t, x) in run.states.enumerated() {
                for i in 0..<2 {
                    XCTAssertGreaterThanOrEqual(x[i], tube.steps[t].lower[i] - 1e-9, "t=\(t)")
                    XCTAssertLessThanOrEqual(x[i], tube.steps[t].upper[i] + 1e-9, "t=\(t)")
                }
            }
        }
    }

    /// Each way an input map or a scaling can be wrong is refused, naming the key.
    func testControllerInterfaceErrors() throws {
        let dir = repository.appendingPathComponent("Config/pendulum").path
        let base = try String(contentsOfFile: dir + "/system.toml", encoding: .utf8)
        let cases: [(String, String)] = [
            ("inputs = [\"th*om\", \"om\"]", "[controller] inputs[0]: \"th*om\" is not affine"),
            ("inputs = [\"sin(th)\", \"om\"]", "[controller] inputs[0]: \"sin(th)\" is not affine"),
            ("inputs = [\"th\"]", "[controller] model: takes 2 inputs; [controller] inputs gives 1"),
            ("inputs = [\"th\", \"x7\"]", "[controller] inputs[1]: column 1: unknown name \"x7\""),
            ("inputs = [\"th\", 3]", "[controller] inputs[1]: must be a string"),
            ("inputs = \"th\"", "[controller] inputs: must be a non-empty array"),
            ("inputs = [\"th/0\", \"om\"]", "[controller] inputs[0]: \"th/0\" has a coefficient that is not finite"),
            ("output_scale = [1.0, 2.0]", "[controller] output_scale"),
            ("output_offset = [\"a\"]", "[controller] output_offset"),
        ]
        for (key, message) in cases {
            let text = base.replacingOccurrences(of: "model = \"controller.onnx\"",
                                                 with: "model = \"controller.onnx\"\n" + key)
            XCTAssertThrowsError(try SystemDescription.parse(text: text, file: "s.toml", directory: dir), key) { e in
                XCTAssertTrue("\(e)".hasPrefix("s.toml: "), "\(e)")
                XCTAssertTrue("\(e)".contains(message), "\(key): \(e)")
            }
        }
        let linear = repository.appendingPathComponent("Config/double_integrator").path
        let di = try String(contentsOfFile: linear + "/system.toml", encoding: .utf8)
            .replacingOccurrences(of: "model = \"controller.onnx\"", with: "model = \"controller.onnx\"\ninputs = [\"x\"]")
        XCTAssertThrowsError(try SystemDescription.parse(text: di, file: "l.toml", directory: linear)) { e in
            XCTAssertTrue("\(e)".contains("[controller] inputs: needs named states"), "\(e)")
        }
    }

    /// A late blow-up (x' = x² from [0.1, 0.12], x(t) = x0/(1 − x0 t), 1 s periods: the
    /// a-priori enclosure of a period from x needs x ≤ 1/4, reached near step 5): both
    /// strategies keep the steps before it, which hold the closed-form flow, and say where the tube ends.
    func testALateBlowUpKeepsTheStepsBeforeIt() throws {
        let text = """
        [plant]
        type = "ode"
        states = ["x"]
        dynamics = ["x^2"]
        period = 1.0
        [reach]
        horizon = 8
        substeps = 1
        [[safety.unsafe]]
        H = [[-1.0]]
        h = [-100.0]
        """
        let sys = try SystemDescription.parse(text: text, file: "late.toml", directory: ".")
        for strategy in [SystemDescription.Strategy.oneShot, .recursive] {
            var a = try ReachAnalysis(system: sys, strategy: strategy, intermediates: .crown)
            let tube = try a.run(initial: Interval(lower: [0.1], upper: [0.12]))
            let kept = tube.steps.count
            XCTAssertEqual(tube.verdict, .unknown, "\(strategy)")
            XCTAssertTrue((4...7).contains(kept), "\(strategy): \(kept) steps kept")
            XCTAssertEqual(tube.firstUnsafeStep, kept, "\(strategy)")
            XCTAssertTrue(tube.note?.hasPrefix("step \(kept), sub-step 1 of 1") ?? false, tube.note ?? "no note")
            for s in tube.steps.dropFirst() {
                XCTAssertTrue(s.safe, "\(strategy) t=\(s.t)")
                for x0 in stride(from: 0.1, through: 0.12, by: 0.005) {
                    let x = x0 / (1 - x0 * Double(s.t))
                    XCTAssertTrue(s.lower[0] <= x && x <= s.upper[0], "\(strategy) t=\(s.t): \(x)")
                }
            }
        }
    }

    /// A step too long for the dynamics gives `unknown` with the reason, never a set.
    func testNoEnclosureIsUnknown() throws {
        let text = """
        [plant]
        type = "ode"
        states = ["x"]
        dynamics = ["x^2"]
        period = 2.0
        [reach]
        horizon = 2
        substeps = 1
        [[safety.unsafe]]
        H = [[-1.0]]
        h = [-100.0]
        """
        let sys = try SystemDescription.parse(text: text, file: "blowup.toml", directory: ".")
        var a = try ReachAnalysis(system: sys, intermediates: .crown)
        let tube = try a.run(initial: Interval(lower: [0.9], upper: [1.0]))
        XCTAssertEqual(tube.verdict, .unknown)
        XCTAssertEqual(tube.steps.count, 1)
        XCTAssertTrue(tube.note?.contains("no a-priori enclosure") ?? false, tube.note ?? "no note")
    }
}
