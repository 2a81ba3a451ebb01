import FlatBuffers
import XCTest

final class RoundTripTests: XCTestCase {
    func testEveryValueCaseRoundTrips() throws {
        try withReader(Sample.buffer()) { reader in
            XCTAssertEqual(reader.fileIdentifier, "TEST")
            let root = try reader.root(fileIdentifier: "TEST")
            XCTAssertEqual(try root.scalar(Sample.version, default: UInt32(0)), 3)
            XCTAssertEqual(try root.string(Sample.name), "hello, wörld")

            let items = try XCTUnwrap(try root.tables(Sample.items))
            XCTAssertEqual(items.count, 2)
            XCTAssertEqual(try items[0].scalar(0, default: Int32(0)), 7)
            XCTAssertEqual(try items[0].string(1), "a")
            XCTAssertEqual(try items[1].scalar(0, default: Int32(0)), 8)
            XCTAssertNil(try items[1].string(1))

            XCTAssertEqual(try root.scalars(Sample.longs, as: Int64.self), [1, -2, 3])
            XCTAssertEqual(try root.strings(Sample.labels), ["x", "yz", ""])
            XCTAssertEqual(try root.scalars(Sample.ints, as: Int32.self), [-1, 2, Int32.max])

            let blob = try XCTUnwrap(try root.vectorPayload(Sample.blob, elementSize: 1))
            XCTAssertEqual(blob.count, Sample.blobBytes.count)
            XCTAssertEqual(Array(reader.bytes[blob.range]), Sample.blobBytes)
            XCTAssertEqual(try root.scalars(Sample.blob, as: UInt8.self), Sample.blobBytes)

            let scalars = try XCTUnwrap(try root.table(Sample.scalars))
            XCTAssertEqual(try scalars.float32(0, default: 0), 1.5)
            XCTAssertEqual(try scalars.float64(1, default: 0), -2.25)
            XCTAssertEqual(try scalars.bool(2, default: false), true)
            XCTAssertEqual(try scalars.scalar(3, default: Int8(0)), -3)
            XCTAssertEqual(try scalars.scalar(4, default: UInt16(0)), 65000)
            XCTAssertEqual(try scalars.scalar(5, default: Int16(0)), -300)
            XCTAssertEqual(try scalars.scalar(6, default: UInt64(0)), 0xFEDC_BA98_7654_3210)
            XCTAssertEqual(try scalars.scalar(7, default: Int64(0)), -0x0123_4567_89AB_CDEF)
            XCTAssertEqual(try scalars.scalar(8, default: UInt8(0)), 200)
            XCTAssertEqual(try scalars.scalar(9, default: UInt32(0)), 0xDEAD_BEEF)
            XCTAssertEqual(try scalars.scalar(10, default: Int32(0)), -123_456)
        }
    }

    func testAbsentFieldsReadAsDefaultsOrNil() throws {
        let buffer = FlatBufferWriter.serialize(root: FBTableSpec([(3, .u8(1))]), fileIdentifier: nil).bytes()
        try withReader(buffer) { reader in
            XCTAssertEqual(reader.fileIdentifier, "\0\0\0\0")
            let root = try reader.root(fileIdentifier: nil)
            XCTAssertEqual(root.fieldCount, 4)
            XCTAssertFalse(root.has(0))
            XCTAssertTrue(root.has(3))
            XCTAssertFalse(root.has(99))
            XCTAssertFalse(root.has(-1))
            XCTAssertNil(root.fieldPosition(99))
            XCTAssertEqual(try root.scalar(0, default: Int32(42)), 42)
            XCTAssertEqual(try root.float32(1, default: 0.5), 0.5)
            XCTAssertEqual(try root.float64(50, default: 7), 7)
            XCTAssertEqual(try root.bool(2, default: true), true)
            XCTAssertNil(try root.string(0))
            XCTAssertNil(try root.table(0))
            XCTAssertNil(try root.tables(0))
            XCTAssertNil(try root.strings(0))
            XCTAssertNil(try root.scalars(0, as: Int32.self))
            XCTAssertNil(try root.floats(0))
            XCTAssertNil(try root.vectorPayload(0, elementSize: 1))
        }
    }

    func testEmptyTableAndEmptyVectors() throws {
        let spec = FBTableSpec([
            (0, .table(FBTableSpec())),
            (1, .tables([])),
            (2, .strings([])),
            (3, .scalarVector(bytes: [], elementSize: 4)),
            (4, .byteVector(ByteSlice([]), alignment: 16)),
            (5, .string("")),
        ])
        try withReader(FlatBufferWriter.serialize(root: spec, fileIdentifier: nil).bytes()) { reader in
            let root = try reader.root(fileIdentifier: nil)
            let empty = try XCTUnwrap(try root.table(0))
            XCTAssertEqual(empty.fieldCount, 0)
            XCTAssertEqual(empty.inlineSize, 4)
            XCTAssertEqual(try root.tables(1)?.count, 0)
            XCTAssertEqual(try root.strings(2), [])
            XCTAssertEqual(try root.scalars(3, as: Int32.self), [])
            XCTAssertEqual(try root.vectorPayload(4, elementSize: 1)?.count, 0)
            XCTAssertEqual(try root.string(5), "")
        }
    }

