import Dispatch
import Foundation
import Logging
import Monitor
import Reachability
import Transport

/// A stop request from a signal handler, read by the processing loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
    /// Test-and-clear, for one-shot requests such as a reload.
    func take() -> Bool { lock.lock(); defer { lock.unlock() }; let v = value; value = false; return v }
}

/// The processing loop: one thread owns both sockets and the monitor core.
/// Newest state wins: everything queued is drained, malformed messages get
/// `invalid` verdicts, and of the valid ones only the newest is solved (the
/// others are counted as skipped). Nothing queues without bound.
final class Daemon {
    var configuration: MonitorConfiguration
    var core: MonitorCore
    let configurationPath: String
    let context: ZMQContext
    let logger: Logger
    var onHeartbeat: (([String: Any]) -> Void)?
    /// Called on the processing thread with each state about to be solved. Nil in the
    /// shipped daemon (ReachGuardD never sets it); a test running the loop in its own
    /// process blocks here to play a hung solver, so nothing outside can set it off.
    var beforeSolve: ((SensorMessage) -> Void)?

    init(configuration: MonitorConfiguration, path: String, context: ZMQContext, logger: Logger) throws {
        self.configuration = configuration
        configurationPath = path
        self.context = context
        self.logger = logger
        core = try MonitorCore(configuration: configuration)
    }

    func publish(_ socket: ZMQSocket, _ topic: String, _ object: [String: Any]) {
        let ok = (try? socket.send([Data(topic.utf8), MonitorCore.json(object)], blocking: false)) ?? false
        if !ok { core.noteDropped() }
    }

    /// SIGHUP: load the configuration and the models again and swap them in
    /// after a self-check; anything wrong keeps the running one.
    func reload() {
        do {
            let next = try MonitorConfiguration.load(path: configurationPath)
            let c = configuration
            guard next.sensorEndpoint == c.sensorEndpoint, next.sensorBind == c.sensorBind,
                  next.sensorTopic == c.sensorTopic, next.alertEndpoint == c.alertEndpoint,
                  next.curveSecretKeyFile == c.curveSecretKeyFile, next.curveAuthorizedKeysFile == c.curveAuthorizedKeysFile else {
                logger.error("reload refused: [zmq] endpoints or topic changed, which needs a restart; keeping the running configuration")
                return
            }
            let fresh = try MonitorCore(configuration: next)
            _ = try fresh.selfCheck()
            fresh.adoptCounters(from: core)
            core = fresh
            configuration = next
            logger.info("reloaded \(configurationPath)")
        } catch {
            logger.error("reload refused: \(error); keeping the running configuration")
        }
    }

    /// The longest wait for a sensor message: a stop (SIGTERM) or reload (SIGHUP) request is a flag the loop
    /// reads, so it is acted on within this, not a whole heartbeat (up to seconds) later.
    static let requestPollNanoseconds: UInt64 = 100_000_000

