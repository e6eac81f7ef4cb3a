import Foundation
import XCTest
import Bounds
import Splitting
@testable import Reachability

/// On IBP intermediate bounds the ADMM iterates can circle a little above the
/// tolerance for ever; the stall rule ends such solves with their certified
/// bound instead of running every one to the 20,000-iteration cap.
final class StallTests: XCTestCase {
    func testIBPIntermediatesFinishAndStayCertified() throws {
        let fx = try ReachFixture.all().first { $0.name == "double_integrator" }
        guard let fx, let cs = fx.cases.first else { return XCTFail("no double integrator fixture") }
        let sys = try SystemDescription.load(path: repository.appendingPathComponent(fx.system).path)
        var analysis = try ReachAnalysis(system: sys, horizon: cs.horizon, strategy: .oneShot, intermediates: .ibp)
        XCTAssertEqual(analysis.settings.maxIterations, Settings().maxIterations)
        let box = Interval(lower: cs.box.lower, upper: cs.box.upper)
        let tube = try analysis.run(initial: box)
        // Before the rule a single stalled solve used the whole cap.
        XCTAssertLessThan(tube.iterations, Settings().maxIterations)
        for e in cs.exact {
            for i in 0..<sys.stateCount {
                XCTAssertLessThanOrEqual(tube.steps[e.t].lower[i], e.lower[i] + 1e-9, "t=\(e.t) x\(i)")
                XCTAssertGreaterThanOrEqual(tube.steps[e.t].upper[i], e.upper[i] - 1e-9, "t=\(e.t) x\(i)")
            }
        }
    }
}
