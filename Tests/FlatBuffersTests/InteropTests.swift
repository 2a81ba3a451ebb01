import FlatBuffers
import Foundation
import XCTest

/// Buffers from other writers: the reader must not assume our own forward layout.
final class InteropTests: XCTestCase {
    func testReadsVTablePlacedAfterItsTable() throws {
        // The soffset is signed; a negative one puts the vtable after the table, as FlatBuffers'
        // vtable deduplication can produce.
        var buffer: [UInt8] = []
        buffer += [8, 0, 0, 0] + Array("HAND".utf8)
        buffer += [0xF4, 0xFF, 0xFF, 0xFF]        // byte 8: soffset -12 → vtable at 20
        buffer += [0x44, 0x33, 0x22, 0x11]        // byte 12: field 0, uint32
        buffer += [0xFE, 0xFF, 0, 0]              // byte 16: field 1, int16 -2
        buffer += [8, 0, 12, 0, 4, 0, 8, 0]       // byte 20: vtable
        try withReader(buffer) { reader in
            let root = try reader.root(fileIdentifier: "HAND")
            XCTAssertEqual(root.position, 8)
            XCTAssertEqual(root.vtablePosition, 20)
            XCTAssertEqual(root.inlineSize, 12)
            XCTAssertEqual(root.rawVTableEntries(), [4, 8])
            XCTAssertEqual(Array(root.rawInlineBytes()), [0x44, 0x33, 0x22, 0x11, 0xFE, 0xFF, 0, 0])
            XCTAssertEqual(try root.scalar(0, default: UInt32(0)), 0x1122_3344)
            XCTAssertEqual(try root.scalar(1, default: Int16(0)), -2)
        }
    }

    /// A model written by TensorFlow's converter (a back-to-front FlatBuffers builder), read
    /// schema-free: only the root's field 0 (a uint32 that is 3 in every such file) is checked.
    func testReadsConverterOutput() throws {
        let fixtures = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
        let path = fixtures.appendingPathComponent("micro_speech_int8.tflite").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("fixture missing: \(path)") }
        let storage = try ByteStorage.map(path: path)
        let reader = FlatBufferReader(storage.bytes)
        XCTAssertEqual(reader.fileIdentifier, "TFL3")
        let root = try reader.root(fileIdentifier: "TFL3")
        XCTAssertEqual(try root.scalar(0, default: UInt32(0)), 3)
        probeEverything(root)
    }
}
