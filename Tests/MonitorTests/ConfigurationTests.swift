import Monitor
import Reachability
import XCTest

final class ConfigurationTests: XCTestCase {
    /// A linear system without a controller, plus `tail` (TOML), as if read from `file`.
    func configuration(_ tail: String, file: String = "/etc/rg/test.toml") throws -> MonitorConfiguration {
        let text = "[plant]\nA = [[1.0]]\n[sensor]\nradius = [0.1]\n" + tail
        return try MonitorConfiguration(system: SystemDescription.parse(text: text, file: file, directory: "/etc/rg"))
    }

    func error(_ tail: String) -> String {
        do { _ = try configuration(tail); return "(no error)" } catch { return "\(error)" }
    }

    /// [reach] and [monitor] read `intermediates` with one parser: the same names, their own defaults.
    func testIntermediatesInReachAndMonitor() throws {
        let defaults = try configuration("")
        XCTAssertEqual(defaults.system.intermediates, .lp)
        XCTAssertEqual(defaults.intermediates, .crown)
        let both = try configuration("[reach]\nintermediates = \"ibp\"\n[monitor]\nintermediates = \"lp\"\n")
        XCTAssertEqual(both.system.intermediates, .ibp)
        XCTAssertEqual(both.intermediates, .lp)
    }

    /// A bad value is refused in one line naming the file and the key, in either section.
    func testABadIntermediatesNamesTheFileAndTheKey() {
        for section in ["reach", "monitor"] {
            let key = "/etc/rg/test.toml: [\(section)] intermediates: must be \"crown\", \"lp\" or \"ibp\""
            XCTAssertEqual(error("[\(section)]\nintermediates = \"qp\"\n"), key + ", not \"qp\"")
            XCTAssertEqual(error("[\(section)]\nintermediates = 3\n"), key + ", as a string")
        }
    }
}
