import Foundation
import XCTest
@testable import Bounds
@testable import Reachability

/// A run writes its steps into the arrays of the last published tube (`recycledSteps`): a tube the
/// caller kept must not change, and every step must be the one a fresh analysis computes, bit for bit.
final class RecycledStepsTests: XCTestCase {
    /// Every field of every step as bit patterns (NaN-safe, and −0 told from +0).
    func bits(_ steps: [ReachStep]) -> [[UInt64]] {
        steps.map { s in
            var out: [UInt64] = [UInt64(s.t), s.safe ? 1 : 0, s.margin.map(\.bitPattern) ?? 7]
            for v in [s.bounds, s.lower, s.upper] + s.unsafeLower + s.directions { out += v.map(\.bitPattern) }
            for v in [s.intervalLower, s.intervalUpper] { out += (v ?? [.nan]).map(\.bitPattern) }
            return out
        }
    }

    func boxes(_ sys: SystemDescription) throws -> [Interval] {
        let r = try XCTUnwrap(sys.sensorRadius)
        return [0.0, 0.3, -0.2, 0.1, 0.3].map { shift in
            let c = (0..<sys.stateCount).map { i in shift * Double(i % 2 == 0 ? 1 : -1) }
            return Interval(lower: zip(c, r).map { $0 - $1 }, upper: zip(c, r).map { $0 + $1 })
        }
    }

    func check(_ file: String) throws {
        let sys = try SystemDescription.load(path: repository.appendingPathComponent(file).path)
        var kept = try ReachAnalysis(system: sys, intermediates: .crown)
        kept.certifyFirst = true
        var tubes: [(ReachTube, [[UInt64]])] = []
        var compared = 0
        for box in try boxes(sys) {
            let tube = try kept.run(initial: box)
            var fresh = try ReachAnalysis(system: sys, intermediates: .crown)
            fresh.certifyFirst = true
            let reference = try fresh.run(initial: box)
            if reference.method == tube.method {
                XCTAssertEqual(bits(tube.steps), bits(reference.steps), "\(file): a fresh analysis's steps")
                compared += 1
            }
            tubes.append((tube, bits(tube.steps)))
        }
        XCTAssertGreaterThan(compared, 2, "\(file): runs decided by the rung a fresh analysis uses")
        for (k, (tube, snapshot)) in tubes.enumerated() {
            XCTAssertEqual(bits(tube.steps), snapshot, "\(file): kept tube \(k) changed by later runs")
        }
    }

    func testDoubleIntegrator() throws { try check("Config/double_integrator/system.toml") }
    func testQuadrotor() throws { try check("Config/quadrotor/system.toml") }
    func testPendulumIntervalSets() throws { try check("Config/pendulum/system.toml") }
}
