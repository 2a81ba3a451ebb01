import FlatBuffers
import XCTest

final class RawTableTests: XCTestCase {
    /// An "options" table with scalars of every width and one string reference, as an importer
    /// would meet for an op it does not model.
    private func sourceBuffer(leadingPadding: Int) -> [UInt8] {
        let options = FBTableSpec([
            (0, .i64(-77)), (1, .f32(2.5)), (2, .string("old")), (3, .u8(9)), (5, .i16(-2)), (6, .f64(1e300)),
        ])
        return FlatBufferWriter.serialize(
            root: FBTableSpec([(0, .string(String(repeating: "x", count: leadingPadding))), (1, .table(options))]),
            fileIdentifier: nil
        ).bytes()
    }

    func testRawCopyKeepsValuesAndAlignment() throws {
        for padding in 0..<6 {
            try withReader(sourceBuffer(leadingPadding: padding)) { source in
                let original = try XCTUnwrap(try source.root(fileIdentifier: nil).table(1))
                let raw = FBRawTable(copying: original)
                XCTAssertEqual(raw.vtable, original.rawVTableEntries())
                XCTAssertEqual(raw.inline.count, original.inlineSize - 4)
                XCTAssertEqual(raw.originalPosition, original.position)

                let copySpec = FBTableSpec(raw: raw, references: [(2, .string("new"))])
                let root = FBTableSpec([(0, .string("shift")), (1, .table(copySpec))])
                try withReader(FlatBufferWriter.serialize(root: root, fileIdentifier: nil).bytes()) { output in
                    let copy = try XCTUnwrap(try output.root(fileIdentifier: nil).table(1))
                    XCTAssertEqual(copy.position % 8, original.position % 8)
                    XCTAssertEqual(copy.rawVTableEntries(), original.rawVTableEntries())
                    XCTAssertEqual(copy.inlineSize, original.inlineSize)
                    XCTAssertEqual(try copy.scalar(0, default: Int64(0)), -77)
                    XCTAssertEqual(try XCTUnwrap(copy.fieldPosition(0)) % 8, 0)
                    XCTAssertEqual(try copy.float32(1, default: 0), 2.5)
                    XCTAssertEqual(try copy.string(2), "new")
                    XCTAssertEqual(try copy.scalar(3, default: UInt8(0)), 9)
                    XCTAssertFalse(copy.has(4))
                    XCTAssertEqual(try copy.scalar(5, default: Int16(0)), -2)
                    XCTAssertEqual(try copy.float64(6, default: 0), 1e300)
                }
            }
        }
    }

    func testRawCopyAppendsFieldsWithoutASlot() throws {
        let raw = FBRawTable(vtable: [4, 0], inline: [0x2A, 0, 0, 0], originalPosition: 12)
        let spec = FBTableSpec(raw: raw, references: [
            (1, .string("added")), (4, .i64(5)), (0, .u8(7)),
        ])
        try withReader(FlatBufferWriter.serialize(root: spec, fileIdentifier: nil).bytes()) { reader in
            let table = try reader.root(fileIdentifier: nil)
            XCTAssertEqual(table.position % 8, 4)
            // Field 0's existing 4-byte slot is overwritten in place by the 1-byte value.
            XCTAssertEqual(table.fieldPosition(0), table.position + 4)
            XCTAssertEqual(try table.scalar(0, default: UInt8(0)), 7)
            XCTAssertEqual(try table.string(1), "added")
            XCTAssertEqual(try table.scalar(4, default: Int64(0)), 5)
            XCTAssertEqual(try XCTUnwrap(table.fieldPosition(4)) % 8, 0)
            XCTAssertEqual(table.fieldCount, 5)
        }
    }

    func testRawCopyFromUnalignedSourceStillAlignsTheTable() throws {
        let raw = FBRawTable(vtable: [4], inline: [1, 2, 3, 4], originalPosition: 13)
        try withReader(FlatBufferWriter.serialize(root: FBTableSpec(raw: raw), fileIdentifier: nil).bytes()) { reader in
            let table = try reader.root(fileIdentifier: nil)
            XCTAssertEqual(table.position % 8, 4)
            XCTAssertEqual(try table.scalar(0, default: UInt32(0)), 0x0403_0201)
        }
    }
}
