#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file-system failure with the path it concerns, e.g. `"model.tflite: cannot open: No such file or directory"`.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Immutable bytes owned by a class: either heap memory or a read-only private mapping of a file.
///
/// A class (not a struct) so that zero-copy slices of a large model share one owner and the
/// memory or mapping is released exactly once, when the last slice goes away.
public final class ByteStorage: @unchecked Sendable {
    /// Valid for the lifetime of the object. Never written after init, hence `@unchecked Sendable`.
    public let bytes: UnsafeRawBufferPointer
    /// Open read-only descriptor when the bytes are a mapping of a file (kept open so writers
    /// can `copy_file_range` from it; closed in deinit), else nil.
    public let fileDescriptor: Int32?

    private enum Ownership {
        case heap
        case mapping
        case none
    }
    private let ownership: Ownership

    /// Copies `array` into 16-byte-aligned heap memory (aligned so SIMD readers and
    /// in-place flatbuffer readers see the same alignment a mapping would give).
    public init(copying array: [UInt8]) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: array.count, alignment: 16)
        array.withUnsafeBytes { source in
            if let base = source.baseAddress, !source.isEmpty {
                memory.baseAddress!.copyMemory(from: base, byteCount: source.count)
            }
        }
        self.bytes = UnsafeRawBufferPointer(memory)
        self.fileDescriptor = nil
        self.ownership = .heap
    }

    /// Same as `init(copying:)`.
    public convenience init(_ array: [UInt8]) {
        self.init(copying: array)
    }

    private init(bytes: UnsafeRawBufferPointer, fileDescriptor: Int32?, ownership: Ownership) {
        self.bytes = bytes
        self.fileDescriptor = fileDescriptor
        self.ownership = ownership
    }

    deinit {
        switch ownership {
        case .heap:
            UnsafeMutableRawBufferPointer(mutating: bytes).deallocate()
        case .mapping:
            if let base = bytes.baseAddress {
                munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
            }
        case .none:
            break
        }
        if let fd = fileDescriptor {
            close(fd)
        }
    }

    public var count: Int { bytes.count }

    /// Maps the whole file read-only and private. An empty file gives empty storage (mmap of
    /// zero bytes is an error). Only regular files are read: a FIFO would block the open (or
    /// never end), a device such as /dev/zero never ends, so both are refused by `stat` before
    /// opening, and again by `fstat` after a non-blocking open in case the path changed.
    public static func map(path: String) throws -> ByteStorage {
        _ = try regularFileSize(path: path)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw FileError(path: path, message: "cannot open: \(SystemIO.errorText())")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let text = SystemIO.errorText()
            close(fd)
            throw FileError(path: path, message: "cannot stat: \(text)")
        }
        if let problem = notRegularFile(info.st_mode) {
            close(fd)
            throw FileError(path: path, message: problem)
        }
        let size = Int(info.st_size)
        if size == 0 {
            close(fd)
            return ByteStorage(
                bytes: UnsafeRawBufferPointer(start: nil, count: 0), fileDescriptor: nil, ownership: .none)
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            let text = SystemIO.errorText()
            close(fd)
            throw FileError(path: path, message: "cannot map: \(text)")
        }
        return ByteStorage(
            bytes: UnsafeRawBufferPointer(start: address, count: size), fileDescriptor: fd,
            ownership: .mapping)
    }

    /// The size of the regular file at `path` (following symbolic links); a directory, FIFO,
    /// socket or device is an error saying which it is.
    public static func regularFileSize(path: String) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw FileError(path: path, message: "cannot open: \(SystemIO.errorText())")
        }
        if let problem = notRegularFile(info.st_mode) { throw FileError(path: path, message: problem) }
        return Int(info.st_size)
    }

    private static func notRegularFile(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "cannot read: is a directory"
        case S_IFIFO: return "cannot read: is a FIFO (named pipe), not a regular file"
        case S_IFCHR, S_IFBLK: return "cannot read: is a device, not a regular file"
        case S_IFSOCK: return "cannot read: is a socket, not a regular file"
        default: return "cannot read: not a regular file"
        }
    }
}
