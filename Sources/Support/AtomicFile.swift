import Foundation
import FlatBuffers
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file through a temporary sibling and `rename(2)`, so readers never see a partial
/// file and a failed run leaves an existing file untouched. The rules for where outputs go
/// (temporaries, modes, devices, symlinks, signals) are `OutputTransaction`'s.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let message: String
        public var description: String { "\(path): \(message)" }
    }

    public static func write(path: String, _ body: (Int32) throws -> Void) throws {
        let transaction = OutputTransaction()
        try transaction.stage(path, body)
        try transaction.commit()
    }

    public static func write(path: String, bytes: [UInt8]) throws {
        try write(path: path) { fd in try writeAll(fd, bytes, path: path) }
    }

    public static func write(path: String, text: String) throws {
        try write(path: path, bytes: Array(text.utf8))
    }

    /// Writes all of `bytes` to `fd`, looping on partial writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WriteError(path: path, message: "cannot write: \(String(cString: strerror(errno)))")
                }
                if n == 0 { throw WriteError(path: path, message: "cannot write: no progress") }
                off += n
            }
        }
    }
}
