import Foundation
import XCTest

final class ReachCLITests: XCTestCase {
    /// The acceptance command: a tube as JSON and a readable SVG.
    func testReachJSONAndSVG() throws {
        let svg = FileManager.default.temporaryDirectory.appendingPathComponent("tube-\(getpid()).svg").path
        let r = try runCLI(["reach", "Config/double_integrator/system.toml", "--state", "2.75,0", "--radius", "0.25,0.25",
                            "--intermediates", "crown", "--json", "--svg", svg])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let obj = jsonObject(r.stdout), let steps = obj["steps"] as? [[String: Any]] else { return XCTFail(r.stdout) }
        XCTAssertEqual(obj["verdict"] as? String, "safe")
        XCTAssertTrue(obj["first_unsafe_step"] is NSNull)
        XCTAssertNotNil(obj["seconds"] as? Double)
        XCTAssertEqual(steps.count, 7)
        for s in steps {
            XCTAssertNotNil(s["t"] as? Int)
            XCTAssertEqual((s["lower"] as? [Double])?.count, 2)
            XCTAssertEqual((s["upper"] as? [Double])?.count, 2)
            XCTAssertEqual((s["directions"] as? [[Double]])?.count, (s["bounds"] as? [Double])?.count)
        }
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("<svg"))
        XCTAssertEqual(text.components(separatedBy: "<rect x=").count - 1, 7, "one box per step")
        XCTAssertTrue(text.contains("<polyline"), "sampled trajectories")
        XCTAssertTrue(text.contains("<polygon"), "the unsafe set")
    }

    /// The unicycle's goal and obstacle from its start: safe by CROWN alone with --certify-first
    /// (the JSON says so), safe by the splitting solver without it; both draw each period's box.
    func testCertifyFirstOnTheUnicycle() throws {
        for (flag, method) in [("--certify-first", "crown"), ("", "admm")] {
            let svg = FileManager.default.temporaryDirectory.appendingPathComponent("uni-\(getpid()).svg").path
            let args = ["reach", "Config/unicycle/system.toml", "--state", "0,0,0", "--json", "--svg", svg]
            let r = try runCLI(args + (flag.isEmpty ? [] : [flag]))
            XCTAssertEqual(r.status, 0, r.stderr)
            guard let obj = jsonObject(r.stdout), let steps = obj["steps"] as? [[String: Any]] else {
                return XCTFail(r.stdout)
            }
            XCTAssertEqual(obj["verdict"] as? String, "safe", flag)
            XCTAssertEqual(obj["method"] as? String, method, flag)
            XCTAssertEqual(steps.count, 11)
            XCTAssertEqual(steps.dropFirst().filter { $0["interval_lower"] is [Double] }.count, 10)
            let text = try String(contentsOfFile: svg, encoding: .utf8)
            XCTAssertEqual(text.components(separatedBy: "stroke-dasharray").count - 1, 10, "a box per period")
        }
    }

    func testReachRejectsBadStateAndRadius() throws {
        let a = try runCLI(["reach", "Config/double_integrator/system.toml", "--state", "1,2,3"])
        XCTAssertEqual(a.status, 1)
        XCTAssertTrue(a.stderr.contains("--state has 3 values"), a.stderr)
        // A negative radius is wrong whatever the system: a usage error, found before any file is read.
        let b = try runCLI(["reach", "Config/double_integrator/system.toml", "--state", "1,2", "--radius", "0.1,-1"])
        XCTAssertEqual(b.status, 64)
        XCTAssertTrue(b.stderr.contains("--radius: value 1 is negative"), b.stderr)
    }
}
