import FlatBuffers
import XCTest

/// Field ids of the sample root table used across tests.
enum Sample {
    static let version = 0
    static let name = 1
    static let items = 2
    static let longs = 3
    static let labels = 4
    static let blob = 5
    static let scalars = 6
    static let ints = 7

    static let blobBytes: [UInt8] = (0..<37).map { UInt8($0 * 7 & 0xFF) }

    /// One of every FBValue case, nested two levels deep.
    static func spec() -> FBTableSpec {
        var scalarTable = FBTableSpec()
        scalarTable.add(0, .f32(1.5))
        scalarTable.add(1, .f64(-2.25))
        scalarTable.add(2, .bool(true))
        scalarTable.add(3, .i8(-3))
        scalarTable.add(4, .u16(65000))
        scalarTable.add(5, .i16(-300))
        scalarTable.add(6, .u64(0xFEDC_BA98_7654_3210))
        scalarTable.add(7, .i64(-0x0123_4567_89AB_CDEF))
        scalarTable.add(8, .u8(200))
        scalarTable.add(9, .u32(0xDEAD_BEEF))
        scalarTable.add(10, .i32(-123_456))

        var root = FBTableSpec()
        root.add(version, .u32(3))
        root.add(name, .string("hello, wörld"))
        root.add(items, .tables([
            FBTableSpec([(0, .i32(7)), (1, .string("a"))]),
            FBTableSpec([(0, .i32(8))]),
        ]))
        root.add(longs, .scalarVector(bytes: bytes(of: [Int64(1), -2, 3]), elementSize: 8))
        root.add(labels, .strings(["x", "yz", ""]))
        root.add(blob, .byteVector(ByteSlice(blobBytes), alignment: 16))
        root.add(scalars, .table(scalarTable))
        root.add(ints, .scalarVector(bytes: bytes(of: [Int32(-1), 2, Int32.max]), elementSize: 4))
        return root
    }

    static func buffer(identifier: String? = "TEST") -> [UInt8] {
        FlatBufferWriter.serialize(root: spec(), fileIdentifier: identifier).bytes()
    }
}

/// Little-endian bytes of an integer array, as `.scalarVector` expects.
func bytes<T: FixedWidthInteger>(of values: [T]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

/// Runs `body` on a reader over a copy of `buffer` (kept alive for the call).
func withReader<R>(_ buffer: [UInt8], _ body: (FlatBufferReader) throws -> R) rethrows -> R {
    let storage = ByteStorage(copying: buffer)
    return try withExtendedLifetime(storage) { try body(FlatBufferReader(storage.bytes)) }
}

/// Deterministic PRNG so fuzz failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func assertThrowsFlatBufferError(
    _ kind: FlatBufferError.Kind, at offset: Int, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected \(kind) at \(offset), no error thrown", file: file, line: line)
    } catch let error as FlatBufferError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertEqual(error.offset, offset, "\(error)", file: file, line: line)
        XCTAssertFalse(error.description.contains("\n"), file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

/// Reads the sample buffer completely with its real schema.
func readSample(_ reader: FlatBufferReader) throws {
    let root = try reader.root(fileIdentifier: nil)
    _ = try root.scalar(Sample.version, default: UInt32(0))
    _ = try root.string(Sample.name)
    for item in try root.tables(Sample.items) ?? [] {
        _ = try item.scalar(0, default: Int32(0))
        _ = try item.string(1)
    }
    _ = try root.scalars(Sample.longs, as: Int64.self)
    _ = try root.strings(Sample.labels)
    _ = try root.vectorPayload(Sample.blob, elementSize: 1)
    if let scalars = try root.table(Sample.scalars) {
        _ = try scalars.float32(0, default: 0)
        _ = try scalars.float64(1, default: 0)
        _ = try scalars.bool(2, default: false)
        _ = try scalars.scalar(3, default: Int8(0))
        _ = try scalars.scalar(4, default: UInt16(0))
        _ = try scalars.scalar(5, default: Int16(0))
        _ = try scalars.scalar(6, default: UInt64(0))
        _ = try scalars.scalar(7, default: Int64(0))
        _ = try scalars.scalar(8, default: UInt8(0))
        _ = try scalars.scalar(9, default: UInt32(0))
        _ = try scalars.scalar(10, default: Int32(0))
    }
    _ = try root.scalars(Sample.ints, as: Int32.self)
}

/// Interprets every field of `table` as every type, recursing into whatever parses as a table,
/// to reach reader paths a schema-driven read would not.
func probeEverything(_ table: FBTable, depth: Int = 0) {
    guard depth < 4 else { return }
    _ = table.rawVTableEntries()
    _ = table.rawInlineBytes()
    for id in 0..<min(table.fieldCount, 16) {
        _ = table.has(id)
        _ = try? table.scalar(id, default: UInt8(0))
        _ = try? table.scalar(id, default: Int16(0))
        _ = try? table.scalar(id, default: UInt32(0))
        _ = try? table.scalar(id, default: Int64(0))
        _ = try? table.float32(id, default: 0)
        _ = try? table.float64(id, default: 0)
        _ = try? table.bool(id, default: false)
        _ = try? table.string(id)
        _ = try? table.strings(id)
        _ = try? table.scalars(id, as: Int64.self)
        _ = try? table.scalars(id, as: UInt8.self)
        _ = try? table.floats(id)
        _ = try? table.bools(id)
        _ = try? table.vectorPayload(id, elementSize: 16)
        if let child = try? table.table(id) {
            probeEverything(child, depth: depth + 1)
        }
        for child in (try? table.tables(id)) ?? [] {
            probeEverything(child, depth: depth + 1)
        }
    }
}
