import Foundation
import PropertyBased
import Testing

/// What a robot (or a broken one) may send; every kind is answered or skipped, and counted once.
enum SensorSend: CaseIterable, Sendable {
    case good, notJSON, nanState, missingX, oneFrame, otherTopic
    case huge, hugeNoRadius, tiny, zeroRadius, oversized

    /// The frames of this kind with `seq`; `v` in -2...2 varies the state.
    func frames(seq: UInt64, v: Double) -> [Data] {
        let topic = Data("state".utf8)
        func json(_ body: String) -> [Data] { [topic, Data("{\"seq\":\(seq),\"stamp\":\(v),\(body)}".utf8)] }
        switch self {
        case .good: return json("\"x\":[\(v),\(v / 4)],\"radius\":[0.05,0.05]")
        case .notJSON: return [topic, Data("{\"seq\":\(seq),".utf8)]
        case .nanState: return json("\"x\":[NaN,\(v)]")
        case .missingX: return json("\"radius\":[0.1,0.1]")
        case .oneFrame: return [topic]
        // The subscription is a prefix: "state2" arrives, and is refused by name.
        case .otherTopic: return [Data("state2".utf8), json("\"x\":[0,0]")[1]]
        case .huge: return json("\"x\":[1e308,\(v)],\"radius\":[1e308,0]")
        case .hugeNoRadius: return json("\"x\":[-1e308,1e308]")
        case .tiny: return json("\"x\":[5e-324,-5e-324],\"radius\":[5e-324,0]")
        case .zeroRadius: return json("\"x\":[\(v),0],\"radius\":[0,0]")
        case .oversized: return json("\"x\":[0,0],\"pad\":\"\(String(repeating: "p", count: 5000))\"")
        }
    }
}

/// Counters that break `received = processed + skipped + invalid`, described.
func accountingFault(_ hb: [String: Any]) -> String? {
    let n = ["received", "processed", "skipped", "invalid"].map { hb[$0] as? Int ?? -1 }
    guard n[0] != n[1] + n[2] + n[3] else { return nil }
    return "received \(n[0]) != processed \(n[1]) + skipped \(n[2]) + invalid \(n[3])"
}

/// Random mixes of good, malformed, extreme-but-finite and oversized messages, sent in
/// bursts to a real daemon: every heartbeat adds up, and every message sent is received.
@Suite struct AccountingProperties {
    static let sends = zip(Gen<SensorSend>.case, Gen.double(in: -2...2)).array(of: 1...30)

    // Shrinking would replay failing bursts against the daemon for minutes; the
    // failure's seed (`.fixedSeed`) replays it instead.
    @Test(.shrinking(false), .timeLimit(.minutes(2)))
    func countersAddUpForAnyMix() async throws {
        let d = try DaemonHarness(name: "property")
        defer { _ = d.stop() }
        try d.handshake()
        var expected = try d.settledHeartbeat()["received"] as? Int ?? -1
        var seq: UInt64 = 1
        var checked = d.messages.count
        await propertyCheck(count: 15, input: Self.sends) { burst in
            for (kind, v) in burst {
                try d.send(kind.frames(seq: seq, v: v))
                seq += 1
            }
            expected += burst.count
            var faults: [String] = []
            let arrived = try d.collect(seconds: 20) { m in
                let beats = m[checked...].filter { $0.topic == "heartbeat" }.map(\.body)
                checked = m.count
                faults += beats.compactMap(accountingFault)
                return beats.last.map { $0["received"] as? Int == expected } ?? false
            }
            let last = d.messages.last { $0.topic == "heartbeat" }?.body ?? [:]
            #expect(arrived, "received never reached \(expected): \(last)")
            #expect(faults.isEmpty, "\(faults)")
        }
        let last = try d.settledHeartbeat()
        #expect(accountingFault(last) == nil, "\(last)")
        #expect(last["received"] as? Int == expected, "\(last)")
    }
}