    func testFloatVectorAndBoolVector() throws {
        let floats: [Float] = [0, -1.5, .infinity, 3.25e-7]
        let spec = FBTableSpec([
            (0, .scalarVector(bytes: bytes(of: floats.map(\.bitPattern)), elementSize: 4)),
            (1, .scalarVector(bytes: [1, 0, 1], elementSize: 1)),
        ])
        try withReader(FlatBufferWriter.serialize(root: spec, fileIdentifier: nil).bytes()) { reader in
            let root = try reader.root(fileIdentifier: nil)
            XCTAssertEqual(try root.floats(0), floats)
            XCTAssertEqual(try root.bools(1), [true, false, true])
            XCTAssertEqual(try root.scalars(1, as: UInt8.self), [1, 0, 1])
        }
    }

    func testOneMillionInt32DecodeQuickly() throws {
        let values = (0..<1_000_000).map { Int32(truncatingIfNeeded: $0 &* 2_654_435_761) }
        let spec = FBTableSpec([(0, .scalarVector(bytes: bytes(of: values), elementSize: 4))])
        try withReader(FlatBufferWriter.serialize(root: spec, fileIdentifier: nil).bytes()) { reader in
            let root = try reader.root(fileIdentifier: nil)
            let start = Date()
            let decoded = try root.scalars(0, as: Int32.self)
            // A per-element decode in a debug build takes far longer than this; memcpy takes ~1 ms.
            XCTAssertLessThan(Date().timeIntervalSince(start), 0.25)
            XCTAssertEqual(decoded, values)
        }
    }

    func testLastValueWinsForRepeatedIDs() throws {
        var spec = FBTableSpec([(0, .i32(1)), (0, .i32(2))])
        spec.add(1, .string("first"))
        spec.add(1, .string("second"))
        XCTAssertEqual(spec.fields.count, 3)
        try withReader(FlatBufferWriter.serialize(root: spec, fileIdentifier: nil).bytes()) { reader in
            let root = try reader.root(fileIdentifier: nil)
            XCTAssertEqual(try root.scalar(0, default: Int32(0)), 2)
            XCTAssertEqual(try root.string(1), "second")
        }
    }

    func testIdentifierIsPaddedOrTruncatedToFourBytes() {
        let short = FlatBufferWriter.serialize(root: FBTableSpec(), fileIdentifier: "AB").bytes()
        XCTAssertEqual(Array(short[4..<8]), [0x41, 0x42, 0, 0])
        let long = FlatBufferWriter.serialize(root: FBTableSpec(), fileIdentifier: "ABCDEF").bytes()
        XCTAssertEqual(Array(long[4..<8]), Array("ABCD".utf8))
    }

    func testCheckedSerializationRejectsNegativeAndHugeIDs() {
        XCTAssertThrowsError(
            try FlatBufferWriter.serializeChecked(root: FBTableSpec([(-1, .u8(0))]), fileIdentifier: nil)
        ) { XCTAssertEqual(($0 as? FlatBufferError)?.kind, .vtableMalformed) }
        XCTAssertThrowsError(
            try FlatBufferWriter.serializeChecked(root: FBTableSpec([(40_000, .u8(0))]), fileIdentifier: nil)
        ) { XCTAssertEqual(($0 as? FlatBufferError)?.kind, .tooLarge) }
    }

    func testTableAtPositionReadsNestedBuffers() throws {
        let inner = FlatBufferWriter.serialize(root: FBTableSpec([(0, .string("inner"))]), fileIdentifier: "INNR")
        let outer = FlatBufferWriter.serialize(
            root: FBTableSpec([(0, .byteVector(ByteSlice(inner.bytes()), alignment: 16))]), fileIdentifier: "OUTR")
        try withReader(outer.bytes()) { reader in
            let root = try reader.root(fileIdentifier: "OUTR")
            let payload = try XCTUnwrap(try root.vectorPayload(0, elementSize: 1))
            let nested = FlatBufferReader(UnsafeRawBufferPointer(rebasing: reader.bytes[payload.range]))
            XCTAssertEqual(try nested.root(fileIdentifier: "INNR").string(0), "inner")
            // The same table through an absolute position in the outer reader.
            let innerRootOffset = Int(reader.bytes[payload.range.lowerBound])
            let table = try reader.table(at: payload.range.lowerBound + innerRootOffset, context: "nested")
            XCTAssertEqual(table.inlineSize, 8)
        }
    }
}
