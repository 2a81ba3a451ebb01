import FlatBuffers
import Import

/// A file that is recognisably some model format tfrewrite does not read (yet): what was found
/// and what to do instead, in one line.
public struct UnsupportedModelFormatError: Error, Equatable, CustomStringConvertible {
    public var path: String
    /// What the content is, e.g. "a zip archive without a Keras config.json".
    public var found: String
    /// What to do instead.
    public var advice: String

    public var description: String { "\(path) is \(found); \(advice)" }
}

/// Recognises containers by their leading bytes, before the TFLite / protobuf checks of
/// `ModelLoader.detectFormat`, which would otherwise report them as a broken model.
enum ContainerSignature {
    /// HDF5's format signature (HDF5 File Format Specification, "Format Signature"); it sits at
    /// byte 0 or, after a user block, at 512, 1024, 2048, … .
    static let hdf5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]
    /// A zip local file header (PKWARE APPNOTE 4.3.7).
    static let zipLocalHeader: [UInt8] = [0x50, 0x4b, 0x03, 0x04]

    /// True for what `KerasImporter` reads: a zip whose entries include `config.json` (Keras 3
    /// .keras), or an HDF5 file (Keras .h5; the importer says so when it holds no model).
    static func isKeras(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if startsWith(bytes, zipLocalHeader) { return containsZipEntry(bytes, named: "config.json") }
        var offset = 0
        while offset + hdf5.count <= bytes.count && offset <= 1 << 20 {
            if startsWith(UnsafeRawBufferPointer(rebasing: bytes[offset...]), hdf5) { return true }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }

    /// The error for a recognised unsupported container, nil for anything else.
    static func unsupported(_ bytes: UnsafeRawBufferPointer, path: String) -> UnsupportedModelFormatError? {
        if startsWith(bytes, zipLocalHeader) {
            return UnsupportedModelFormatError(
                path: path, found: "a zip archive without a Keras config.json", advice: "unpack it and convert the model file inside")
        }
        return nil
    }

    private static func startsWith(_ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 }
    }

    /// True when a zip local file header names `name` (walking the local headers from the start:
    /// signature, 26 bytes of fields with the name length at 26 and extra length at 28, then
    /// name, extra and the compressed data, whose size is at 18 unless bit 3 defers it).
    private static func containsZipEntry(_ bytes: UnsafeRawBufferPointer, named name: String) -> Bool {
        let wanted = Array(name.utf8)
        var offset = 0
        for _ in 0..<10_000 {
            guard offset + 30 <= bytes.count, startsWith(UnsafeRawBufferPointer(rebasing: bytes[offset...]), zipLocalHeader) else { return false }
            func u16(_ at: Int) -> Int { Int(bytes[offset + at]) | Int(bytes[offset + at + 1]) << 8 }
            func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
            let flags = u16(6), compressed = u32(18), nameLength = u16(26), extraLength = u16(28)
            let nameStart = offset + 30
            guard nameStart + nameLength <= bytes.count else { return false }
            if Array(bytes[nameStart..<(nameStart + nameLength)]) == wanted { return true }
            // Bit 3: sizes follow the data, so the next header cannot be found from here.
            guard flags & 0x8 == 0 else { return false }
            offset = nameStart + nameLength + extraLength + compressed
        }
        return false
    }
}
