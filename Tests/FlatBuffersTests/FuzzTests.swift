import FlatBuffers
import XCTest

/// Corrupts a valid buffer in many seeded ways and reads everything: the reader may throw but
/// must never trap, read out of bounds (run under `-sanitize=address` to check) or loop.
final class FuzzTests: XCTestCase {
    private let valid = Sample.buffer()

    private func readEverything(_ buffer: [UInt8]) {
        withReader(buffer) { reader in
            _ = reader.fileIdentifier
            _ = try? readSample(reader)
            if let root = try? reader.root(fileIdentifier: nil) {
                probeEverything(root)
            }
            for position in stride(from: 0, to: buffer.count, by: 3) {
                if let table = try? reader.table(at: position, context: "") {
                    probeEverything(table, depth: 3)
                }
            }
        }
    }

    func testValidBufferReadsCleanly() throws {
        try withReader(valid) { try readSample($0) }
        readEverything(valid)
    }

    func testEveryTruncation() {
        for length in 0..<valid.count {
            readEverything(Array(valid.prefix(length)))
        }
    }

    func testEveryByteFlipped() {
        var random = SplitMix64(seed: 0x5EED)
        for position in 0..<valid.count {
            var copy = valid
            copy[position] ^= UInt8.random(in: 1...255, using: &random)
            readEverything(copy)
            copy[position] = 0xFF
            readEverything(copy)
        }
    }

    func testRandomMultiByteCorruption() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<500 {
            var copy = valid
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let position = Int.random(in: 0..<copy.count, using: &random)
                copy[position] = UInt8.random(in: 0...255, using: &random)
            }
            if Bool.random(using: &random) {
                copy.removeLast(Int.random(in: 0..<copy.count, using: &random))
            }
            readEverything(copy)
        }
    }

    func testRandomGarbage() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let garbage = (0..<Int.random(in: 0..<200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            readEverything(garbage)
        }
    }
}
