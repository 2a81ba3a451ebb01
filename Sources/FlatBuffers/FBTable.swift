/// A verified table: its header, vtable and vtable entries were checked when it was created, so
/// presence queries are cheap and cannot fail; typed accessors check the field's size and follow
/// references with the same bounds checks.
///
/// Errors thrown by accessors have an empty context; callers that know the schema name the place
/// with `FlatBufferError.inContext(_:)`. Elements of table vectors get the context `"[i]"`.
public struct FBTable: @unchecked Sendable {
    public let reader: FlatBufferReader
    /// Absolute offset of the table (its soffset).
    public let position: Int
    public let vtablePosition: Int
    /// Vtable size in bytes.
    public let vtableSize: Int
    /// Table inline size in bytes (including the 4-byte soffset), from the vtable.
    public let inlineSize: Int

    init(reader: FlatBufferReader, position: Int, vtablePosition: Int, vtableSize: Int, inlineSize: Int) {
        self.reader = reader
        self.position = position
        self.vtablePosition = vtablePosition
        self.vtableSize = vtableSize
        self.inlineSize = inlineSize
    }

    /// Number of vtable slots; fields with higher ids read as absent (written by an older schema).
    public var fieldCount: Int { (vtableSize - 4) / 2 }

    public func has(_ id: Int) -> Bool {
        fieldPosition(id) != nil
    }

    /// Absolute position of a present field, nil if absent. The vtable entry was verified to lie
    /// inside the table's inline bytes when the table was created.
    public func fieldPosition(_ id: Int) -> Int? {
        guard id >= 0, id < fieldCount else { return nil }
        let fieldOffset = Int(reader.load(vtablePosition + 4 + 2 * id, as: UInt16.self))
        return fieldOffset == 0 ? nil : position + fieldOffset
    }

    // MARK: Scalars

    public func scalar<T: FixedWidthInteger>(_ id: Int, default value: T) throws -> T {
        guard let at = try fieldPosition(id, size: MemoryLayout<T>.size) else { return value }
        return reader.load(at, as: T.self)
    }

    public func float32(_ id: Int, default value: Float) throws -> Float {
        guard let at = try fieldPosition(id, size: 4) else { return value }
        return Float(bitPattern: reader.load(at, as: UInt32.self))
    }

    public func float64(_ id: Int, default value: Double) throws -> Double {
        guard let at = try fieldPosition(id, size: 8) else { return value }
        return Double(bitPattern: reader.load(at, as: UInt64.self))
    }

    /// Any nonzero byte reads as true, like the generated FlatBuffers accessors.
    public func bool(_ id: Int, default value: Bool) throws -> Bool {
        guard let at = try fieldPosition(id, size: 1) else { return value }
        return reader.load(at, as: UInt8.self) != 0
    }

    // MARK: References

    /// Nil if absent; checks the length, the NUL terminator and UTF-8 validity.
    public func string(_ id: Int) throws -> String? {
        guard let (slot, target) = try reference(id) else { return nil }
        return try readString(referencedFrom: slot, at: target)
    }

    public func table(_ id: Int) throws -> FBTable? {
        guard let (slot, target) = try reference(id) else { return nil }
        return try reader.verifiedTable(at: target, referencedFrom: slot, context: "")
    }

