import FlatBuffers
import IR
import Support
import TFProto

/// A TensorFlow tensor bundle (a checkpoint in the V2 format: tensorflow/core/util/tensor_bundle/
/// tensor_bundle.{h,cc}, tensor_bundle.proto), as a SavedModel keeps it in
/// variables/variables.index + variables/variables.data-NNNNN-of-MMMMM.
///
/// The index is an SSTable whose "" key holds a BundleHeaderProto (shard count, endianness) and
/// whose other keys (checkpoint keys such as "layer_with_weights-0/kernel/.ATTRIBUTES/
/// VARIABLE_VALUE") hold a BundleEntryProto: dtype, shape, shard, byte offset and size in that
/// shard, and the masked CRC32C of the tensor's bytes. Tensors are read on demand and their
/// checksum is verified before they are used.
package final class TensorBundle {
    package struct Entry: Equatable {
        /// Raw DataType number.
        package var dtype: Int32
        package var shape: TFTensorShape
        package var shard: Int
        package var offset: Int
        package var size: Int
        /// Masked CRC32C of the `size` bytes (tensor_bundle.cc stores crc32c::Mask of them).
        package var maskedCRC: UInt32
        /// Number of TensorSliceProtos: a partitioned variable saved in slices.
        package var sliceCount: Int
    }

    /// The path prefix: ".../variables/variables".
    package let prefix: String
    package let shardCount: Int
    package let entries: [String: Entry]
    private var shards: [Int: ByteStorage] = [:]

    package var indexPath: String { prefix + ".index" }

    /// `prefix` + ".data-%05d-of-%05d" (tensor_bundle.cc DataFilename).
    package func shardPath(_ shard: Int) -> String {
        prefix + ".data-" + padded(shard) + "-of-" + padded(shardCount)
    }

    private func padded(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
    }

    /// Reads and checks the index `prefix`.index (not the shards: they are read by `tensor`).
    package init(prefix: String) throws {
        self.prefix = prefix
        let path = prefix + ".index"
        let storage: ByteStorage
        do {
            storage = try ByteStorage.map(path: path)
        } catch {
            throw TensorBundleError(path: path, "cannot read the variables index (\(error))")
        }
        (shardCount, entries) = try Self.parseIndex(storage.bytes, path: path)
    }

    /// The header's shard count and every entry, from the bytes of an index file.
    package static func parseIndex(_ bytes: UnsafeRawBufferPointer, path: String) throws -> (shards: Int, entries: [String: Entry]) {
        let table = try SSTable.entries(bytes, path: path)
        guard let header = table.first, header.key.isEmpty else {
            throw TensorBundleError(path: path, "not a tensor bundle index: it has no header entry (the empty key)")
        }
        let parsedHeader = header.value.withUnsafeBytes { raw -> (shards: Int32, bigEndian: Bool)? in
            guard let h = tfproto__bundle_header_proto__unpack(nil, raw.count, raw.baseAddress?.assumingMemoryBound(to: UInt8.self)) else { return nil }
            defer { tfproto__bundle_header_proto__free_unpacked(h, nil) }
            return (h.pointee.num_shards, h.pointee.endianness != TFPROTO__BUNDLE_HEADER_PROTO__ENDIANNESS__LITTLE)
        }
        guard let parsedHeader else { throw TensorBundleError(path: path, "the header entry is not a valid BundleHeaderProto") }
        // tensor_bundle.cc refuses a bundle whose endianness differs from the host's; tfrewrite
        // reads little-endian data only.
        guard !parsedHeader.bigEndian else { throw TensorBundleError(path: path, "the bundle was written big-endian; only little-endian bundles are read") }
        // A shard count is a file name suffix of 5 digits; a huge count is a corrupt header.
        guard parsedHeader.shards >= 1, parsedHeader.shards <= 99_999 else {
            throw TensorBundleError(path: path, "the header says \(parsedHeader.shards) data shards (expected 1 to 99999)")
        }
        var entries: [String: Entry] = [:]
        for item in table.dropFirst() {
            let key = String(decoding: item.key, as: UTF8.self)
            let entry = item.value.withUnsafeBytes { raw -> Entry? in
                guard let e = tfproto__bundle_entry_proto__unpack(nil, raw.count, raw.baseAddress?.assumingMemoryBound(to: UInt8.self)) else { return nil }
                defer { tfproto__bundle_entry_proto__free_unpacked(e, nil) }
                let p = e.pointee
                return Entry(
                    dtype: ProtoCopy.dtype(p.dtype), shape: p.shape.map { ProtoCopy.shape($0) } ?? .scalar, shard: Int(p.shard_id),
                    offset: Int(p.offset), size: Int(p.size), maskedCRC: p.crc32c, sliceCount: p.n_slices)
            }
            guard let entry else { throw TensorBundleError(path: path, "the entry of '\(key)' is not a valid BundleEntryProto") }
            guard entry.shard >= 0, entry.shard < Int(parsedHeader.shards), entry.offset >= 0, entry.size >= 0 else {
                throw TensorBundleError(path: path, "the entry of '\(key)' points at shard \(entry.shard), byte \(entry.offset), size \(entry.size), outside the bundle's \(parsedHeader.shards) shard(s)")
            }
            entries[key] = entry
        }
        return (Int(parsedHeader.shards), entries)
    }

    /// The tensor stored under `key`, its size checked against dtype and shape and its CRC32C
    /// against the index. Numeric types only (strings are not model weights).
    package func tensor(_ key: String) throws -> TFTensor {
        guard let entry = entries[key] else { throw TensorBundleError(path: indexPath, "has no entry '\(key)'") }
        guard entry.sliceCount == 0 else {
            throw TensorBundleError(path: indexPath, "'\(key)' is a partitioned variable saved in \(entry.sliceCount) slices, which is not supported")
        }
        guard let dtype = DType(tensorFlow: entry.dtype), let elementSize = dtype.byteSize else {
            throw TensorBundleError(path: indexPath, "'\(key)' has type \(TFDataType.describe(raw: entry.dtype)), which a TFLite model cannot hold")
        }
        guard let dims = entry.shape.dims, let count = MemoryBudget.elementCount(dims) else {
            throw TensorBundleError(path: indexPath, "'\(key)' has shape \(entry.shape), which is not fully known")
        }
        let (expected, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, expected == entry.size else {
            throw TensorBundleError(path: indexPath, "'\(key)' is \(entry.size) bytes, but shape \(entry.shape) \(TFDataType.describe(raw: entry.dtype)) needs \(overflow ? "more than Int.max" : String(expected))")
        }
        try MemoryBudget.check(bytes: entry.size, for: "variable '\(key)' of shape \(entry.shape)")
        let shard = try shardStorage(entry.shard)
        let (end, endOverflow) = entry.offset.addingReportingOverflow(entry.size)
        guard !endOverflow, end <= shard.count else {
            throw TensorBundleError(path: shardPath(entry.shard), "'\(key)' is at bytes \(entry.offset)..<\(entry.offset &+ entry.size), past the end of the \(shard.count)-byte file (truncated file?)")
        }
        let bytes = UnsafeRawBufferPointer(rebasing: shard.bytes[entry.offset..<end])
        let computed = CRC32C.checksum(bytes)
        guard CRC32C.mask(computed) == entry.maskedCRC else {
            throw TensorBundleError(path: shardPath(entry.shard), "'\(key)' fails its checksum (stored CRC32C 0x\(String(CRC32C.unmask(entry.maskedCRC), radix: 16)), computed 0x\(String(computed, radix: 16))): the file is corrupt")
        }
        return TFTensor(dtype: entry.dtype, shape: entry.shape, content: Array(bytes))
    }

    private func shardStorage(_ shard: Int) throws -> ByteStorage {
        if let s = shards[shard] { return s }
        let path = shardPath(shard)
        do {
            let s = try ByteStorage.map(path: path)
            shards[shard] = s
            return s
        } catch {
            throw TensorBundleError(path: path, "cannot read the variables data shard (\(error))")
        }
    }
}
