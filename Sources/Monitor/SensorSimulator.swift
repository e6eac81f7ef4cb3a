import Foundation
import LinearAlgebra
import Reachability

/// Drives the closed loop with sensor noise and makes sensor messages, for the
/// demo and for load tests. Restarts from a random state every `restartEvery`
/// steps, inside [simulate] initial_lower/initial_upper (default ±1).
public struct SensorSimulator {
    let loop: ClosedLoop
    let system: SystemDescription
    public let topic: String
    var state: [Double]
    var seq: UInt64 = 0
    var stepInEpisode = 0
    public var restartEvery = 40
    let lower: [Double]
    let upper: [Double]
    var rng: SplitMix64

    public init(system: SystemDescription, topic: String, seed: UInt64 = 1) throws {
        self.system = system
        self.topic = topic
        loop = try ClosedLoop(system, steps: 1)
        let n = system.stateCount
        let sim = system.document["simulate"]?.table ?? [:]
        func vec(_ key: String, _ fallback: Double) -> [Double] {
            let v = sim[key]?.array?.compactMap(\.number) ?? []
            return v.count == n ? v : [Double](repeating: fallback, count: n)
        }
        lower = vec("initial_lower", -1)
        upper = vec("initial_upper", 1)
        rng = SplitMix64(seed: seed)
        state = [Double](repeating: 0, count: n)
        state = randomState()
    }

    mutating func unit() -> Double {
        rng.unit()
    }

    mutating func randomState() -> [Double] {
        (0..<lower.count).map { lower[$0] + unit() * (upper[$0] - lower[$0]) }
    }

    /// The next message: [topic, JSON] with the measured state (true state plus
    /// noise within half the sensor radius), and the true state.
    public mutating func next(stamp: Double) -> (frames: [Data], state: [Double]) {
        if stepInEpisode >= restartEvery {
            state = randomState()
            stepInEpisode = 0
        }
        let r = system.sensorRadius ?? [Double](repeating: 0, count: state.count)
        let measured = (0..<state.count).map { state[$0] + (unit() - 0.5) * r[$0] }
        seq += 1
        let body: [String: Any] = ["seq": seq, "stamp": stamp, "x": measured]
        let json = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        let truth = state
        var w: [Double] = []
        if let d = system.disturbance { w = d.lower.indices.map { d.lower[$0] + unit() * (d.upper[$0] - d.lower[$0]) } }
        state = loop.simulate(state, disturbances: w)[1]
        stepInEpisode += 1
        return ([Data(topic.utf8), json], truth)
    }
}
