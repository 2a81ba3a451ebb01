/// Entry point for reading a flatbuffer in place, with every offset checked before it is followed.
///
/// The reader never copies the buffer and never traps on bad input: each uoffset, soffset, vtable,
/// vector and string is bounds-checked with overflow-free arithmetic (`Int` is 64-bit and every
/// value read is at most 32 bits, and comparisons are written as `x <= count - size`), and
/// failures throw `FlatBufferError` with the absolute byte offset of what was read.
public struct FlatBufferReader: @unchecked Sendable {
    /// The caller keeps this memory alive (e.g. by holding the `ByteStorage`), hence `@unchecked`.
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Bytes 4..<8 as ASCII (bytes above 127 map to the Latin-1 character of the same value), or
    /// nil when the buffer is shorter than the 8-byte header.
    public var fileIdentifier: String? {
        guard bytes.count >= 8 else { return nil }
        return String(String.UnicodeScalarView(bytes[4..<8].map { Unicode.Scalar($0) }))
    }

    /// Reads the root uoffset at byte 0, checks the file identifier (when `fileIdentifier` is not
    /// nil) and returns the verified root table.
    public func root(fileIdentifier expected: String?) throws -> FBTable {
        guard bytes.count >= 8 else {
            throw FlatBufferError(
                kind: .truncated, offset: 0, context: "root",
                detail: "file has \(bytes.count) bytes, fewer than the 8-byte flatbuffer header")
        }
        if let expected {
            let want = Array(expected.utf8)
            guard want.count == 4, bytes[4..<8].elementsEqual(want) else {
                let found = fileIdentifier ?? ""
                throw FlatBufferError(
                    kind: .badFileIdentifier, offset: 4, context: "root",
                    detail: "file identifier is \"\(found.debugEscaped)\", expected \"\(expected.debugEscaped)\"")
            }
        }
        return try verifiedTable(at: Int(load(0, as: UInt32.self)), referencedFrom: 0, context: "root")
    }

    /// A verified table at an absolute position, e.g. the root of a nested flatbuffer.
    public func table(at position: Int, context: String) throws -> FBTable {
        try verifiedTable(at: position, referencedFrom: position, context: context)
    }

    // MARK: - Internals shared with FBTable

    /// Little-endian load from an unaligned position. The caller has already checked bounds.
    @inline(__always)
    func load<T: FixedWidthInteger>(_ position: Int, as type: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// Checks the table header, vtable and every vtable entry, so that `FBTable.fieldPosition`
    /// can answer without throwing. `slot` is where the reference to the table was read; it is the
    /// reported offset when the table position itself is outside the buffer.
    func verifiedTable(
        at position: Int, referencedFrom slot: Int, context: @autoclosure () -> String
    ) throws -> FBTable {
        let count = bytes.count
        guard position >= 0, position <= count - 4 else {
            throw FlatBufferError(
                kind: .offsetOutOfRange, offset: slot, context: context(),
                detail: "table offset points to byte \(position), outside the \(count)-byte file")
        }
        let vtablePosition = position - Int(load(position, as: Int32.self))
        guard vtablePosition >= 0, vtablePosition <= count - 4 else {
            throw FlatBufferError(
                kind: .vtableOutOfRange, offset: position, context: context(),
                detail: "vtable of the table at byte \(position) would be at byte \(vtablePosition), outside the \(count)-byte file")
        }
        let vtableSize = Int(load(vtablePosition, as: UInt16.self))
        let inlineSize = Int(load(vtablePosition + 2, as: UInt16.self))
        guard vtableSize >= 4, vtableSize % 2 == 0 else {
            throw FlatBufferError(
                kind: .vtableMalformed, offset: vtablePosition, context: context(),
                detail: "vtable size \(vtableSize) is odd or smaller than 4")
        }
        guard vtableSize <= count - vtablePosition else {
            throw FlatBufferError(
                kind: .vtableOutOfRange, offset: vtablePosition, context: context(),
                detail: "vtable size \(vtableSize) runs past the end of the file")
        }
        guard inlineSize >= 4 else {
            throw FlatBufferError(
                kind: .vtableMalformed, offset: vtablePosition + 2, context: context(),
                detail: "table inline size \(inlineSize) is smaller than its 4-byte header")
        }
        guard inlineSize <= count - position else {
            throw FlatBufferError(
                kind: .truncated, offset: position, context: context(),
                detail: "table inline size \(inlineSize) runs past the end of the file")
        }
        var entry = vtablePosition + 4
        let end = vtablePosition + vtableSize
        while entry < end {
            let fieldOffset = Int(load(entry, as: UInt16.self))
            // Offsets 1..3 would overlap the table's soffset; offsets at or past the inline size
            // would read another object's bytes.
            if fieldOffset != 0 && (fieldOffset < 4 || fieldOffset >= inlineSize) {
                throw FlatBufferError(
                    kind: .vtableMalformed, offset: entry, context: context(),
                    detail: "field \((entry - vtablePosition - 4) / 2) has offset \(fieldOffset), outside the table's inline size \(inlineSize)")
            }
            entry += 2
        }
        return FBTable(
            reader: self, position: position, vtablePosition: vtablePosition, vtableSize: vtableSize,
            inlineSize: inlineSize)
    }
}

extension String {
    /// Escapes control and non-ASCII characters so error messages stay on one printable line.
    var debugEscaped: String {
        unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : $0.escaped(asASCII: true) }.joined()
    }
}
