import CSystemd

/// sd_notify(3) messages to the service manager. Every call is a no-op returning
/// false when NOTIFY_SOCKET is unset (not started by systemd with Type=notify).
public enum SystemdNotifier {
    /// Sends `state` (newline-separated VAR=value assignments); true if it was sent.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    /// Start-up is complete (`Type=notify` units are "starting" until this).
    @discardableResult
    public static func ready() -> Bool { notify("READY=1") }

    /// Keep-alive ping; see `watchdogInterval`.
    @discardableResult
    public static func watchdog() -> Bool { notify("WATCHDOG=1") }

    /// Free-form status shown by `systemctl status`. Newlines become spaces so the
    /// text cannot inject further assignments.
    @discardableResult
    public static func status(_ text: String) -> Bool {
        let oneLine = String(text.map { $0.isNewline ? " " : $0 })
        return notify("STATUS=\(oneLine)")
    }

    /// Shutdown has begun.
    @discardableResult
    public static func stopping() -> Bool { notify("STOPPING=1") }

    /// The service's watchdog timeout in seconds (WATCHDOG_USEC, honouring
    /// WATCHDOG_PID), or nil when the watchdog is off or meant for another process.
    /// Ping with `watchdog()` every half of this, as sd_watchdog_enabled(3) advises,
    /// so one late ping does not get the service killed.
    public static var watchdogInterval: Double? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return Double(microseconds) / 1_000_000
    }
}
