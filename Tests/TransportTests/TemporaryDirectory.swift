import Foundation

/// A fresh directory under /tmp, short enough for sun_path (107 bytes).
func makeTemporaryDirectory(prefix: String) throws -> URL {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buffer in
        buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
    }
    guard let path else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return URL(fileURLWithPath: path)
}
