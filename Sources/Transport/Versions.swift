import CZeroMQ

/// The version of the messaging library we link, for `--version` and logs.
public enum TransportLibraries {
    public static var zeroMQVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
