import Foundation
import XCTest

func writeTemporary(_ name: String, _ text: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reachguard-cli-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

func jsonObject(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

final class BoundCLITests: XCTestCase {
    struct Fixture: Decodable {
        struct Range: Decodable { let lower: [Double]; let upper: [Double] }
        struct Case: Decodable { let box: Range; let milp: Range? }
        let cases: [Case]
    }

    /// The acceptance check: on 4 inputs and 2 hidden layers of 50, the
    /// printed bounds lie between CROWN's and the exact (MILP) range.
    func testBoundJSONLiesBetweenCROWNAndTheExactRange() throws {
        let fx = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/lp/t_4_50_50_3.json")))
        let cs = fx.cases[0]
        guard let exact = cs.milp else { return XCTFail("fixture has no MILP values") }
        let box = try writeTemporary("box4.json", "{\"lower\": \(cs.box.lower), \"upper\": \(cs.box.upper)}")
        let r = try runCLI(["bound", "Tests/Fixtures/lp/t_4_50_50_3.onnx", "--box", box, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let obj = jsonObject(r.stdout), let lower = obj["lower"] as? [Double], let upper = obj["upper"] as? [Double],
              let cl = obj["crown_lower"] as? [Double], let cu = obj["crown_upper"] as? [Double] else {
            return XCTFail("not the expected JSON: \(r.stdout)")
        }
        XCTAssertEqual(lower.count, 3)
        XCTAssertEqual(obj["method"] as? String, "admm")
        XCTAssertNotNil(obj["iterations"] as? Int)
        XCTAssertNotNil(obj["seconds"] as? Double)
        for j in 0..<3 {
            XCTAssertLessThanOrEqual(cl[j], lower[j])
            XCTAssertLessThanOrEqual(lower[j], exact.lower[j])
            XCTAssertLessThanOrEqual(exact.upper[j], upper[j])
            XCTAssertLessThanOrEqual(upper[j], cu[j])
        }
        XCTAssertTrue(zip(cl, lower).contains { $0 < $1 - 1e-3 }, "ADMM must be tighter than CROWN somewhere")
    }

    func testMethodsAndObjectivesAndFixedCoordinates() throws {
        // X_0 held fixed, as a set speed fed to a cruise controller.
        let box = try writeTemporary("fixed.json", "{\"lower\": [0.5, -1.0], \"upper\": [0.5, 1.0]}")
        let c = try writeTemporary("c.json", "{\"c\": [[1.0], [-2.0]]}")
        var previous: (Double, Double)? = nil
        for method in ["ibp", "crown", "admm"] {
            let r = try runCLI(["bound", "Config/double_integrator/controller.onnx", "--box", box, "--objective", c,
                                "--method", method, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            guard let obj = jsonObject(r.stdout), let lo = obj["lower"] as? [Double], let hi = obj["upper"] as? [Double] else {
                return XCTFail(r.stdout)
            }
            XCTAssertEqual(lo.count, 2)
            // Each method at least as tight as the one before.
            if let (pl, ph) = previous {
                XCTAssertGreaterThanOrEqual(lo[0], pl - 1e-9, method)
                XCTAssertLessThanOrEqual(hi[0], ph + 1e-9, method)
            }
            previous = (lo[0], hi[0])
            // Sampled outputs lie inside; the second row is -2 times the first.
            for v in stride(from: -1.0, through: 1.0, by: 0.25) {
                let e = try runCLI(["eval", "Config/double_integrator/controller.onnx", "--input", "0.5,\(v)", "--json"])
                guard let y = (jsonObject(e.stdout)?["output"] as? [Double])?.first else { return XCTFail(e.stderr) }
                XCTAssertLessThanOrEqual(lo[0], y)
                XCTAssertGreaterThanOrEqual(hi[0], y)
                XCTAssertLessThanOrEqual(lo[1], -2 * y)
                XCTAssertGreaterThanOrEqual(hi[1], -2 * y)
            }
        }
    }

    func testBadBoxesNameTheCoordinate() throws {
        let cases: [(String, String)] = [
            ("{\"lower\": [0.0, 1.0], \"upper\": [1.0, 0.5]}", "coordinate 1"),
            ("{\"lower\": [0.0], \"upper\": [1.0]}", "has 1 coordinates"),
            ("{\"lower\": [0.0, 1e999], \"upper\": [1.0, 2.0]}", "JSON"),
            ("{\"lower\": [0.0, \"a\"], \"upper\": [1.0, 2.0]}", "lower[1]"),
            ("not json", "not a JSON object"),
        ]
        for (text, want) in cases {
            let box = try writeTemporary("bad.json", text)
            let r = try runCLI(["bound", "Config/double_integrator/controller.onnx", "--box", box])
            XCTAssertEqual(r.status, 1, text)
            XCTAssertTrue(r.stderr.contains(want), "'\(r.stderr)' lacks '\(want)'")
            XCTAssertTrue(r.stderr.contains("bad.json"), r.stderr)
        }
    }

    func testVerifyPrintsTheVNNCOMPFirstWordAndACounterexample() throws {
        let sat = try runCLI(["verify", "Tests/Fixtures/lp/t_4_50_50_3.onnx", "Tests/Fixtures/vnnlib/t_4_50_50_3_sat_low.vnnlib"])
        XCTAssertEqual(sat.status, 0, sat.stderr)
        XCTAssertTrue(sat.stdout.hasPrefix("sat\n"), sat.stdout)
        XCTAssertTrue(sat.stdout.contains("((X_0 "), sat.stdout)
        XCTAssertTrue(sat.stdout.contains("(Y_2 "), sat.stdout)
        let unsat = try runCLI(["verify", "Tests/Fixtures/lp/t_4_50_50_3.onnx", "Tests/Fixtures/vnnlib/t_4_50_50_3_unsat_low.vnnlib"])
        XCTAssertEqual(unsat.stdout, "unsat\n")
        let error = try runCLI(["verify", "Config/double_integrator/controller.onnx", "Tests/Fixtures/vnnlib/t_4_50_50_3_unsat_low.vnnlib"])
        XCTAssertEqual(error.status, 1)
        XCTAssertTrue(error.stdout.hasPrefix("error"), error.stdout)
        XCTAssertTrue(error.stderr.contains("declares 4 inputs"), error.stderr)
    }
}

final class ConvCLITests: XCTestCase {
    func testCertifyReportsCertifiedAccuracyOnTheDigitsClassifier() throws {
        let r = try runCLI(["certify", "Config/digits/digits_cnn.onnx", "--images", "Config/digits/digits_test.json",
                            "--epsilon", "0.01,0.05", "--limit", "20", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let obj = jsonObject(r.stdout), let results = obj["results"] as? [[String: Any]] else { return XCTFail(r.stdout) }
        XCTAssertEqual(results.count, 2)
        let small = results[0]["certified_accuracy"] as? Double ?? -1
        let large = results[1]["certified_accuracy"] as? Double ?? -1
        let clean = results[0]["clean_accuracy"] as? Double ?? -1
        XCTAssertGreaterThan(small, 0.5)
        XCTAssertLessThanOrEqual(small, clean)
        XCTAssertLessThanOrEqual(large, small, "a larger ball certifies no more")
        XCTAssertEqual((results[0]["per_input"] as? [Any])?.count, 20)
    }

    /// `info` names each layer's map: the benchmark network's convolutions stay
    /// convolutions, normalisation and batch norm folded in, the skip a diagonal.
    func testInfoShowsConvolutionsAsOperators() throws {
        let r = try runCLI(["info", "Benchmarks/cifar_resnet.onnx", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let o = jsonObject(r.stdout), let layers = o["layers"] as? [[String: Any]] else { return XCTFail(r.stdout) }
        let maps = layers.compactMap { $0["maps"] as? [String] }
        XCTAssertEqual(maps.count, 6, "four convolution nodes and the two dense layers of the head")
        XCTAssertEqual(maps.first, ["conv 3x3 stride 2, 3->16 channels, 32x32->16x16"])
        XCTAssertEqual(maps[3], ["diagonal 2048", "conv 3x3, 32->32 channels, 8x8->8x8"], "the residual sum")
        XCTAssertEqual(maps.last, ["dense 10x64"])
        XCTAssertEqual(o["activations"] as? Int, 10_304)
    }

    /// The conv benchmark's figures hang together: DeepSplit never reports less than
    /// CROWN nor more than a margin the network attains.
    func testBenchConvReportsSoundMarginsWithMatrixFreeProjections() throws {
        let r = try runCLI(["bench-conv", "Tests/Fixtures/conv/lp_small.onnx", "--epsilon", "0.05", "--seconds", "5",
                            "--matrix-free", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let o = jsonObject(r.stdout), let crown = o["crown_lower"] as? [Double],
              let ours = o["deepsplit_lower"] as? [Double], let sampled = o["sampled_min"] as? [Double] else {
            return XCTFail(r.stdout)
        }
        XCTAssertEqual(crown.count, 2)
        XCTAssertGreaterThan(o["matrix_free_nodes"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(o["iterations"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(o["peak_rss_mib"] as? Double ?? 0, 0)
        for j in crown.indices {
            XCTAssertGreaterThanOrEqual(ours[j], crown[j])
            XCTAssertLessThanOrEqual(ours[j], sampled[j])
        }
        XCTAssertGreaterThan(o["tighter_than_crown"] as? Int ?? 0, 0, "the LP is strictly tighter than CROWN on this ball")
    }

    /// The vision-style controller: certified bounds of the steering over an image box contain the sampled range.
    func testVisionControllerBoundsContainTheSampledSteering() throws {
        let box = repositoryRoot.appendingPathComponent("Config/vision/image_box.json").path
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: box))) as? [String: Any]
        let sampled = obj?["sampled_steering"] as? [Double] ?? []
        let r = try runCLI(["bound", "Config/vision/controller.onnx", "--box", box, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let o = jsonObject(r.stdout), let lo = (o["lower"] as? [Double])?.first, let hi = (o["upper"] as? [Double])?.first else {
            return XCTFail(r.stdout)
        }
        XCTAssertEqual(sampled.count, 2)
        XCTAssertLessThanOrEqual(lo, sampled.min() ?? 0)
        XCTAssertGreaterThanOrEqual(hi, sampled.max() ?? 0)
    }
}
