import FlatBuffers
import XCTest

/// Each test corrupts one thing in a valid buffer and checks the exact error kind and offset.
final class MalformedBufferTests: XCTestCase {
    private let valid = Sample.buffer()

    /// Positions inside the valid sample buffer, found with the reader itself.
    private struct Landmarks {
        var root = 0, rootVTable = 0, rootInlineSize = 0
        var nameSlot = 0, nameTarget = 0
        var longsSlot = 0, longsTarget = 0
        var itemsTarget = 0
        var labelsTarget = 0
        var versionEntry = 0
    }

    private func landmarks() throws -> Landmarks {
        try withReader(valid) { reader in
            let root = try reader.root(fileIdentifier: "TEST")
            func target(_ id: Int) throws -> (Int, Int) {
                let slot = try XCTUnwrap(root.fieldPosition(id))
                return (slot, slot + Int(readU32(valid, slot)))
            }
            var marks = Landmarks()
            marks.root = root.position
            marks.rootVTable = root.vtablePosition
            marks.rootInlineSize = root.inlineSize
            (marks.nameSlot, marks.nameTarget) = try target(Sample.name)
            (marks.longsSlot, marks.longsTarget) = try target(Sample.longs)
            marks.itemsTarget = try target(Sample.items).1
            marks.labelsTarget = try target(Sample.labels).1
            marks.versionEntry = root.vtablePosition + 4 + 2 * Sample.version
            return marks
        }
    }

    private func corrupted(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = valid
        edit(&copy)
        return copy
    }

    private func root(_ buffer: [UInt8], _ body: (FBTable) throws -> Void = { _ in }) throws {
        try withReader(buffer) { try body(try $0.root(fileIdentifier: "TEST")) }
    }

    func testEmptyBufferIsTruncated() {
        assertThrowsFlatBufferError(.truncated, at: 0) { try self.root([]) }
    }

    func testSevenByteBufferIsTruncated() {
        assertThrowsFlatBufferError(.truncated, at: 0) { try self.root(Array(self.valid.prefix(7))) }
    }

    func testTruncatedAtSeveralPointsFails() throws {
        let marks = try landmarks()
        for cut in [8, marks.root + 2, marks.nameTarget + 6, valid.count / 2, valid.count - 1] {
            XCTAssertThrowsError(try withReader(Array(valid.prefix(cut))) { try readSample($0) }, "cut at \(cut)")
        }
        // Cutting inside the root table itself is reported against the table.
        assertThrowsFlatBufferError(.truncated, at: marks.root) {
            try self.root(Array(self.valid.prefix(marks.root + marks.rootInlineSize - 1)))
        }
    }

    func testBadFileIdentifier() {
        assertThrowsFlatBufferError(.badFileIdentifier, at: 4) { try self.root(self.corrupted { $0[5] = 0x7F }) }
        assertThrowsFlatBufferError(.badFileIdentifier, at: 4) {
            try withReader(self.valid) { _ = try $0.root(fileIdentifier: "TES") }
        }
        XCTAssertNoThrow(try withReader(valid) { _ = try $0.root(fileIdentifier: nil) })
    }

    func testRootOffsetPastEnd() {
        let count = valid.count
        assertThrowsFlatBufferError(.offsetOutOfRange, at: 0) {
            try self.root(self.corrupted { writeU32(&$0, 0, UInt32(count - 3)) })
        }
        assertThrowsFlatBufferError(.offsetOutOfRange, at: 0) {
            try self.root(self.corrupted { writeU32(&$0, 0, .max) })
        }
    }

    func testVTableOffsetOutOfRange() throws {
        let marks = try landmarks()
        // soffset larger than the table position puts the vtable before byte 0.
        assertThrowsFlatBufferError(.vtableOutOfRange, at: marks.root) {
            try self.root(self.corrupted { writeU32(&$0, marks.root, UInt32(marks.root + 1)) })
        }
        // A very negative soffset puts it past the end.
        assertThrowsFlatBufferError(.vtableOutOfRange, at: marks.root) {
            try self.root(self.corrupted { writeU32(&$0, marks.root, UInt32(bitPattern: Int32.min)) })
        }
    }

