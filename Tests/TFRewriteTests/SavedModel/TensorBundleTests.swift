import Foundation
import XCTest

@testable import TFRewrite
@testable import Import

/// The SSTable and tensor-bundle readers on hand-built and on damaged files: every corruption is
/// a one-line error naming the file, never a crash or a wrong tensor.
final class TensorBundleTests: XCTestCase {
    // MARK: - A small SSTable writer (LevelDB table format), independent of the reader

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        return out + [UInt8(v)]
    }

    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }

    /// One block with prefix-compressed keys and a restart point every `restartInterval` entries.
    static func block(_ entries: [([UInt8], [UInt8])], restartInterval: Int = 2) -> [UInt8] {
        var out: [UInt8] = [], restarts: [UInt32] = [], previous: [UInt8] = []
        for (i, (key, value)) in entries.enumerated() {
            var shared = 0
            if i % restartInterval == 0 {
                restarts.append(UInt32(out.count))
            } else {
                while shared < min(key.count, previous.count) && key[shared] == previous[shared] { shared += 1 }
            }
            out += varint(UInt64(shared)) + varint(UInt64(key.count - shared)) + varint(UInt64(value.count))
            out += key[shared...] + value
            previous = key
        }
        if restarts.isEmpty { restarts = [0] }
        return out + restarts.flatMap(le32) + le32(UInt32(restarts.count))
    }

    /// A table: one data block per group of entries, an empty metaindex, the index and footer.
    static func table(_ groups: [[([UInt8], [UInt8])]]) -> [UInt8] {
        var file: [UInt8] = [], index: [([UInt8], [UInt8])] = []
        func append(_ contents: [UInt8]) -> [UInt8] {
            let handle = varint(UInt64(file.count)) + varint(UInt64(contents.count))
            let crc = CRC32C.checksum([0], continuing: CRC32C.checksum(contents))
            file += contents + [0] + le32(CRC32C.mask(crc))
            return handle
        }
        for group in groups { index.append((group.last!.0, append(block(group)))) }
        let meta = append(block([]))
        let indexHandle = append(block(index, restartInterval: 1))
        var footer = meta + indexHandle
        footer += [UInt8](repeating: 0, count: 40 - footer.count)
        footer += le32(0x8b80_fb57) + le32(0xdb47_7524)
        return file + footer
    }

    static func entries(_ bytes: [UInt8]) throws -> [SSTable.Entry] {
        try bytes.withUnsafeBytes { try SSTable.entries($0, path: "t.index") }
    }

    func sample() -> [[([UInt8], [UInt8])]] {
        [
            [(Array("alpha".utf8), [1]), (Array("alphabet".utf8), [2, 2]), (Array("alps".utf8), [3])],
            [(Array("beta".utf8), []), (Array("betamax".utf8), [5])],
        ]
    }

    // MARK: - Tests

    func testCRC32CKnownValues() {
        // RFC 3720 B.4: 32 bytes of zeros → 0x8A9136AA; "123456789" → 0xE3069283.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.unmask(CRC32C.mask(0x1234_5678)), 0x1234_5678)
    }

    func testReadsPrefixCompressedBlocks() throws {
        let got = try Self.entries(Self.table(sample()))
        XCTAssertEqual(got.map { String(decoding: $0.key, as: UTF8.self) }, ["alpha", "alphabet", "alps", "beta", "betamax"])
        XCTAssertEqual(got.map(\.value), [[1], [2, 2], [3], [], [5]])
    }

    func testEmptyDataBlockIsAccepted() throws {
        // A table whose only data block is empty (restart point 0, no entries).
        var file: [UInt8] = []
        let empty = Self.block([])
        file += empty + [0] + Self.le32(CRC32C.mask(CRC32C.checksum([0], continuing: CRC32C.checksum(empty))))
        let index = Self.block([([0x61], Self.varint(0) + Self.varint(UInt64(empty.count)))], restartInterval: 1)
        let indexHandle = Self.varint(UInt64(file.count)) + Self.varint(UInt64(index.count))
        file += index + [0] + Self.le32(CRC32C.mask(CRC32C.checksum([0], continuing: CRC32C.checksum(index))))
        var footer = Self.varint(0) + Self.varint(0) + indexHandle
        footer += [UInt8](repeating: 0, count: 40 - footer.count) + Self.le32(0x8b80_fb57) + Self.le32(0xdb47_7524)
        XCTAssertEqual(try Self.entries(file + footer), [])
    }

    func testEveryTruncationIsAnError() {
        let bytes = Self.table(sample())
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try Self.entries(Array(bytes[..<cut])), "cut at \(cut)") { error in
                XCTAssertTrue("\(error)".hasPrefix("t.index: "), "\(error)")
            }
        }
    }

    func testEveryFlippedByteIsCaught() {
        // A flipped bit in a block or trailer fails its checksum; in the footer, the handles or
        // the magic number. None may give a different table silently.
        let bytes = Self.table(sample())
        let original = try? Self.entries(bytes)
        for i in 0..<bytes.count {
            var damaged = bytes
            damaged[i] ^= 0x10
            if let got = try? Self.entries(damaged) {
                XCTAssertEqual(got, original, "flipping byte \(i) changed the entries without an error")
            }
        }
    }

    func testChecksumMismatchIsNamed() {
        var bytes = Self.table(sample())
        bytes[2] ^= 1
        XCTAssertThrowsError(try Self.entries(bytes)) { error in
            XCTAssertTrue("\(error)".contains("data block 0 (byte 0): checksum mismatch"), "\(error)")
        }
    }

    func testCompressedBlockIsRefused() {
        var bytes = Self.table([[(Array("k".utf8), [1])]])
        // Rewrite block 0's type byte to snappy (1) and fix its CRC so only the type is wrong.
        let blockSize = Self.block([(Array("k".utf8), [1])]).count
        bytes[blockSize] = 1
        let crc = CRC32C.checksum([1], continuing: CRC32C.checksum(Array(bytes[..<blockSize])))
        bytes.replaceSubrange((blockSize + 1)..<(blockSize + 5), with: Self.le32(CRC32C.mask(crc)))
        XCTAssertThrowsError(try Self.entries(bytes)) { error in
            XCTAssertTrue("\(error)".contains("is compressed (type 1, snappy)"), "\(error)")
        }
    }

    func testKeysOutOfOrderAreRefused() {
        let bytes = Self.table([[(Array("b".utf8), [1]), (Array("a".utf8), [2])]])
        XCTAssertThrowsError(try Self.entries(bytes)) { error in
            XCTAssertTrue("\(error)".contains("(corrupt table)"), "\(error)")
        }
    }

    func testPrefixBlowUpIsLimitedByTheMemoryBudget() {
        // Each entry shares its whole predecessor and adds 200 bytes: 2,000 entries in ~0.4 MB
        // describe 400 MB of keys. The block is written by hand (one restart point).
        var contents: [UInt8] = []
        for i in 0..<2000 {
            contents += Self.varint(UInt64(i * 200)) + Self.varint(200) + Self.varint(0)
            contents += [UInt8](repeating: UInt8(65 + i % 26), count: 200)
        }
        contents += Self.le32(0) + Self.le32(1)
        var file = contents + [0] + Self.le32(CRC32C.mask(CRC32C.checksum([0], continuing: CRC32C.checksum(contents))))
        let indexBlock = Self.block([([0xff], Self.varint(0) + Self.varint(UInt64(contents.count)))], restartInterval: 1)
        let indexHandle = Self.varint(UInt64(file.count)) + Self.varint(UInt64(indexBlock.count))
        file += indexBlock + [0] + Self.le32(CRC32C.mask(CRC32C.checksum([0], continuing: CRC32C.checksum(indexBlock))))
        var footer = Self.varint(0) + Self.varint(0) + indexHandle
        footer += [UInt8](repeating: 0, count: 40 - footer.count) + Self.le32(0x8b80_fb57) + Self.le32(0xdb47_7524)
        let saved = MemoryBudget.bytes
        MemoryBudget.bytes = 16 << 20
        defer { MemoryBudget.bytes = saved }
        XCTAssertThrowsError(try Self.entries(file + footer)) { error in
            XCTAssertTrue("\(error)".contains("over the memory budget"), "\(error)")
        }
    }

    // MARK: - The fixtures' bundles

    func copyOfFixture() throws -> URL {
        let dir = try TestPaths.temporaryDirectory().appendingPathComponent("m")
        try FileManager.default.copyItem(at: SavedModelVariablesTests.directory.appendingPathComponent("mlp_cancer_export"), to: dir)
        return dir
    }

    func testFixtureBundleEntriesAndChecksums() throws {
        let dir = try copyOfFixture()
        let bundle = try TensorBundle(prefix: dir.appendingPathComponent("variables/variables").path)
        XCTAssertEqual(bundle.shardCount, 1)
        XCTAssertTrue(bundle.entries.keys.contains("_CHECKPOINTABLE_OBJECT_GRAPH"))
        let floats = bundle.entries.filter { $0.value.dtype == 1 }
        XCTAssertFalse(floats.isEmpty)
        for key in floats.keys.sorted() {
            let t = try bundle.tensor(key)
            XCTAssertEqual(t.content.count, floats[key]!.size, key)
        }
    }

    func testDamagedDataShardIsCaught() throws {
        let dir = try copyOfFixture()
        let shard = dir.appendingPathComponent("variables/variables.data-00000-of-00001")
        var data = [UInt8](try Data(contentsOf: shard))
        let bundle = try TensorBundle(prefix: dir.appendingPathComponent("variables/variables").path)
        // Damage every float tensor, so whichever entries the signature reads are hit.
        let floats = bundle.entries.filter { $0.value.dtype == 1 && $0.value.size > 0 }
        for entry in floats.values { data[entry.offset] ^= 0x01 }
        let (key, entry) = floats.min { $0.key < $1.key }!
        try Data(data).write(to: shard)
        XCTAssertThrowsError(try TensorBundle(prefix: bundle.prefix).tensor(key)) { error in
            XCTAssertTrue("\(error)".contains("variables.data-00000-of-00001: '\(key)' fails its checksum"), "\(error)")
        }
        // The CLI: one line, exit 2, no output.
        if FileManager.default.fileExists(atPath: TestPaths.executable.path) {
            let out = dir.deletingLastPathComponent().appendingPathComponent("out.tflite").path
            let r = try runTool([dir.path, "-o", out])
            XCTAssertEqual(r.status, 2)
            XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: ") && r.stderr.contains("fails its checksum"), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        // Truncated shard.
        try Data(data[..<(entry.offset + 1)]).write(to: shard)
        XCTAssertThrowsError(try TensorBundle(prefix: bundle.prefix).tensor(key)) { error in
            XCTAssertTrue("\(error)".contains("past the end of the"), "\(error)")
        }
        // Missing shard.
        try FileManager.default.removeItem(at: shard)
        XCTAssertThrowsError(try TensorBundle(prefix: bundle.prefix).tensor(key)) { error in
            XCTAssertTrue("\(error)".contains("cannot read the variables data shard"), "\(error)")
        }
    }

    func testTruncatedFixtureIndexIsAnError() throws {
        let dir = try copyOfFixture()
        let index = dir.appendingPathComponent("variables/variables.index")
        let bytes = [UInt8](try Data(contentsOf: index))
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            XCTAssertThrowsError(try Array(bytes[..<cut]).withUnsafeBytes { try TensorBundle.parseIndex($0, path: "v.index") }, "cut \(cut)")
        }
        try Data(bytes[..<(bytes.count / 2)]).write(to: index)
        if FileManager.default.fileExists(atPath: TestPaths.executable.path) {
            let r = try runTool([dir.path, "-o", dir.appendingPathComponent("o.tflite").path])
            XCTAssertEqual(r.status, 2)
            XCTAssertTrue(r.stderr.contains("variables/variables.index: "), r.stderr)
        }
    }
}