    public func tables(_ id: Int) throws -> [FBTable]? {
        guard let (slot, target) = try reference(id) else { return nil }
        let (start, count) = try vectorHeader(referencedFrom: slot, at: target, elementSize: 4)
        var result: [FBTable] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let element = start + 4 * index
            let elementTarget = element + Int(reader.load(element, as: UInt32.self))
            result.append(try reader.verifiedTable(at: elementTarget, referencedFrom: element, context: "[\(index)]"))
        }
        return result
    }

    public func strings(_ id: Int) throws -> [String]? {
        guard let (slot, target) = try reference(id) else { return nil }
        let (start, count) = try vectorHeader(referencedFrom: slot, at: target, elementSize: 4)
        var result: [String] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let element = start + 4 * index
            let elementTarget = element + Int(reader.load(element, as: UInt32.self))
            do {
                result.append(try readString(referencedFrom: element, at: elementTarget))
            } catch let error as FlatBufferError {
                throw error.inContext("[\(index)]")
            }
        }
        return result
    }

    /// A vector of integers (use `UInt8` for `[bool]`), decoded with one memcpy.
    public func scalars<T: FixedWidthInteger>(_ id: Int, as type: T.Type) throws -> [T]? {
        guard let (range, count) = try vectorPayload(id, elementSize: MemoryLayout<T>.size) else { return nil }
        let values = copyElements(range, count: count, as: T.self)
        #if _endian(big)
        return values.map { T(littleEndian: $0) }
        #else
        return values
        #endif
    }

    public func floats(_ id: Int) throws -> [Float]? {
        guard let bits = try scalars(id, as: UInt32.self) else { return nil }
        #if _endian(big)
        return bits.map { Float(bitPattern: $0) }
        #else
        // Same size and layout: reinterpret in one copy rather than converting element by element.
        return [Float](unsafeUninitializedCapacity: bits.count) { buffer, initialized in
            bits.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            initialized = bits.count
        }
        #endif
    }

    /// A `[bool]` vector; any nonzero byte is true.
    public func bools(_ id: Int) throws -> [Bool]? {
        try scalars(id, as: UInt8.self).map { $0.map { $0 != 0 } }
    }

    /// Absolute byte range of a vector's element payload (`count * elementSize` bytes), verified,
    /// for zero-copy access to `[ubyte]` data.
    public func vectorPayload(_ id: Int, elementSize: Int) throws -> (range: Range<Int>, count: Int)? {
        guard let (slot, target) = try reference(id) else { return nil }
        let size = max(elementSize, 1)
        let (start, count) = try vectorHeader(referencedFrom: slot, at: target, elementSize: size)
        return (start..<(start + count * size), count)
    }

    // MARK: Raw copy

    /// One entry per field id (byte offset from the table start, 0 = absent), for copying a table
    /// whose schema we do not model.
    public func rawVTableEntries() -> [UInt16] {
        (0..<fieldCount).map { reader.load(vtablePosition + 4 + 2 * $0, as: UInt16.self) }
    }

    /// The inline bytes after the 4-byte soffset: `[position + 4, position + inlineSize)`.
    public func rawInlineBytes() -> ArraySlice<UInt8> {
        ArraySlice(reader.bytes[(position + 4)..<(position + inlineSize)])
    }

    // MARK: Internals

    /// The field's position after checking that `size` bytes fit in the table's inline region.
    private func fieldPosition(_ id: Int, size: Int) throws -> Int? {
        guard let at = fieldPosition(id) else { return nil }
        guard at - position <= inlineSize - size else {
            throw FlatBufferError(
                kind: .vtableMalformed, offset: vtablePosition + 4 + 2 * id,
                detail: "field \(id) (\(size) bytes at table offset \(at - position)) runs past the inline size \(inlineSize) of the table at byte \(position)")
        }
        return at
    }

    /// The uoffset slot of a reference field and the absolute position it points to (unchecked).
    private func reference(_ id: Int) throws -> (slot: Int, target: Int)? {
        guard let slot = try fieldPosition(id, size: 4) else { return nil }
        return (slot, slot + Int(reader.load(slot, as: UInt32.self)))
    }

    /// Checks a vector's length header and payload; returns the payload start and element count.
    private func vectorHeader(referencedFrom slot: Int, at target: Int, elementSize: Int) throws -> (start: Int, count: Int) {
        let total = reader.bytes.count
        guard target <= total - 4 else {
            throw FlatBufferError(
                kind: .offsetOutOfRange, offset: slot,
                detail: "vector offset points to byte \(target), outside the \(total)-byte file")
        }
        let count = Int(reader.load(target, as: UInt32.self))
        let start = target + 4
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, byteCount <= total - start else {
            throw FlatBufferError(
                kind: .vectorOutOfRange, offset: target,
                detail: "vector length \(count) runs past the end of the file")
        }
        return (start, count)
    }

    private func readString(referencedFrom slot: Int, at target: Int) throws -> String {
        let total = reader.bytes.count
        guard target <= total - 4 else {
            throw FlatBufferError(
                kind: .offsetOutOfRange, offset: slot,
                detail: "string offset points to byte \(target), outside the \(total)-byte file")
        }
        let length = Int(reader.load(target, as: UInt32.self))
        let start = target + 4
        guard length <= total - start else {
            throw FlatBufferError(
                kind: .stringOutOfRange, offset: target,
                detail: "string length \(length) runs past the end of the file")
        }
        let end = start + length
        guard end < total, reader.load(end, as: UInt8.self) == 0 else {
            throw FlatBufferError(kind: .missingStringTerminator, offset: end)
        }
        guard let text = String(validating: reader.bytes[start..<end], as: UTF8.self) else {
            throw FlatBufferError(kind: .invalidUTF8, offset: target)
        }
        return text
    }

    private func copyElements<T>(_ range: Range<Int>, count: Int, as type: T.Type) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: reader.bytes[range]))
            }
            initialized = count
        }
    }
}

extension FBRawTable {
    /// Captures `table` for an opaque copy. Reference fields inside it still hold offsets relative
    /// to the old buffer; re-supply them as `references` when writing (see `FBTableSpec.init(raw:references:)`).
    public init(copying table: FBTable) {
        self.init(
            vtable: table.rawVTableEntries(), inline: Array(table.rawInlineBytes()),
            originalPosition: table.position)
    }
}
