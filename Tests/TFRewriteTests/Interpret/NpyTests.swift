import Foundation
import XCTest

@testable import TFRewrite

/// .npy / .npz reading and writing, including hand-made malformed files.
final class NpyTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("npy-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// A .npy image with a given header text and data, version 1 (or 2/3).
    private func npy(_ header: String, _ data: [UInt8], version: UInt8 = 1) -> [UInt8] {
        var h = Array(header.utf8)
        let prefix = version == 1 ? 10 : 12
        while (prefix + h.count + 1) % 64 != 0 { h.append(0x20) }
        h.append(0x0A)
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
        let n = h.count
        out += version == 1 ? [UInt8(n & 0xff), UInt8(n >> 8)] : [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), 0, 0]
        return out + h + data
    }

    private func expectError(_ bytes: [UInt8], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Npy.decode(bytes, path: "x.npy"), file: file, line: line) { error in
            XCTAssertEqual("\(error)", "x.npy: \(message)", file: file, line: line)
        }
    }

    func testRoundTripEveryDType() throws {
        for dtype in NpyDType.allCases {
            let a = NpyArray(dtype: dtype, shape: [2, 3], data: (0..<(6 * dtype.itemSize)).map { UInt8($0 % 2) })
            XCTAssertEqual(try Npy.decode(Npy.encode(a), path: "t"), a, dtype.rawValue)
            XCTAssertEqual(Npy.encode(a).count % 64, 6 * dtype.itemSize % 64, "header padded to 64 bytes")
        }
        let scalar = NpyArray(dtype: .float32, shape: [], data: [0, 0, 0x80, 0x3F])
        XCTAssertEqual(try Npy.decode(Npy.encode(scalar), path: "t").tensor()?.floats, [1])
        let vector = NpyArray(dtype: .int8, shape: [3], data: [1, 2, 255])
        XCTAssertTrue(String(decoding: Npy.encode(vector)[10..<70], as: UTF8.self).contains("'shape': (3,)"))
        XCTAssertEqual(try Npy.decode(Npy.encode(vector), path: "t").tensor()?.int8s, [1, 2, -1])
    }

    func testReadsNumpyWrittenFixture() throws {
        let a = try Npy.read(path: InterpreterTestSupport.fixtures.appendingPathComponent("expected/ds_cnn_int8_tflm.npy").path)
        XCTAssertEqual(a.dtype, .int8)
        XCTAssertEqual(a.shape, [10, 1, 12])
        let f = try Npy.read(path: InterpreterTestSupport.fixtures.appendingPathComponent("expected/ds_cnn_float_inputs.npy").path)
        XCTAssertEqual(f.dtype, .float32)
        XCTAssertEqual(f.shape, [10, 1, 49, 10])
    }

    func testHeaderVersions2And3AndVariants() throws {
        let data: [UInt8] = [1, 0, 2, 0]
        for v: UInt8 in [2, 3] {
            let a = try Npy.decode(npy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", data, version: v), path: "t")
            XCTAssertEqual(a.tensor()?.int16s, [1, 2])
        }
        // Double quotes, no trailing comma, keys in another order, Python-2 long suffix.
        let b = try Npy.decode(npy("{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<i2\"}", data), path: "t")
        XCTAssertEqual(b.shape, [2])
        // float64 converts to float32 on request.
        let d = try Npy.decode(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0, 0, 0, 0xF8, 0x3F]), path: "t")
        XCTAssertEqual(d.tensor(convertingTo: .float32)?.floats, [1.5])
        XCTAssertNil(d.tensor(convertingTo: .int8))
    }

    func testMalformedFilesGiveClearErrors() {
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
        expectError([1, 2, 3], "not a .npy file (missing the \\x93NUMPY magic)")
        expectError(Array("hello world, not numpy".utf8), "not a .npy file (missing the \\x93NUMPY magic)")
        var badVersion = npy(ok, [UInt8](repeating: 0, count: 8))
        badVersion[6] = 9
        expectError(badVersion, "unsupported .npy format version 9.0")
        var longHeader = npy(ok, [])
        longHeader[8] = 0xFF; longHeader[9] = 0xFF
        expectError(longHeader, "header claims 65535 bytes but the file has 118 after the length field")
        expectError(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", [UInt8](repeating: 0, count: 8)),
                    "fortran_order arrays are not supported; save a C-order array")
        expectError(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", [UInt8](repeating: 0, count: 8)),
                    "big-endian data ('>f4') is not supported; save it little-endian")
        expectError(npy("{'descr': '<U5', 'fortran_order': False, 'shape': (2,), }", []),
                    "unsupported dtype '<U5' (supported: <f4 <f8 |i1 |u1 <i2 <i4 <i8 <u4 <u8 |b1)")
        expectError(npy(ok, [0, 0, 0]), "data is 3 bytes but shape [2] of <f4 needs 8")
        expectError(npy("{'descr': '<f4', 'shape': (2,), }", []), "bad header: missing fortran_order")
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", []), "bad header: unexpected character '-'")
        expectError(npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", []), "bad header: unexpected word 'Maybe'")
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", []), "bad header: unexpected end")
        expectError(npy("('descr', 1)", []), "bad header: expected a '{' dict")
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }", []),
                    "shape [99999999999, 99999999999, 99999999999] is too large")
        expectError(npy("{'descr: '<f4'}", []), "bad header: unexpected character '<'")
        expectError(npy("{'descr' '<f4'}", []), "bad header: expected ':' after 'descr'")
    }

    /// Never traps: every prefix of a valid file and random byte flips either decode or throw.
    func testTruncationsAndCorruptionNeverTrap() {
        let good = Npy.encode(NpyArray(dtype: .int32, shape: [3, 2], data: [UInt8](repeating: 7, count: 24)))
        for n in 0..<good.count { _ = try? Npy.decode(Array(good[0..<n]), path: "t") }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var b = good
            for _ in 0..<3 { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            _ = try? Npy.decode(b, path: "t")
            _ = try? Npy.decodeNpz(b, path: "t")
        }
    }

    // MARK: .npz

    func testNpzRoundTrip() throws {
        let a = NpyArray(dtype: .float32, shape: [2], data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])
        let b = NpyArray(dtype: .int8, shape: [1, 3], data: [1, 2, 3])
        let path = dir.appendingPathComponent("x.npz").path
        try Npy.writeNpz([("first", a), ("second", b)], path: path)
        let read = try Npy.readNpz(path: path)
        XCTAssertEqual(read.map(\.name), ["first", "second"])
        XCTAssertEqual(read.map(\.array), [a, b])
    }

    /// numpy's np.savez output (zip64 local headers, force_zip64): made with numpy 2.4 by
    /// `np.savez(f, x=np.arange(3, dtype=np.int16))`, stored here byte for byte.
    func testReadsNumpySavez() throws {
        let bytes = Self.numpySavezImage
        let members = try Npy.decodeNpz(bytes, path: "np.npz")
        XCTAssertEqual(members.map(\.name), ["x"])
        XCTAssertEqual(members[0].array.tensor()?.int16s, [0, 1, 2])
    }

    func testCompressedAndCorruptNpzAreRejected() throws {
        var bytes = try Zip.storedArchive([("w.npy", Npy.encode(NpyArray(dtype: .int8, shape: [2], data: [1, 2])))])
        // Central directory compression method → 8 (deflate): the stored bytes are no deflate
        // stream of the declared size. Method 12 (bzip2) is not read at all.
        let cd = bytes.indices.first { i in i + 4 <= bytes.count && bytes[i..<(i + 4)].elementsEqual([0x50, 0x4B, 1, 2]) }!
        var deflated = bytes
        deflated[cd + 10] = 8
        XCTAssertThrowsError(try Npy.decodeNpz(deflated, path: "c.npz")) {
            XCTAssertTrue("\($0)".hasPrefix("c.npz: member 'w.npy': "), "\($0)")
        }
        var bzip2 = bytes
        bzip2[cd + 10] = 12
        XCTAssertThrowsError(try Npy.decodeNpz(bzip2, path: "c.npz")) {
            XCTAssertEqual("\($0)", "c.npz: member 'w.npy' is compressed with method 12; only stored and deflated members (np.savez, np.savez_compressed) are supported")
        }
        // Flip a data byte: the CRC check catches it.
        let dataByte = 30 + "w.npy".utf8.count + 64
        bytes[dataByte] ^= 0xFF
        XCTAssertThrowsError(try Npy.decodeNpz(bytes, path: "c.npz")) {
            XCTAssertEqual("\($0)", "c.npz: member 'w.npy' fails its CRC-32 check")
        }
        XCTAssertThrowsError(try Npy.decodeNpz(Array(repeating: 0, count: 100), path: "z.npz")) {
            XCTAssertEqual("\($0)", "z.npz: not a zip archive (no end-of-central-directory record)")
        }
        // A member that is not a valid .npy names the member.
        let junk = try Zip.storedArchive([("bad.npy", [1, 2, 3])])
        XCTAssertThrowsError(try Npy.decodeNpz(junk, path: "j.npz")) {
            XCTAssertEqual("\($0)", "j.npz[bad.npy]: not a .npy file (missing the \\x93NUMPY magic)")
        }
    }

    func testFolderLoadsSortedByName() throws {
        let folder = dir.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Npy.write(NpyArray(dtype: .int8, shape: [1], data: [2]), path: folder.appendingPathComponent("b.npy").path)
        try Npy.write(NpyArray(dtype: .int8, shape: [1], data: [1]), path: folder.appendingPathComponent("a.npy").path)
        try Data("ignored".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        let loaded = try Npy.load(path: folder.path)
        XCTAssertEqual(loaded.map(\.name), ["a", "b"])
        XCTAssertEqual(loaded.map { $0.array.data }, [[1], [2]])
        XCTAssertThrowsError(try Npy.load(path: dir.appendingPathComponent("missing.npy").path)) {
            XCTAssertTrue("\($0)".hasSuffix("missing.npy: no such file or folder"))
        }
    }

    /// np.savez(f, x=np.arange(3, dtype=np.int16)) with numpy 2.4.6 (zip64 extra fields in the
    /// local header, as numpy's force_zip64 writes them).
    static let numpySavezImage: [UInt8] = {
        let hex = """
        504b03042d0000000000000021006acff251ffffffffffffffff05001400782e6e707901001000860000000000000086
        00000000000000934e554d5059010076007b276465736372273a20273c6932272c2027666f727472616e5f6f72646572
        273a2046616c73652c20277368617065273a2028332c292c207d20202020202020202020202020202020202020202020
        20202020202020202020202020202020202020202020202020202020202020202020202020200a000001000200504b01
        022d032d0000000000000021006acff2518600000086000000050000000000000000000000800100000000782e6e7079
        504b0506000000000100010033000000bd0000000000
        """
        return InterpreterTestSupport.bytes(hex: hex)
    }()
}
