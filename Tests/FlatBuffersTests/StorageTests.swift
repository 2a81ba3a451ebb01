@testable import FlatBuffers
import Foundation
import XCTest

final class StorageTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fbtests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func file(_ name: String, _ contents: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(contents).write(to: url)
        return url.path
    }

    func testMapReadsFileContents() throws {
        let contents = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let storage = try ByteStorage.map(path: try file("data.bin", contents))
        XCTAssertEqual(storage.count, contents.count)
        XCTAssertNotNil(storage.fileDescriptor)
        XCTAssertEqual(Array(storage.bytes), contents)
        let slice = ByteSlice(storage: storage, range: 100..<200)
        XCTAssertEqual(slice.array, Array(contents[100..<200]))
    }

    func testMapEmptyFile() throws {
        let storage = try ByteStorage.map(path: try file("empty.bin", []))
        XCTAssertEqual(storage.count, 0)
        XCTAssertNil(storage.fileDescriptor)
        XCTAssertEqual(ByteSlice(storage: storage, range: 0..<0).array, [])
    }

    func testMapMissingFileThrows() {
        let path = directory.appendingPathComponent("missing.bin").path
        XCTAssertThrowsError(try ByteStorage.map(path: path)) { error in
            let fileError = error as? FileError
            XCTAssertEqual(fileError?.path, path)
            XCTAssertEqual(fileError?.message, "cannot open: No such file or directory")
            XCTAssertEqual(fileError?.description, "\(path): cannot open: No such file or directory")
        }
        XCTAssertThrowsError(try ByteStorage.map(path: directory.path)) { error in
            XCTAssertEqual((error as? FileError)?.message, "cannot read: is a directory")
        }
    }

    func testMappedModelReadsInPlace() throws {
        let storage = try ByteStorage.map(path: try file("model.bin", Sample.buffer()))
        let reader = FlatBufferReader(storage.bytes)
        XCTAssertEqual(try reader.root(fileIdentifier: "TEST").string(Sample.name), "hello, wörld")
    }

    func testByteSliceEqualityAndHashAreByContent() {
        let big = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        let a = ByteSlice(big)
        let b = ByteSlice(storage: ByteStorage([0, 0] + big), range: 2..<1002)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.hashValue, b.hashValue)
        var middleChanged = big
        middleChanged[500] ^= 1
        XCTAssertNotEqual(a, ByteSlice(middleChanged))
        XCTAssertNotEqual(a, ByteSlice(Array(big.dropLast())))
        XCTAssertEqual(ByteSlice([]), ByteSlice(storage: ByteStorage([1, 2]), range: 1..<1))
        XCTAssertEqual(Set([a, b, ByteSlice([1])]).count, 2)
        XCTAssertTrue(ByteSlice([]).isEmpty)
        XCTAssertEqual(b.count, 1000)
    }

    func testCopyFileRangeCopiesBetweenFiles() throws {
        let contents = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let storage = try ByteStorage.map(path: try file("source.bin", contents))
        let outputPath = directory.appendingPathComponent("copy.bin").path
        let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let copied = SystemIO.copyRange(from: try XCTUnwrap(storage.fileDescriptor), offset: 1000, count: 3000, to: fd)
        close(fd)
        #if os(Linux)
        XCTAssertEqual(copied, 3000, "copy_file_range should work between two files in one directory")
        #endif
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: outputPath))), Array(contents[1000..<(1000 + copied)]))
    }

    func testWriteWithMappedPayloadMatchesBytes() throws {
        let weights = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let storage = try ByteStorage.map(path: try file("weights.bin", [1, 2, 3] + weights))
        var buffers = [FBTableSpec([(0, .byteVector(ByteSlice(storage: storage, range: 3..<(3 + 40_000)), alignment: 16))])]
        buffers.append(FBTableSpec([(0, .byteVector(ByteSlice([5, 6, 7]), alignment: 16))]))
        buffers.append(FBTableSpec([(0, .byteVector(ByteSlice(storage: storage, range: 40_003..<70_003), alignment: 16))]))
        let output = FlatBufferWriter.serialize(root: FBTableSpec([(0, .tables(buffers)), (1, .string("m"))]), fileIdentifier: "TFL3")

        let path = directory.appendingPathComponent("out.tflite").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        try output.write(to: fd, path: path)
        close(fd)
        let written = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(written.count, output.totalSize)
        XCTAssertEqual(written, output.bytes())

        let reread = try ByteStorage.map(path: path)
        let tables = try XCTUnwrap(try FlatBufferReader(reread.bytes).root(fileIdentifier: "TFL3").tables(0))
        let last = try XCTUnwrap(try tables[2].vectorPayload(0, elementSize: 1))
        XCTAssertEqual(last.range.lowerBound % 16, 0)
        XCTAssertEqual(Array(reread.bytes[last.range]), Array(weights[40_000...]))
    }

    func testWriteToPipeFallsBackToWrite() throws {
        let storage = try ByteStorage.map(path: try file("w.bin", Array(repeating: 0xAB, count: 1000)))
        let output = FlatBufferWriter.serialize(
            root: FBTableSpec([(0, .byteVector(ByteSlice(storage: storage, range: 0..<1000), alignment: 16))]),
            fileIdentifier: nil)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]) }
        try output.write(to: fds[1], path: "pipe")
        close(fds[1])
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if got <= 0 { break }
            received += chunk[0..<got]
        }
        XCTAssertEqual(received, output.bytes())
    }

    func testWriteToClosedDescriptorThrows() {
        let output = FlatBufferWriter.serialize(root: FBTableSpec(), fileIdentifier: nil)
        XCTAssertThrowsError(try output.write(to: -1, path: "bad")) { error in
            XCTAssertTrue((error as? FileError)?.message.hasPrefix("cannot write") ?? false, "\(error)")
        }
    }
}
