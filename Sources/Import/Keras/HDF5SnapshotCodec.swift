import Support

/// The byte format in which the HDF5 reader child hands an `HDF5Snapshot` to its parent:
/// the magic "TFRH5S1\n", then records, each a tag byte:
///   'O' path, kind byte                       an object (1 group, 2 dataset, 3 other)
///   'D' path, 0, rank u32, rank × dim u64, the float32 values   a dataset read
///   'D' path, 1, message                      a dataset that could not be read
///   'A' object, name, 0, count u32, count × string   a string attribute
///   'A' object, name, 1, message              an attribute that could not be read
///   'F' message                               the file could not be opened at all
///   'E'                                       the end; nothing may follow
/// Strings are a u32 byte count and UTF-8; integers and floats little-endian. The parent
/// decodes it as untrusted: every count is checked against the bytes left.
package enum HDF5SnapshotCodec {
    package static let magic = Array("TFRH5S1\n".utf8)

    /// Why the child's output could not be decoded.
    package struct FormatError: Error, Equatable, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    package static func encode(_ snapshot: HDF5Snapshot) -> [UInt8] {
        var out = magic
        for (objectPath, kind) in snapshot.objects.sorted(by: { $0.key < $1.key }) {
            out.append(UInt8(ascii: "O")); append(objectPath, to: &out); out.append(kind.rawValue)
        }
        for (objectPath, read) in snapshot.datasets.sorted(by: { $0.key < $1.key }) {
            out.append(UInt8(ascii: "D")); append(objectPath, to: &out)
            switch read {
            case .success(let dataset):
                out.append(0)
                append(UInt32(dataset.shape.count), to: &out)
                for d in dataset.shape { append(UInt64(d), to: &out) }
                #if _endian(little)
                dataset.values.withUnsafeBytes { out.append(contentsOf: $0) }
                #else
                for v in dataset.values { append(v.bitPattern, to: &out) }
                #endif
            case .failure(let error):
                out.append(1); append(error.message, to: &out)
            }
        }
        for (key, read) in snapshot.attributes.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
            out.append(UInt8(ascii: "A")); append(String(parts[0]), to: &out); append(String(parts[1]), to: &out)
            switch read {
            case .success(let strings):
                out.append(0); append(UInt32(strings.count), to: &out)
                for s in strings { append(s, to: &out) }
            case .failure(let error):
                out.append(1); append(error.message, to: &out)
            }
        }
        out.append(UInt8(ascii: "E"))
        return out
    }

    /// The output of a child that could not open the file: `message` becomes the HDF5Error.
    package static func encodeFailure(_ message: String) -> [UInt8] {
        var out = magic
        out.append(UInt8(ascii: "F")); append(message, to: &out)
        out.append(UInt8(ascii: "E"))
        return out
    }

    /// The snapshot, or the HDF5Error the child reported; FormatError when the bytes are not
    /// this format.
    package static func decode(_ bytes: [UInt8], path: String) throws -> HDF5Snapshot {
        var reader = Reader(bytes: bytes)
        guard bytes.starts(with: magic) else { throw FormatError(message: "no snapshot header") }
        reader.offset = magic.count
        var snapshot = HDF5Snapshot(path: path)
        while true {
            switch try reader.byte() {
            case UInt8(ascii: "O"):
                let objectPath = try reader.string()
                guard let kind = HDF5Snapshot.Kind(rawValue: try reader.byte()) else { throw FormatError(message: "unknown object kind") }
                snapshot.objects[objectPath] = kind
            case UInt8(ascii: "D"):
                let objectPath = try reader.string()
                if try reader.flag() {
                    snapshot.datasets[objectPath] = .failure(HDF5Error(path: path, message: try reader.string()))
                    continue
                }
                let rank = Int(try reader.uint32())
                guard rank <= 32 else { throw FormatError(message: "dataset rank \(rank)") }
                var shape: [Int] = []
                for _ in 0..<rank {
                    let d = try reader.uint64()
                    guard d <= UInt64(Int.max) else { throw FormatError(message: "dataset dimension \(d)") }
                    shape.append(Int(d))
                }
                guard let count = MemoryBudget.elementCount(shape), count <= (bytes.count - reader.offset) / 4 else {
                    throw FormatError(message: "dataset '\(objectPath)' of shape \(shape) overruns the output")
                }
                let start = reader.offset
                reader.offset += count * 4
                let values = bytes.withUnsafeBytes { raw in
                    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                        #if _endian(little)
                        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4 * count)]))
                        #else
                        for k in 0..<count { buffer[k] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * k, as: UInt32.self))) }
                        #endif
                        initialized = count
                    }
                }
                snapshot.datasets[objectPath] = .success(.init(shape: shape, values: values))
            case UInt8(ascii: "A"):
                let objectPath = try reader.string()
                let name = try reader.string()
                let key = HDF5Snapshot.attributeKey(name, objectPath)
                if try reader.flag() {
                    snapshot.attributes[key] = .failure(HDF5Error(path: path, message: try reader.string()))
                    continue
                }
                let count = Int(try reader.uint32())
                guard count <= (bytes.count - reader.offset) / 4 else { throw FormatError(message: "attribute '\(name)' overruns the output") }
                snapshot.attributes[key] = .success(try (0..<count).map { _ in try reader.string() })
            case UInt8(ascii: "F"):
                let message = try reader.string()
                try reader.end()
                throw HDF5Error(path: path, message: message)
            case UInt8(ascii: "E"):
                try reader.expectEnd()
                return snapshot
            case let tag:
                throw FormatError(message: "unknown record tag \(tag)")
            }
        }
    }

    private struct Reader {
        var bytes: [UInt8]
        var offset = 0

        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - offset else { throw FormatError(message: "truncated at byte \(offset)") }
            defer { offset += n }
            return bytes[offset..<(offset + n)]
        }
        mutating func byte() throws -> UInt8 { try take(1).first! }
        mutating func flag() throws -> Bool {
            let b = try byte()
            guard b <= 1 else { throw FormatError(message: "bad status byte \(b) at byte \(offset - 1)") }
            return b == 1
        }
        mutating func uint32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        mutating func uint64() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        mutating func string() throws -> String { String(decoding: try take(Int(try uint32())), as: UTF8.self) }
        mutating func end() throws { guard try byte() == UInt8(ascii: "E") else { throw FormatError(message: "no end record") }; try expectEnd() }
        func expectEnd() throws { guard offset == bytes.count else { throw FormatError(message: "\(bytes.count - offset) bytes after the end record") } }
    }

    private static func append(_ value: UInt32, to out: inout [UInt8]) {
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
    }
    private static func append(_ value: UInt64, to out: inout [UInt8]) {
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
    }
    private static func append(_ text: String, to out: inout [UInt8]) {
        let utf8 = Array(text.utf8)
        append(UInt32(utf8.count), to: &out)
        out += utf8
    }
}
