import ArgumentParser
import Foundation
import Transport

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair for the daemon or one of its peers.",
        discussion: """
        Writes DIR/NAME.key (the secret key, 40 Z85 characters, mode 0600) and DIR/NAME.pub
        (the public key). The daemon's [zmq.curve] secret_key_file takes a .key file; its
        authorized_keys_file lists the .pub lines of the publishers and supervisors let in.

        Example:
          reachguard keygen /etc/reachguard/curve --name server
          reachguard keygen ./keys --name robot
        """)

    @Argument(help: "Folder to write the keys into (created if missing).") var directory: String
    @Option(help: "File name stem.") var name: String = "reachguard"

    func run() throws {
        try Output.run {
            guard ZMQSocket.hasCurve else { throw CommandFailure("this libzmq was built without CURVE") }
            guard !name.contains("/"), !name.isEmpty else { throw CommandFailure("--name must be a plain file name") }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let (pub, sec) = try ZMQCurve.keyPair()
            let keyPath = (directory as NSString).appendingPathComponent(name + ".key")
            let pubPath = (directory as NSString).appendingPathComponent(name + ".pub")
            guard !FileManager.default.fileExists(atPath: keyPath) else {
                throw CommandFailure("\(keyPath) exists; not overwriting a secret key")
            }
            // Create the secret file with mode 0600 before writing the secret into it.
            guard FileManager.default.createFile(atPath: keyPath, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forWritingAtPath: keyPath) else {
                throw CommandFailure("\(keyPath): cannot create")
            }
            handle.write(Data((sec + "\n").utf8))
            try handle.close()
            try (pub + "\n").write(toFile: pubPath, atomically: true, encoding: .utf8)
            Output.line(pub)
            Output.log("wrote \(keyPath) (secret, 0600) and \(pubPath)")
        }
    }
}
