import FlatBuffers
import XCTest

final class LayoutTests: XCTestCase {
    func testByteVectorPayloadsAreAlignedAndLast() throws {
        var children: [FBTableSpec] = []
        for size in [1, 17, 0, 33, 5] {
            children.append(FBTableSpec([
                (0, .byteVector(ByteSlice((0..<size).map { UInt8($0) }), alignment: 16)),
                (1, .string(String(repeating: "s", count: size))),
            ]))
        }
        let root = FBTableSpec([(0, .tables(children)), (1, .byteVector(ByteSlice([9, 9, 9]), alignment: 64))])
        let output = FlatBufferWriter.serialize(root: root, fileIdentifier: nil)
        XCTAssertEqual(output.tail.count, 6)
        XCTAssertEqual(output.totalSize, output.bytes().count)
        try withReader(output.bytes()) { reader in
            let table = try reader.root(fileIdentifier: nil)
            let rootPayload = try XCTUnwrap(try table.vectorPayload(1, elementSize: 1))
            XCTAssertEqual(rootPayload.range.lowerBound % 64, 0)
            // BFS order: the root's own payload is reached before its children's.
            XCTAssertGreaterThanOrEqual(rootPayload.range.lowerBound, output.head.count)
            var previousEnd = rootPayload.range.upperBound
            for (index, child) in try XCTUnwrap(try table.tables(0)).enumerated() {
                let payload = try XCTUnwrap(try child.vectorPayload(0, elementSize: 1))
                XCTAssertEqual(payload.range.lowerBound % 16, 0)
                XCTAssertGreaterThanOrEqual(payload.range.lowerBound, previousEnd)
                XCTAssertEqual(Array(reader.bytes[payload.range]), children[index].fieldsPayload)
                previousEnd = payload.range.upperBound
            }
        }
    }

    func testEightByteScalarsAndVectorsAreNaturallyAligned() throws {
        // Vary the preceding content so tables land at different offsets.
        for padding in 0..<8 {
            let spec = FBTableSpec([
                (0, .string(String(repeating: "p", count: padding))),
                (1, .table(FBTableSpec([(0, .u8(1)), (1, .i64(-5)), (2, .f64(0.5)), (3, .i16(2))]))),
                (2, .scalarVector(bytes: bytes(of: [Int64(7), 8]), elementSize: 8)),
                (3, .i64(99)),
                (4, .u8(1)),
            ])
            try withReader(FlatBufferWriter.serialize(root: spec, fileIdentifier: nil).bytes()) { reader in
                let root = try reader.root(fileIdentifier: nil)
                XCTAssertEqual(try XCTUnwrap(root.fieldPosition(3)) % 8, 0)
                XCTAssertEqual(try root.scalar(3, default: Int64(0)), 99)
                let child = try XCTUnwrap(try root.table(1))
                XCTAssertEqual(child.position % 4, 0)
                XCTAssertEqual(child.vtablePosition % 2, 0)
                XCTAssertEqual(try XCTUnwrap(child.fieldPosition(1)) % 8, 0)
                XCTAssertEqual(try XCTUnwrap(child.fieldPosition(2)) % 8, 0)
                XCTAssertEqual(try XCTUnwrap(child.fieldPosition(3)) % 2, 0)
                XCTAssertEqual(try child.scalar(1, default: Int64(0)), -5)
                XCTAssertEqual(try child.float64(2, default: 0), 0.5)
                let vector = try XCTUnwrap(try root.vectorPayload(2, elementSize: 8))
                XCTAssertEqual(vector.range.lowerBound % 8, 0)
                XCTAssertEqual((vector.range.lowerBound - 4) % 4, 0)
            }
        }
    }

    func testOutputIsDeterministicAndIndependentOfFieldOrder() {
        let first = Sample.buffer()
        XCTAssertEqual(first, Sample.buffer())
        var reversed = Sample.spec()
        reversed.fields.reverse()
        XCTAssertEqual(FlatBufferWriter.serialize(root: reversed, fileIdentifier: "TEST").bytes(), first)
    }

    func testIdenticalVTablesAreShared() throws {
        let rows = (0..<3).map { FBTableSpec([(0, .i32(Int32($0))), (1, .u8(1))]) }
        try withReader(FlatBufferWriter.serialize(root: FBTableSpec([(0, .tables(rows))]), fileIdentifier: nil).bytes()) {
            let tables = try XCTUnwrap(try $0.root(fileIdentifier: nil).tables(0))
            XCTAssertEqual(Set(tables.map(\.vtablePosition)).count, 1)
            XCTAssertEqual(try tables.map { try $0.scalar(0, default: Int32(-1)) }, [0, 1, 2])
        }
    }

    func testRootHeaderLayout() throws {
        let buffer = FlatBufferWriter.serialize(root: FBTableSpec([(0, .u32(5))]), fileIdentifier: "TFL3").bytes()
        XCTAssertEqual(Array(buffer[4..<8]), Array("TFL3".utf8))
        try withReader(buffer) { reader in
            let root = try reader.root(fileIdentifier: "TFL3")
            XCTAssertEqual(root.position, Int(buffer[0]))
            XCTAssertGreaterThanOrEqual(root.vtablePosition, 8)
            XCTAssertLessThan(root.vtablePosition, root.position)
        }
    }
}

extension FBTableSpec {
    /// The payload of field 0 when it is a byte vector (test helper).
    fileprivate var fieldsPayload: [UInt8] {
        for field in fields where field.id == 0 {
            if case .byteVector(let slice, _) = field.value { return slice.array }
        }
        return []
    }
}
