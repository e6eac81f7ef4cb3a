import ArgumentParser
import Dispatch
import Foundation
import LinearAlgebra
import Logging
import Monitor
import Reachability
import Transport

@main
struct ReachGuardD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reachguardd",
        abstract: "The real-time safety monitor: state estimates in over ZeroMQ, certified verdicts out.",
        discussion: """
        Subscribes to [topic, JSON] sensor messages {"seq", "stamp", "x", "radius"?}, computes the
        reach tube of the closed loop from each newest state within [monitor] deadline_ms, and
        publishes `verdict` for every processed state, `alert` when it is not `safe`, and
        `heartbeat` every heartbeat_ms. Runs under systemd (Type=notify, watchdog).

        SIGHUP reloads the configuration and the models; a bad new configuration is refused with
        a log line naming the key, and the running one goes on.

        Exit codes: 0 after a clean stop (SIGTERM, SIGINT) or a passing --check; 1 when the
        configuration or the models are invalid or a socket cannot be opened; 64 usage error.

        Examples:
          reachguardd --config /etc/reachguard/reachguardd.toml
          reachguardd --config Config/double_integrator/system.toml --check
          reachguardd --demo
        """)

    @Option(help: "The configuration (system description plus [monitor] and [zmq]).")
    var config: String = "/etc/reachguard/reachguardd.toml"
    @Flag(help: "Validate the configuration and the models, run the self-check, and exit.") var check = false
    @Flag(help: "Run with a built-in simulator on the bundled double integrator and print a line per second.") var demo = false
    @Option(help: "Demo: simulated states per second.") var demoRate: Double = 100
    @Option(help: "Demo: seconds to run.") var demoSeconds: Double = 10

    func validate() throws {
        // A year at most: nanosecond arithmetic of the demo clock stays far from overflow.
        guard demoRate.isFinite, demoRate > 0, demoRate <= 1e6 else {
            throw ValidationError("--demo-rate must be a finite number above 0 to 1000000, not \(demoRate)")
        }
        guard demoSeconds.isFinite, demoSeconds >= 0, demoSeconds <= 365 * 24 * 3600 else {
            throw ValidationError("--demo-seconds must be a finite number from 0 to 31536000, not \(demoSeconds)")
        }
    }

    func run() throws {
        BLASThreads.configureFromEnvironment(ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .info
            return h
        }
        let logger = Logger(label: "reachguardd")
        let path = demo && config == "/etc/reachguard/reachguardd.toml" ? "Config/double_integrator/system.toml" : config
        let configuration: MonitorConfiguration
        do {
            configuration = try MonitorConfiguration.load(path: path)
            _ = try MonitorCore(configuration: configuration)
        } catch {
            logger.critical("configuration error: \(error)")
            throw ExitCode(1)
        }
        if check {
            do {
                let v = try MonitorCore(configuration: configuration).selfCheck()
                print("\(path): configuration valid; models load; self-check verdict at the origin: \(v.rawValue)")
            } catch {
                logger.critical("self-check failed: \(error)")
                throw ExitCode(1)
            }
            return
        }
        let context: ZMQContext
        do { context = try ZMQContext() } catch {
            logger.critical("cannot create a ZeroMQ context: \(error)")
            throw ExitCode(1)
        }
        let stop = StopFlag()
        let reload = StopFlag()
        // Signals arrive on a dispatch queue and only set flags the loop reads
        // (it never blocks longer than a heartbeat or half the watchdog interval).
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        let queue = DispatchQueue(label: "signals")
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { stop.set() }
            s.resume()
            sources.append(s)
        }
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hup.setEventHandler { reload.set() }
        hup.resume()
        sources.append(hup)
        let daemon: Daemon
        do { daemon = try Daemon(configuration: configuration, path: path, context: context, logger: logger) } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        if demo { DemoDriver.start(configuration: configuration, context: context, daemon: daemon, rate: demoRate, seconds: demoSeconds, stop: stop) }
        do {
            try daemon.run(stop: stop, reload: reload)
        } catch {
            logger.critical("\(error)")
            context.shutdown()
            throw ExitCode(1)
        }
        for s in sources { s.cancel() }
        context.shutdown()
    }
}
