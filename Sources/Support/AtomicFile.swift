import Foundation
import FlatBuffers
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file through a temporary sibling and `rename(2)`, so readers never see a partial
/// file and a failed run leaves an existing file untouched.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let path: String
        public let message: String
        public var description: String { "\(path): \(message)" }
    }

    public static func write(path: String, _ body: (Int32) throws -> Void) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let tmp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, message: "cannot create: \(String(cString: strerror(errno)))") }
        do {
            try body(fd)
            guard close(fd) == 0 else { throw WriteError(path: path, message: "cannot write: \(String(cString: strerror(errno)))") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let msg = String(cString: strerror(errno))
            unlink(tmp)
            throw WriteError(path: path, message: "cannot rename into place: \(msg)")
        }
    }

    public static func write(path: String, bytes: [UInt8]) throws {
        try write(path: path) { fd in
            try bytes.withUnsafeBytes { buf in
                var off = 0
                while off < buf.count {
                    let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw WriteError(path: path, message: "cannot write: \(String(cString: strerror(errno)))")
                    }
                    off += n
                }
            }
        }
    }

    public static func write(path: String, text: String) throws {
        try write(path: path, bytes: Array(text.utf8))
    }
}