    func testOddVTableSize() throws {
        let marks = try landmarks()
        assertThrowsFlatBufferError(.vtableMalformed, at: marks.rootVTable) {
            try self.root(self.corrupted { $0[marks.rootVTable] |= 1 })
        }
    }

    func testVTableSizeBelowFour() throws {
        let marks = try landmarks()
        assertThrowsFlatBufferError(.vtableMalformed, at: marks.rootVTable) {
            try self.root(self.corrupted { writeU16(&$0, marks.rootVTable, 2) })
        }
    }

    func testVTableSizePastEnd() throws {
        let marks = try landmarks()
        assertThrowsFlatBufferError(.vtableOutOfRange, at: marks.rootVTable) {
            try self.root(self.corrupted { writeU16(&$0, marks.rootVTable, 0xFFFE) })
        }
    }

    func testInlineSizeBelowFour() throws {
        let marks = try landmarks()
        assertThrowsFlatBufferError(.vtableMalformed, at: marks.rootVTable + 2) {
            try self.root(self.corrupted { writeU16(&$0, marks.rootVTable + 2, 3) })
        }
    }

    func testFieldOffsetPastInlineSize() throws {
        let marks = try landmarks()
        assertThrowsFlatBufferError(.vtableMalformed, at: marks.versionEntry) {
            try self.root(self.corrupted { writeU16(&$0, marks.versionEntry, UInt16(marks.rootInlineSize)) })
        }
        // Offsets 1...3 would overlap the soffset.
        assertThrowsFlatBufferError(.vtableMalformed, at: marks.versionEntry) {
            try self.root(self.corrupted { writeU16(&$0, marks.versionEntry, 2) })
        }
    }

    func testFieldBytesPastInlineRegion() throws {
        let marks = try landmarks()
        // The last inline byte is a legal offset for a 1-byte field but not for a uint32.
        let buffer = corrupted { writeU16(&$0, marks.versionEntry, UInt16(marks.rootInlineSize - 1)) }
        try root(buffer) { table in
            XCTAssertNoThrow(try table.scalar(Sample.version, default: UInt8(0)))
            assertThrowsFlatBufferError(.vtableMalformed, at: marks.versionEntry) {
                _ = try table.scalar(Sample.version, default: UInt32(0))
            }
            assertThrowsFlatBufferError(.vtableMalformed, at: marks.versionEntry) {
                _ = try table.string(Sample.version)
            }
        }
    }

    func testStringOffsetPastEnd() throws {
        let marks = try landmarks()
        let buffer = corrupted { writeU32(&$0, marks.nameSlot, UInt32($0.count - marks.nameSlot)) }
        try root(buffer) { table in
            assertThrowsFlatBufferError(.offsetOutOfRange, at: marks.nameSlot) { _ = try table.string(Sample.name) }
            assertThrowsFlatBufferError(.offsetOutOfRange, at: marks.nameSlot) { _ = try table.table(Sample.name) }
        }
    }

    func testStringLengthPastEnd() throws {
        let marks = try landmarks()
        let buffer = corrupted { writeU32(&$0, marks.nameTarget, .max) }
        try root(buffer) { table in
            assertThrowsFlatBufferError(.stringOutOfRange, at: marks.nameTarget) { _ = try table.string(Sample.name) }
        }
    }

    func testStringWithoutTerminator() throws {
        let marks = try landmarks()
        let length = Int(readU32(valid, marks.nameTarget))
        let terminator = marks.nameTarget + 4 + length
        try root(corrupted { $0[terminator] = 0x21 }) { table in
            assertThrowsFlatBufferError(.missingStringTerminator, at: terminator) { _ = try table.string(Sample.name) }
        }
        // A string whose bytes end exactly at the end of the buffer has no room for the NUL.
        try withReader(Array(valid.prefix(terminator))) { reader in
            // The root table still verifies; only the string read fails.
            let table = try reader.root(fileIdentifier: "TEST")
            assertThrowsFlatBufferError(.missingStringTerminator, at: terminator) { _ = try table.string(Sample.name) }
        }
    }

