import Support

/// Why a tensor bundle (variables.index and its data shards) cannot be read. One line naming the
/// file and the place.
public struct TensorBundleError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var detail: String

    public init(path: String, _ detail: String) {
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
}

/// Reads every entry of an SSTable in LevelDB's table format, which TensorFlow uses for a
/// checkpoint's variables.index (tensorflow/core/lib/io/table_builder.cc and format.cc, the same
/// layout as LevelDB's doc/table_format.md):
///
///     [data block][trailer] … [metaindex block][trailer] [index block][trailer] [footer]
///
/// - footer (last 48 bytes): metaindex BlockHandle, index BlockHandle (each two varint64:
///   offset, size), zero padding to 40 bytes, then the magic 0xdb4775248b80fb57 (little-endian).
/// - trailer (5 bytes after each block): the compression type (0 none; TF writes bundles
///   uncompressed) and the masked CRC32C of block contents + type byte.
/// - block: entries `varint shared, varint non_shared, varint value_length, key delta, value`,
///   each key sharing `shared` bytes with the previous key; then the uint32 offsets of the
///   restart points (entries with shared == 0) and their uint32 count.
/// - the index block maps a key ≥ every key of a data block to that block's handle.
///
/// Every offset and length is checked against the data before use; the keys and values kept
/// are checked against `MemoryBudget` (prefix compression lets a small file describe huge keys).
package enum SSTable {
    package static let magic: UInt64 = 0xdb47_7524_8b80_fb57
    package static let footerSize = 48
    package static let trailerSize = 5

    package struct Entry: Equatable {
        package var key: [UInt8]
        package var value: [UInt8]
    }

    /// All entries in key order. `path` names the file in errors.
    package static func entries(_ bytes: UnsafeRawBufferPointer, path: String) throws -> [Entry] {
        func fail(_ detail: String) -> TensorBundleError { TensorBundleError(path: path, detail) }
        guard bytes.count >= footerSize else {
            throw fail("not a tensor bundle index: \(bytes.count) bytes, shorter than the \(footerSize)-byte table footer (truncated file?)")
        }
        let footerStart = bytes.count - footerSize
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(bytes[bytes.count - 8 + i]) << (8 * UInt64(i)) }
        guard stored == magic else {
            throw fail("not a tensor bundle index: the table footer has no LevelDB table magic number (truncated or not an SSTable)")
        }
        var footer = ByteCursor(UnsafeRawBufferPointer(rebasing: bytes[footerStart..<(bytes.count - 8)]), base: footerStart)
        _ = try footer.blockHandle(fail, what: "metaindex block handle in the footer")
        let index = try footer.blockHandle(fail, what: "index block handle in the footer")

        var budget = KeptBytes(path: path)
        let indexEntries = try blockEntries(try block(bytes, at: index, limit: footerStart, what: "index block", fail), base: index.offset, what: "index block", budget: &budget, fail)
        var result: [Entry] = []
        var previousKey: [UInt8]?
        for (n, indexEntry) in indexEntries.enumerated() {
            let handle = try indexEntry.value.withUnsafeBytes { raw in
                var cursor = ByteCursor(raw, base: 0)
                return try cursor.blockHandle(fail, what: "index entry \(n)'s block handle")
            }
            let what = "data block \(n) (byte \(handle.offset))"
            let data = try block(bytes, at: handle, limit: footerStart, what: what, fail)
            for entry in try blockEntries(data, base: handle.offset, what: what, budget: &budget, fail) {
                if let previousKey, !(previousKey.lexicographicallyPrecedes(entry.key)) {
                    throw fail("\(what): keys are not in strictly increasing order (corrupt table)")
                }
                if indexEntry.key.lexicographicallyPrecedes(entry.key) {
                    throw fail("\(what): key is past its index entry's separator key (corrupt table)")
                }
                previousKey = entry.key
                result.append(entry)
            }
        }
        return result
    }

    package struct BlockHandle {
        package var offset: Int
        package var size: Int
    }

    /// The contents of the block at `handle`, after checking its trailer.
    private static func block(
        _ bytes: UnsafeRawBufferPointer, at handle: BlockHandle, limit: Int, what: String, _ fail: (String) -> TensorBundleError
    ) throws -> UnsafeRawBufferPointer {
        let (end, overflow) = handle.offset.addingReportingOverflow(handle.size)
        guard !overflow, end <= limit - trailerSize else {
            throw fail("\(what) at byte \(handle.offset) with \(handle.size) bytes runs past the end of the table (truncated file?)")
        }
        let contents = UnsafeRawBufferPointer(rebasing: bytes[handle.offset..<end])
        let type = bytes[end]
        var stored: UInt32 = 0
        for i in 0..<4 { stored |= UInt32(bytes[end + 1 + i]) << (8 * UInt32(i)) }
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[end..<(end + 1)]), continuing: CRC32C.checksum(contents))
        guard CRC32C.unmask(stored) == computed else {
            throw fail("\(what): checksum mismatch (stored CRC32C 0x\(hex(CRC32C.unmask(stored))), computed 0x\(hex(computed))): the file is corrupt")
        }
        guard type == 0 else {
            throw fail("\(what) is compressed (type \(type)\(type == 1 ? ", snappy" : "")); only uncompressed tables, as TensorFlow writes them, are read")
        }
        return contents
    }

    private static func blockEntries(
        _ block: UnsafeRawBufferPointer, base: Int, what: String, budget: inout KeptBytes, _ fail: (String) -> TensorBundleError
    ) throws -> [Entry] {
        guard block.count >= 4 else { throw fail("\(what) has \(block.count) bytes, too few for its restart count") }
        let restartCount = Int(readUInt32(block, at: block.count - 4))
        guard restartCount >= 1, restartCount <= (block.count - 4) / 4 else {
            throw fail("\(what) claims \(restartCount) restart points, which do not fit in its \(block.count) bytes")
        }
        let entriesEnd = block.count - 4 - 4 * restartCount
        let restarts = (0..<restartCount).map { Int(readUInt32(block, at: entriesEnd + 4 * $0)) }
        var cursor = ByteCursor(UnsafeRawBufferPointer(rebasing: block[..<entriesEnd]), base: base)
        var entries: [Entry] = []
        var key: [UInt8] = []
        var freshEntryOffsets = Set<Int>()
        while !cursor.atEnd {
            let entryOffset = cursor.position
            let shared = try cursor.varint(fail, what: "\(what): a key's shared length")
            let unshared = try cursor.varint(fail, what: "\(what): a key's length")
            let valueLength = try cursor.varint(fail, what: "\(what): a value's length")
            guard shared <= UInt64(key.count) else {
                throw fail("\(what): an entry at byte \(base + entryOffset) shares \(shared) bytes with a previous key of \(key.count) bytes (corrupt table)")
            }
            if shared == 0 { freshEntryOffsets.insert(entryOffset) }
            let keyDelta = try cursor.bytes(unshared, fail, what: "\(what): a key")
            let value = try cursor.bytes(valueLength, fail, what: "\(what): a value")
            try budget.add(Int(shared) + keyDelta.count + value.count)
            key.removeSubrange(Int(shared)...)
            key += keyDelta
            entries.append(Entry(key: key, value: Array(value)))
        }
        // An empty block still lists restart point 0 (LevelDB's BlockBuilder).
        for r in restarts where !freshEntryOffsets.contains(r) && !(entries.isEmpty && r == 0) {
            throw fail("\(what): restart point \(r) is not the start of an entry with a full key (corrupt table)")
        }
        return entries
    }

    private static func readUInt32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    private static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// Sum of the key and value bytes kept so far, against the memory budget.
    private struct KeptBytes {
        var path: String
        var total = 0
        mutating func add(_ n: Int) throws {
            total += n
            try MemoryBudget.check(bytes: total, for: "the keys and values of \(path)")
        }
    }
}

