import ArgumentParser
import Foundation
import Monitor
import Reachability
import Transport

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the closed loop with sensor noise and publish its states on the sensor endpoint.",
        discussion: """
        Publishes [topic, {"seq", "stamp", "x"}] at --rate per second, binding the configuration's
        sensor_endpoint (the daemon connects to it), or connecting when sensor_bind = true.
        Episodes restart from random states in [simulate] initial_lower/initial_upper.

        Example:
          reachguard simulate --config Config/double_integrator/system.toml --rate 100 --count 1000
        """)

    @Option(help: "The daemon's configuration file.") var config: String
    @Option(help: "States per second.") var rate: Double = 50
    @Option(help: "Number of states to publish (default: until interrupted).") var count: Int?
    @Option(help: "Seed of the simulated noise and restarts.") var seed: UInt64 = 1

    func validate() throws {
        try OptionCheck.number(rate, "--rate", in: 0...1e6, open: true)
        try OptionCheck.count(count, "--count")
    }

    func run() throws {
        try Output.run {
            let c = try MonitorConfiguration.load(path: config)
            guard rate > 0, rate <= 100_000 else { throw CommandFailure("--rate must be in (0, 100000]") }
            let context = try ZMQContext()
            let pub = try ZMQSocket(context: context, kind: .publisher)
            if c.sensorBind { try pub.connect(c.sensorEndpoint) } else { _ = try pub.bind(c.sensorEndpoint) }
            var sim = try SensorSimulator(system: c.system, topic: c.sensorTopic, seed: seed)
            // Subscribers need a moment to connect (ZeroMQ's slow joiner).
            Thread.sleep(forTimeInterval: 0.3)
            let period = 1 / rate
            var next = Date()
            var sent = 0
            while count.map({ sent < $0 }) ?? true {
                let (frames, _) = sim.next(stamp: Date().timeIntervalSince1970)
                _ = try pub.send(frames, blocking: false)
                sent += 1
                if isatty(2) != 0 && sent % Int(max(1, rate)) == 0 {
                    FileHandle.standardError.write(Data("\rsimulate: \(sent) states published".utf8))
                }
                next = next.addingTimeInterval(period)
                let d = next.timeIntervalSinceNow
                if d > 0 { Thread.sleep(forTimeInterval: d) }
            }
            Thread.sleep(forTimeInterval: 0.2)
            pub.close()
            context.shutdown()
            Output.log("simulate: \(sent) states published on \(c.sensorEndpoint)")
        }
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Subscribe to a running daemon and print one line per message (a supervisor's view).",
        discussion: """
        Example:
          reachguard watch --endpoint tcp://127.0.0.1:5557 --topics alert,heartbeat
          reachguard watch --endpoint ipc:///run/reachguard/alerts --json --count 10
        """)

    @Option(help: "The daemon's alert endpoint.") var endpoint: String
    @Option(help: "Comma-separated topics.") var topics: String = "verdict,alert,heartbeat"
    @Option(help: "Stop after this many messages.") var count: Int?
    @Option(help: "Stop after this many seconds.") var seconds: Double?
    @Flag(help: "Print each message as one JSON object per line, with its topic.") var json = false

    func validate() throws {
        try OptionCheck.count(count, "--count")
        try OptionCheck.seconds(seconds, "--seconds")
    }

    func run() throws {
        try Output.run {
            let context = try ZMQContext()
            let sub = try ZMQSocket(context: context, kind: .subscriber)
            for t in topics.split(separator: ",") { try sub.subscribe(String(t)) }
            try sub.connect(endpoint)
            let start = Date()
            var seen = 0
            while count.map({ seen < $0 }) ?? true {
                if let s = seconds, Date().timeIntervalSince(start) >= s { break }
                guard let frames = try sub.receive(timeoutMilliseconds: 200) else { continue }
                guard frames.count == 2 else { continue }
                seen += 1
                let topic = String(decoding: frames[0], as: UTF8.self)
                if json {
                    let body = String(decoding: frames[1], as: UTF8.self)
                    Output.line("{\"topic\":\"\(topic)\",\"message\":\(body)}")
                } else {
                    let o = (try? JSONSerialization.jsonObject(with: frames[1]) as? [String: Any]) ?? [:]
                    if topic == "heartbeat" {
                        Output.line("heartbeat received=\(o["received"] ?? "?") processed=\(o["processed"] ?? "?") skipped=\(o["skipped"] ?? "?") invalid=\(o["invalid"] ?? "?") deadline_misses=\(o["deadline_misses"] ?? "?")")
                    } else {
                        let lat = (o["latency_ms"] as? Double).map { String(format: "%.2f ms", $0) } ?? "?"
                        Output.line("\(topic) seq=\(o["seq"] ?? "?") \(o["verdict"] ?? "?") first_unsafe_step=\(o["first_unsafe_step"] ?? "?") latency=\(lat)\((o["error"] as? String).map { " error: \($0)" } ?? "")")
                    }
                }
            }
            sub.close()
            context.shutdown()
        }
    }
}
