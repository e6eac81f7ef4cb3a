import Foundation
import XCTest

/// Runs the built `reachguard` binary as a user would.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func runCLI(_ arguments: [String]) throws -> CLIResult {
    // The test bundle sits beside the products in .build/<triple>/debug.
    let binary = Bundle.main.bundleURL.appendingPathComponent("reachguard")
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus,
                     stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

final class CLITests: XCTestCase {
    func testGarbageFileGivesOneLineErrorAndNonZeroExit() throws {
        let r = try runCLI(["info", "Tests/Fixtures/onnx/garbage.onnx"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("garbage.onnx"))
    }

    /// 1/z over a box where z crosses 0 has no bound: every method names the node, in one line, and exits 1;
    /// where z stays away from 0 the bound holds the values at the box's corners.
    func testReciprocalAcrossZeroNamesTheNode() throws {
        let model = "Tests/Fixtures/activations/reciprocal_2_3_1.onnx"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-recip-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let across = dir.appendingPathComponent("across.json"), away = dir.appendingPathComponent("away.json")
        try Data(#"{"lower": [-1, -1], "upper": [1, 1]}"#.utf8).write(to: across)
        try Data(#"{"lower": [0.5, 0.5], "upper": [1, 1]}"#.utf8).write(to: away)
        for method in ["ibp", "crown", "admm"] {
            let r = try runCLI(["bound", model, "--box", across.path, "--method", method, "--json"])
            XCTAssertEqual(r.status, 1, method)
            XCTAssertEqual(r.stdout, "", method)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("node 'inverse'") && r.stderr.contains(model), r.stderr)
            let ok = try runCLI(["bound", model, "--box", away.path, "--method", method, "--json"])
            XCTAssertEqual(ok.status, 0, ok.stderr)
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
            let lo = try XCTUnwrap((obj["lower"] as? [Double])?.first), hi = try XCTUnwrap((obj["upper"] as? [Double])?.first)
            // Σ 1/(W x + b) at the corners (0.5, 0.5) and (1, 1), by hand.
            for v in [1 / 2.75 + 1 / 2.6 + 1 / 1.0, 1 / 3.5 + 1 / 2.2 + 1 / 2.0] {
                XCTAssertLessThanOrEqual(lo, v, method)
                XCTAssertGreaterThanOrEqual(hi, v, method)
            }
        }
    }

    func testInfoPrintsTheSameLayersForGemmAndMatMulExports() throws {
        let a = try runCLI(["info", "Tests/Fixtures/onnx/mlp_gemm.onnx", "--json"])
        let b = try runCLI(["info", "Tests/Fixtures/onnx/mlp_matmul_add.onnx", "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(b.status, 0, b.stderr)
        func layers(_ text: String) throws -> [String] {
            let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            let list = obj?["layers"] as? [[String: Any]] ?? []
            return list.map { "\($0["kind"] ?? "") \($0["inputs"] ?? "") \($0["size"] ?? "")" }
        }
        let la = try layers(a.stdout)
        XCTAssertEqual(la.count, 5)
        XCTAssertEqual(la, try layers(b.stdout))
        // The text form lists the same layer lines too.
        let ta = try runCLI(["info", "Tests/Fixtures/onnx/mlp_gemm.onnx"]).stdout
        let tb = try runCLI(["info", "Tests/Fixtures/onnx/mlp_matmul_add.onnx"]).stdout
        func layerLines(_ s: String) -> [Substring] { s.split(separator: "\n").filter { $0.hasPrefix("  ") } }
        XCTAssertEqual(layerLines(ta), layerLines(tb))
        XCTAssertEqual(layerLines(ta).count, 5)
    }

    func testEvalPrintsOneJSONObject() throws {
        let r = try runCLI(["eval", "Config/double_integrator/controller.onnx", "--input", "1.0,-0.5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let output = obj?["output"] as? [Double]
        XCTAssertEqual(output?.count, 1)
    }

    func testEvalRejectsWrongDimensionNamingTheField() throws {
        let r = try runCLI(["eval", "Config/double_integrator/controller.onnx", "--input", "1.0"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--input"), r.stderr)
    }
}

final class KeygenCLITests: XCTestCase {
    func testKeygenWritesASecretFileOnlyTheOwnerCanRead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rg-keygen-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runCLI(["keygen", dir, "--name", "robot"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let pub = try String(contentsOfFile: dir + "/robot.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let sec = try String(contentsOfFile: dir + "/robot.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(pub.count, 40)
        XCTAssertEqual(sec.count, 40)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), pub)
        let mode = (try FileManager.default.attributesOfItem(atPath: dir + "/robot.key")[.posixPermissions] as? NSNumber)?.intValue
        XCTAssertEqual(mode, 0o600)
        let again = try runCLI(["keygen", dir, "--name", "robot"])
        XCTAssertEqual(again.status, 1, "never overwrites a secret key")
    }
}