/// Reads varints and byte runs from a buffer, every read bounds-checked.
package struct ByteCursor {
    private let buffer: UnsafeRawBufferPointer
    private let base: Int
    package private(set) var position = 0

    package init(_ buffer: UnsafeRawBufferPointer, base: Int) {
        self.buffer = buffer
        self.base = base
    }

    package var atEnd: Bool { position >= buffer.count }

    /// A varint, read by the protobuf wire reader (the same LEB128 encoding).
    package mutating func varint(_ fail: (String) -> TensorBundleError, what: String) throws -> UInt64 {
        var reader = WireReader(UnsafeRawBufferPointer(rebasing: buffer[position...]), base: base + position)
        do {
            let value = try reader.rawVarint()
            position = buffer.count - reader.remaining.count
            return value
        } catch {
            throw fail("\(what): \(error.message)")
        }
    }

    package mutating func bytes(_ count: UInt64, _ fail: (String) -> TensorBundleError, what: String) throws -> UnsafeRawBufferPointer {
        guard count <= UInt64(buffer.count - position) else {
            throw fail("\(what) at byte \(base + position) claims \(count) bytes but only \(buffer.count - position) remain (truncated file?)")
        }
        let start = position
        position += Int(count)
        return UnsafeRawBufferPointer(rebasing: buffer[start..<position])
    }

    package mutating func blockHandle(_ fail: (String) -> TensorBundleError, what: String) throws -> SSTable.BlockHandle {
        let offset = try varint(fail, what: what)
        let size = try varint(fail, what: what)
        guard offset <= UInt64(Int.max / 2), size <= UInt64(Int.max / 2) else {
            throw fail("\(what) points at byte \(offset) with \(size) bytes, past any file")
        }
        return SSTable.BlockHandle(offset: Int(offset), size: Int(size))
    }
}