    func testInvalidUTF8() throws {
        let marks = try landmarks()
        try root(corrupted { $0[marks.nameTarget + 4] = 0xFF }) { table in
            assertThrowsFlatBufferError(.invalidUTF8, at: marks.nameTarget) { _ = try table.string(Sample.name) }
        }
        // In a vector of strings the error names the element.
        let labelTarget: Int = {
            let slot = marks.labelsTarget + 4
            return slot + Int(readU32(valid, slot))
        }()
        try root(corrupted { $0[labelTarget + 4] = 0xC3 }) { table in
            do {
                _ = try table.strings(Sample.labels)
                XCTFail("expected invalid UTF-8")
            } catch let error as FlatBufferError {
                XCTAssertEqual(error, FlatBufferError(kind: .invalidUTF8, offset: labelTarget, context: "[0]"))
            }
        }
    }

    func testVectorLengthPastEnd() throws {
        let marks = try landmarks()
        try root(corrupted { writeU32(&$0, marks.longsTarget, 1000) }) { table in
            assertThrowsFlatBufferError(.vectorOutOfRange, at: marks.longsTarget) {
                _ = try table.scalars(Sample.longs, as: Int64.self)
            }
        }
    }

    func testVectorLengthTimesSizeOverflow() throws {
        let marks = try landmarks()
        try root(corrupted { writeU32(&$0, marks.longsTarget, 0xFFFF_FFFF) }) { table in
            assertThrowsFlatBufferError(.vectorOutOfRange, at: marks.longsTarget) {
                _ = try table.scalars(Sample.longs, as: Int64.self)
            }
            // An element size that makes count * size overflow Int must not trap.
            assertThrowsFlatBufferError(.vectorOutOfRange, at: marks.longsTarget) {
                _ = try table.vectorPayload(Sample.longs, elementSize: Int.max / 2)
            }
            do {
                _ = try table.scalars(Sample.longs, as: Int64.self)
            } catch let error as FlatBufferError {
                XCTAssertTrue(error.description.hasPrefix("vector length 4294967295 runs past the end of the file at byte"))
                XCTAssertEqual(
                    error.inContext("Model.buffers").description,
                    "vector length 4294967295 runs past the end of the file at byte \(marks.longsTarget) (Model.buffers)")
            }
        }
    }

    func testVectorOffsetPastEnd() throws {
        let marks = try landmarks()
        try root(corrupted { writeU32(&$0, marks.longsSlot, 0xFFFF_FF00) }) { table in
            assertThrowsFlatBufferError(.offsetOutOfRange, at: marks.longsSlot) {
                _ = try table.scalars(Sample.longs, as: Int64.self)
            }
        }
    }

    func testTableVectorElementOutOfRange() throws {
        let marks = try landmarks()
        let secondSlot = marks.itemsTarget + 8
        try root(corrupted { writeU32(&$0, secondSlot, 0x7FFF_FFFF) }) { table in
            do {
                _ = try table.tables(Sample.items)
                XCTFail("expected an error")
            } catch let error as FlatBufferError {
                XCTAssertEqual(error, FlatBufferError(kind: .offsetOutOfRange, offset: secondSlot, context: "[1]"))
                XCTAssertEqual(error.inContext("Root.items").context, "Root.items[1]")
            }
        }
    }

    func testTableAtInvalidPositions() {
        withReader(valid) { reader in
            for position in [-4, Int.min, reader.bytes.count - 3, Int.max] {
                assertThrowsFlatBufferError(.offsetOutOfRange, at: position) {
                    _ = try reader.table(at: position, context: "nested")
                }
            }
        }
    }

    func testErrorContextIsRootForRootTable() throws {
        let marks = try landmarks()
        do {
            try root(corrupted { $0[marks.rootVTable] |= 1 })
            XCTFail("expected an error")
        } catch let error as FlatBufferError {
            XCTAssertEqual(error.context, "root")
            XCTAssertTrue(error.description.hasSuffix("at byte \(marks.rootVTable) (root)"), error.description)
        }
    }
}

func readU32(_ buffer: [UInt8], _ at: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(buffer[at + $1]) << (8 * $1) }
}

func writeU32(_ buffer: inout [UInt8], _ at: Int, _ value: UInt32) {
    for index in 0..<4 { buffer[at + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
}

func writeU16(_ buffer: inout [UInt8], _ at: Int, _ value: UInt16) {
    for index in 0..<2 { buffer[at + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
}
