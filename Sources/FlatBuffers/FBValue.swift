/// A field value to serialize. Scalars are stored inline in their table; every other case is a
/// separate object reached through a uoffset.
public indirect enum FBValue: Sendable {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), u64(UInt64), i64(Int64)
    case f32(Float), f64(Double), bool(Bool)
    case string(String)
    case table(FBTableSpec)
    case tables([FBTableSpec])
    case strings([String])
    /// Pre-encoded little-endian elements; count = `bytes.count / elementSize`. Elements are
    /// aligned to `elementSize` (at least 4, so the length prefix is aligned too).
    case scalarVector(bytes: [UInt8], elementSize: Int)
    /// A `[ubyte]` payload written after every other object, its first byte at an absolute file
    /// offset that is a multiple of `alignment` (e.g. 16 for `Buffer.data`, `force_align: 16`).
    /// Deferring keeps large weights out of the in-memory head so they can be copied file to file.
    case byteVector(ByteSlice, alignment: Int)

    /// Bytes the value occupies inside its table: the scalar itself, or a 4-byte uoffset.
    var inlineSize: Int {
        switch self {
        case .u8, .i8, .bool: return 1
        case .u16, .i16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        case .string, .table, .tables, .strings, .scalarVector, .byteVector: return 4
        }
    }
}

/// A table to serialize: a list of fields by id, or an opaque copied table plus overrides.
public struct FBTableSpec: Sendable {
    /// Ids may be in any order; when an id repeats, the last value wins.
    public var fields: [(id: Int, value: FBValue)]
    /// When set, the table is this opaque copy, and `fields` are overrides written into it (see
    /// `init(raw:references:)`).
    public var raw: FBRawTable?

    public init(_ fields: [(id: Int, value: FBValue)] = []) {
        self.fields = fields
        self.raw = nil
    }

    /// An opaque table copied byte for byte from a reader. Its reference fields (strings, tables,
    /// vectors) cannot be copied as bytes because their offsets are relative to the old buffer, so
    /// the caller re-supplies them here; each is written and patched into its existing slot. A
    /// value whose id is absent from `raw.vtable`, or that does not fit its slot, is appended to
    /// the end of the inline bytes instead.
    public init(raw: FBRawTable, references: [(id: Int, value: FBValue)] = []) {
        self.fields = references
        self.raw = raw
    }

    /// Sets field `id`, replacing an earlier value for the same id.
    public mutating func add(_ id: Int, _ value: FBValue) {
        if let index = fields.firstIndex(where: { $0.id == id }) {
            fields[index].value = value
        } else {
            fields.append((id: id, value: value))
        }
    }
}

/// The raw parts of a table read from an existing buffer, for copying tables we do not model.
public struct FBRawTable: Sendable, Hashable {
    /// One entry per field id: byte offset from the table start, 0 = absent.
    public var vtable: [UInt16]
    /// The inline bytes after the 4-byte soffset.
    public var inline: [UInt8]
    /// Where the table was in its source buffer. The writer places the copy so that
    /// `newPosition % 8 == originalPosition % 8` (for 4-aligned sources, i.e. every valid one),
    /// which keeps 8-byte scalars as aligned as before.
    public var originalPosition: Int

    public init(vtable: [UInt16], inline: [UInt8], originalPosition: Int) {
        self.vtable = vtable
        self.inline = inline
        self.originalPosition = originalPosition
    }
}
