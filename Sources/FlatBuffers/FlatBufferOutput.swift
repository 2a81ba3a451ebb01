/// A serialized flatbuffer split into an in-memory head and deferred byte-vector payloads, so
/// large constant data can go from the input file to the output file without passing through
/// user space.
public struct FlatBufferOutput: Sendable {
    /// Everything but the deferred byte vectors' payloads.
    public var head: [UInt8]
    /// In file order after `head`: `prefix` is zero padding plus the uint32 LE length, then the payload.
    public var tail: [(prefix: [UInt8], payload: ByteSlice)]

    public init(head: [UInt8], tail: [(prefix: [UInt8], payload: ByteSlice)] = []) {
        self.head = head
        self.tail = tail
    }

    public var totalSize: Int {
        tail.reduce(head.count) { $0 + $1.prefix.count + $1.payload.count }
    }

    /// The whole file in memory (tests, small outputs).
    public func bytes() -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(totalSize)
        result += head
        for (prefix, payload) in tail {
            result += prefix
            payload.withUnsafeBytes { result += $0 }
        }
        return result
    }

    /// Writes the file to `fd` at its current position. Payloads that live in a mapped file are
    /// copied with `copy_file_range` when the kernel allows it; otherwise (other platforms, pipes,
    /// heap-backed payloads, cross-file-system copies on old kernels) they are written from memory.
    ///
    /// Do not truncate a file that an input `ByteStorage` still maps: write to a temporary path
    /// and rename over it.
    public func write(to fd: Int32, path: String) throws {
        try head.withUnsafeBytes { try SystemIO.writeAll(fd, $0, path: path) }
        for (prefix, payload) in tail {
            try prefix.withUnsafeBytes { try SystemIO.writeAll(fd, $0, path: path) }
            var copied = 0
            if let source = payload.storage.fileDescriptor, !payload.isEmpty {
                copied = SystemIO.copyRange(
                    from: source, offset: payload.range.lowerBound, count: payload.count, to: fd)
            }
            if copied < payload.count {
                try payload.withUnsafeBytes { bytes in
                    try SystemIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: bytes[copied...]), path: path)
                }
            }
        }
    }
}