    func run(stop: StopFlag, reload reloadRequest: StopFlag = StopFlag()) throws {
        let c = configuration
        // CURVE: this daemon is the server on both sockets; a ZAP handler admits
        // only the authorized public keys, so nobody else reaches the solver.
        var curveSecret: String? = nil
        var zap: ZAPAuthenticator? = nil
        if let secretFile = c.curveSecretKeyFile, let keysFile = c.curveAuthorizedKeysFile {
            guard ZMQSocket.hasCurve else {
                throw SystemError("\(c.system.file): [zmq.curve] asks for CURVE, but this libzmq was built without it (zmq_has(\"curve\") is false)")
            }
            do {
                curveSecret = try ZMQCurve.readSecretKey(path: secretFile)
                let keys = try ZMQCurve.readAuthorizedKeys(path: keysFile)
                zap = try ZAPAuthenticator(context: context, authorizedKeys: keys)
                logger.info("CURVE on: \(keys.count) authorized keys from \(keysFile)")
            } catch {
                throw SystemError("\(c.system.file): [zmq.curve]: \(error)")
            }
        }
        defer { zap?.stop() }
        core.rejectedCount = { zap?.rejected ?? 0 }
        let sensor = try ZMQSocket(context: context, kind: .subscriber)
        if let curveSecret { try sensor.setCurveServer(secretKey: curveSecret) }
        // Frames past the application cap get an `invalid` verdict; libzmq's own cap
        // only stops memory abuse, and it cuts a connecting subscriber off for good
        // (libzmq 4.3.4), which the reconnect below repairs.
        try sensor.setMaximumMessageSize(Int64(max(16 * c.maximumPayloadBytes, 16 << 20)))
        try sensor.setReceiveHighWaterMark(100_000)
        try sensor.subscribe(c.sensorTopic)
        if c.sensorBind { _ = try sensor.bind(c.sensorEndpoint) } else { try sensor.connect(c.sensorEndpoint) }
        let alerts = try ZMQSocket(context: context, kind: .publisher)
        if let curveSecret { try alerts.setCurveServer(secretKey: curveSecret) }
        try alerts.setSendHighWaterMark(Int(c.sendHighWaterMark))
        _ = try alerts.bind(c.alertEndpoint)
        // Clients without a key never reach the ZAP handler: count their failed handshakes too.
        var handshakes: HandshakeMonitor? = nil
        if curveSecret != nil {
            handshakes = try HandshakeMonitor(context: context, sockets: [sensor, alerts],
                                              name: "\(DispatchTime.now().uptimeNanoseconds)")
        }
        defer { handshakes?.stop() }
        core.handshakeFailureCount = {
            guard let h = handshakes else { return 0 }
            return h.failures - h.authenticationFailures   // ZAP refusals are in `rejected` already
        }
        for endpoint in [c.sensorEndpoint, c.alertEndpoint] where curveSecret == nil
            && !(endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("tcp://127.") || endpoint.hasPrefix("tcp://localhost")) {
            logger.warning("endpoint \(endpoint) is not loopback or ipc:// and runs in the clear")
        }
        let verdict = try core.selfCheck()
        logger.info("self-check passed (verdict at the origin: \(verdict.rawValue)); sensor \(c.sensorEndpoint) (\(c.sensorBind ? "bind" : "connect")), publishing on \(c.alertEndpoint)")
        SystemdNotifier.ready()
        SystemdNotifier.status("ready; waiting for states on \(c.sensorEndpoint)")

        let heartbeatNanos = UInt64(c.heartbeatMilliseconds * 1e6)
        var nextHeartbeat = DispatchTime.now().uptimeNanoseconds + heartbeatNanos
        let watchdogNanos = SystemdNotifier.watchdogInterval.map { UInt64($0 * 1e9 / 2) }
        var lastProcessed = core.counters.processed
        var lastBeat = DispatchTime.now().uptimeNanoseconds
        var lastReceive = DispatchTime.now().uptimeNanoseconds
        var lastPing: UInt64 = 0
        let reconnectNanos = UInt64(c.sensorReconnectMilliseconds * 1e6)

        while !stop.isSet {
            if reloadRequest.take() { reload() }
            let now = DispatchTime.now().uptimeNanoseconds
            var wait = nextHeartbeat > now ? nextHeartbeat - now : 0
            if let w = watchdogNanos { wait = min(wait, w) }
            wait = min(wait, Self.requestPollNanoseconds)
            let frames: [Data]?
            do { frames = try sensor.receive(timeoutMilliseconds: Int(wait / 1_000_000)) } catch let e as ZMQError where e.isTerminated { break }
            if frames == nil, !c.sensorBind, reconnectNanos > 0,
               DispatchTime.now().uptimeNanoseconds - lastReceive > reconnectNanos {
                // A silent sensor link is re-dialled: cheap, and it recovers a
                // connection libzmq dropped after an oversized frame.
                try? sensor.disconnect(c.sensorEndpoint)
                try sensor.connect(c.sensorEndpoint)
                lastReceive = DispatchTime.now().uptimeNanoseconds
                logger.info("no sensor message for \(Int(c.sensorReconnectMilliseconds)) ms; reconnected to \(c.sensorEndpoint)")
            }
            if let frames {
                lastReceive = DispatchTime.now().uptimeNanoseconds
                var batch = [frames]
                do { batch += try sensor.receiveAvailable(limit: 100_000) } catch let e as ZMQError where e.isTerminated { break }
                core.noteReceived(batch.count)
                var newest: SensorMessage? = nil
                for f in batch {
                    switch core.decoder.decode(f) {
                    case .failure(let e):
                        let v = core.invalidVerdict(e)
                        logger.warning("invalid sensor message\(e.seq.map { " seq \($0)" } ?? ""): \(e.description)")
                        publish(alerts, "verdict", v)
                        publish(alerts, "alert", v)
                    case .success(let m):
                        if newest != nil { core.noteSkipped() }
                        newest = m
                    }
                }
                if let m = newest {
                    beforeSolve?(m)
                    let v = core.process(m)
                    publish(alerts, "verdict", v)
                    if (v["verdict"] as? String) != Verdict.safe.rawValue { publish(alerts, "alert", v) }
                }
            }
            // The watchdog is fed from this loop, so a hung solve stops the pings;
            // at half the interval, not per message (sd_notify can block when
            // the manager is slow to read).
            let t = DispatchTime.now().uptimeNanoseconds
            if let w = watchdogNanos, t - lastPing >= w {
                SystemdNotifier.watchdog()
                lastPing = t
            }
            if t >= nextHeartbeat {
                let hb = core.heartbeat()
                publish(alerts, "heartbeat", hb)
                onHeartbeat?(hb)
                let rate = Double(core.counters.processed - lastProcessed) / max(1e-9, Double(t - lastBeat) / 1e9)
                lastProcessed = core.counters.processed
                lastBeat = t
                SystemdNotifier.status(String(format: "%.1f states/s; received %d, processed %d, skipped %d, invalid %d, deadline misses %d",
                                              rate, core.counters.received, core.counters.processed, core.counters.skipped,
                                              core.counters.invalid, core.counters.deadlineMisses))
                while nextHeartbeat <= t { nextHeartbeat += heartbeatNanos }
            }
        }
        SystemdNotifier.stopping()
        // Flush: a last heartbeat with the final counters.
        publish(alerts, "heartbeat", core.heartbeat())
        logger.info("stopping: received \(core.counters.received), processed \(core.counters.processed), skipped \(core.counters.skipped), invalid \(core.counters.invalid)")
        sensor.close()
        alerts.close()
    }
}
