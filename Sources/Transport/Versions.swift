import CSystemd
#if canImport(Glibc)
import Glibc
#endif
import CZeroMQ

/// Versions of the messaging and service libraries we link, for `--version` and logs.
public enum TransportLibraries {
    public static var zeroMQVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// True when running under systemd with a notify socket.
    public static var underSystemdNotify: Bool {
        sd_booted() >= 0 && getenvNotifySocket() != nil
    }

    private static func getenvNotifySocket() -> String? {
        guard let p = getenv("NOTIFY_SOCKET") else { return nil }
        return String(cString: p)
    }
}
