#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over POSIX calls shared by `ByteStorage` and `FlatBufferOutput`.
enum SystemIO {
    /// The current `errno` as text, for one-line `FileError` messages.
    static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Writes all of `buffer`, looping on partial writes and EINTR.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        guard var cursor = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let written = write(fd, cursor, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, message: "cannot write: \(errorText())")
            }
            if written == 0 {
                throw FileError(path: path, message: "cannot write: no progress")
            }
            cursor += written
            remaining -= written
        }
    }

    private typealias CopyFileRange = @convention(c) (
        Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
    ) -> Int

    /// `copy_file_range(2)` looked up at run time: the Glibc module does not export it
    /// (it sits behind `_GNU_SOURCE`), and other platforms lack it entirely.
    private static let copyFileRange: CopyFileRange? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: CopyFileRange.self)
        #else
        return nil
        #endif
    }()

    /// Copies `count` bytes starting at `offset` of `source` to `destination`'s current position
    /// inside the kernel. Returns how many bytes were copied before the kernel declined
    /// (unsupported file system, pipe, cross-device...), so the caller can write the rest itself.
    static func copyRange(from source: Int32, offset: Int, count: Int, to destination: Int32) -> Int {
        guard let copy = copyFileRange else { return 0 }
        var sourceOffset = Int64(offset)
        var copied = 0
        while copied < count {
            let result = copy(source, &sourceOffset, destination, nil, count - copied, 0)
            if result < 0 && errno == EINTR { continue }
            if result <= 0 { break }
            copied += result
        }
        return copied
    }
}
