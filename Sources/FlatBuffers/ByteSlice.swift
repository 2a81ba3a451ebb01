#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A zero-copy window onto a `ByteStorage`, e.g. a constant tensor's data inside a mapped model.
///
/// Equality and hashing are by content so identical constants can be deduplicated through a
/// `Set` or `Dictionary`. The hash only reads the length and up to 64 bytes at each end to stay
/// cheap on multi-megabyte weights; `==` still compares every byte.
public struct ByteSlice: Sendable, Hashable {
    public let storage: ByteStorage
    public let range: Range<Int>

    /// The caller guarantees `range` lies inside `storage` (no check, to keep slicing free).
    public init(storage: ByteStorage, range: Range<Int>) {
        self.storage = storage
        self.range = range
    }

    /// A slice owning a copy of `array`.
    public init(_ array: [UInt8]) {
        let storage = ByteStorage(copying: array)
        self.init(storage: storage, range: 0..<storage.count)
    }

    public var count: Int { range.count }
    public var isEmpty: Bool { range.isEmpty }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage.bytes[range]))
    }

    /// A copy of the bytes.
    public var array: [UInt8] {
        withUnsafeBytes { [UInt8]($0) }
    }

    public static func == (lhs: ByteSlice, rhs: ByteSlice) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.storage === rhs.storage && lhs.range == rhs.range { return true }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in
                a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        withUnsafeBytes { bytes in
            let edge = Swift.min(64, bytes.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<edge]))
            hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - edge)...]))
        }
    }
}
