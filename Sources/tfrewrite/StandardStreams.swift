import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Standard output and error written with `write(2)`: a failed write (a full disk, `/dev/full`,
/// a closed descriptor) ends the process with exit code 2 instead of the trap FileHandle raises.
enum StandardStreams {
    /// A closed 0, 1 or 2 gets /dev/null opened read-only: no file the tool opens later can
    /// take that number (and receive its messages), and writing there fails as it should.
    static func occupyClosedDescriptors() {
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            _ = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }
    }

    static func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        if let code = writeAll(bytes, to: fd) {
            if fd != 2 {
                let stream = fd == 1 ? "standard output" : "descriptor \(fd)"
                _ = writeAll(Array("tfrewrite: error: cannot write to \(stream): \(String(cString: strerror(code)))\n".utf8), to: 2)
            }
            exit(2)
        }
    }

    /// nil on success, else the errno.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32? {
        bytes.withUnsafeBytes { buffer -> Int32? in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return errno }
                if n == 0 { return EIO }
                offset += n
            }
            return nil
        }
    }
}

func writeStderr(_ s: String) { StandardStreams.write(s, to: 2) }
