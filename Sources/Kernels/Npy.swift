import CFloatKernels
import FlatBuffers
import IR
import Support
import Foundation

/// Element types of the .npy files tfrewrite reads and writes (numpy `descr` strings).
public enum NpyDType: String, Sendable, CaseIterable {
    case float32 = "<f4"
    case float64 = "<f8"
    case int8 = "|i1"
    case uint8 = "|u1"
    case int16 = "<i2"
    case int32 = "<i4"
    case int64 = "<i8"
    case uint32 = "<u4"
    case uint64 = "<u8"
    case bool = "|b1"

    public var itemSize: Int {
        switch self {
        case .float32, .int32, .uint32: 4
        case .float64, .int64, .uint64: 8
        case .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// Parses a descr; byte order marks '<', '|' and '=' are accepted where numpy writes them.
    package init?(descr: String) {
        guard descr.count == 3, let order = descr.first else { return nil }
        let kind = descr.dropFirst()
        let match = NpyDType.allCases.first { $0.rawValue.dropFirst() == kind }
        guard let m = match else { return nil }
        if m.itemSize == 1 {
            guard "<|=>".contains(order) else { return nil }
        } else {
            guard order == "<" || order == "=" else { return nil }
        }
        self = m
    }

    /// The interpreter dtype with the same element layout (float64 has none).
    public var dtype: DType? {
        switch self {
        case .float32: .float32
        case .float64: nil
        case .int8: .int8
        case .uint8: .uint8
        case .int16: .int16
        case .int32: .int32
        case .int64: .int64
        case .uint32: .uint32
        case .uint64: .uint64
        case .bool: .bool
        }
    }

    public init?(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float32
        case .int8: self = .int8
        case .uint8: self = .uint8
        case .int16: self = .int16
        case .int32: self = .int32
        case .int64: self = .int64
        case .uint32: self = .uint32
        case .uint64: self = .uint64
        case .bool: self = .bool
        default: return nil
        }
    }
}

/// A C-order array from a .npy file: its element type, shape and little-endian element bytes.
public struct NpyArray: Hashable, Sendable {
    public var dtype: NpyDType
    public var shape: [Int]
    public var data: [UInt8]

    public init(dtype: NpyDType, shape: [Int], data: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    public init?(_ t: RuntimeTensor) {
        guard let d = NpyDType(t.dtype) else { return nil }
        self.init(dtype: d, shape: t.shape, data: t.littleEndianBytes)
    }

    /// Number of elements (0 for a shape whose product overflows).
    public var elementCount: Int { RuntimeTensor.elementCount(shape) ?? 0 }

    /// The array as an interpreter tensor; float64 becomes float32 when `convertingTo` asks for it.
    public func tensor(convertingTo target: DType? = nil) -> RuntimeTensor? {
        if dtype == .float64 {
            guard target == nil || target == .float32 else { return nil }
            let n = elementCount
            guard data.count >= n * 8 else { return nil }
            let values: [Float] = data.withUnsafeBytes { raw in
                (0..<n).map { Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))) }
            }
            return RuntimeTensor(shape: shape, floats: values)
        }
        guard let d = dtype.dtype else { return nil }
        return RuntimeTensor(dtype: d, shape: shape, littleEndianBytes: data)
    }
}

/// Why an .npy/.npz file could not be read; renders as one line naming the file (and entry).
public struct NpyError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// Reading and writing numpy's .npy (format versions 1.0, 2.0, 3.0) and .npz (a zip of .npy
/// members, stored as `np.savez` writes them or deflated as `np.savez_compressed` does,
/// including zip64 records; written stored).
/// Format facts: numpy's `numpy/lib/format.py` documentation (magic, header length field,
/// header dict literal padded to 64 bytes) and PKWARE's APPNOTE (zip records).
public enum Npy {
    package static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    // MARK: .npy

    public static func read(path: String) throws -> NpyArray {
        try decode(try readFile(path), path: path)
    }

    /// Parses one .npy image; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> NpyArray {
        func fail(_ m: String) -> NpyError { NpyError(path: path, message: m) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (missing the \\x93NUMPY magic)") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(bytes[7])")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw fail("header claims \(headerLength) bytes but the file has \(bytes.count - headerStart) after the length field")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        guard let text = major == 3 ? String(bytes: headerBytes, encoding: .utf8) : String(bytes: headerBytes, encoding: .isoLatin1) else {
            throw fail("header is not valid text")
        }
        let header: NpyHeader
        do { header = try NpyHeader.parse(text) } catch let e as NpyHeader.ParseError { throw fail("bad header: \(e.message)") }
        guard let dtype = NpyDType(descr: header.descr) else {
            if header.descr.first == ">" { throw fail("big-endian data ('\(header.descr)') is not supported; save it little-endian") }
            throw fail("unsupported dtype '\(header.descr)' (supported: \(NpyDType.allCases.map(\.rawValue).joined(separator: " ")))")
        }
        guard !header.fortranOrder else { throw fail("fortran_order arrays are not supported; save a C-order array") }
        var count = 1
        for d in header.shape {
            let (m, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw fail("shape \(header.shape) is too large") }
            count = m
        }
        let (need, o) = count.multipliedReportingOverflow(by: dtype.itemSize)
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        guard !o, need <= available else {
            throw fail("data is \(available) bytes but shape \(header.shape) of \(dtype.rawValue) needs \(o ? "more than Int.max" : String(need))")
        }
        return NpyArray(dtype: dtype, shape: header.shape, data: Array(bytes[dataStart..<(dataStart + need)]))
    }

    /// Encodes a version 1.0 file (2.0 when the header needs more than 65535 bytes).
    public static func encode(_ a: NpyArray) -> [UInt8] {
        let shapeText: String
        switch a.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(a.shape[0]),)"
        default: shapeText = "(" + a.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var dict = "{'descr': '\(a.dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let v1 = dict.utf8.count + 10 + 1 <= 65535
        let prefix = v1 ? 10 : 12
        let total = (prefix + dict.utf8.count + 1 + 63) / 64 * 64
        dict += String(repeating: " ", count: total - prefix - dict.utf8.count - 1) + "\n"
        var out = magic + [v1 ? 1 : 2, 0]
        let n = dict.utf8.count
        out += v1 ? [UInt8(n & 0xff), UInt8(n >> 8)] : [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)]
        out += Array(dict.utf8)
        out += a.data
        return out
    }

    public static func write(_ a: NpyArray, path: String) throws {
        try AtomicFile.write(path: path, bytes: encode(a))
    }

    // MARK: .npz

    /// The members of an .npz, in archive order, named without the ".npy" suffix.
    public static func readNpz(path: String) throws -> [(name: String, array: NpyArray)] {
        try decodeNpz(try readFile(path), path: path)
    }

    public static func decodeNpz(_ bytes: [UInt8], path: String) throws -> [(name: String, array: NpyArray)] {
        let entries = try Zip.entries(bytes, path: path)
        return try entries.map { e in
            let name = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
            return (name, try decode(try Zip.contents(of: e, in: bytes, path: path), path: "\(path)[\(e.name)]"))
        }
    }

    /// Writes an .npz with stored (uncompressed) members "<name>.npy".
    public static func writeNpz(_ members: [(name: String, array: NpyArray)], path: String) throws {
        try AtomicFile.write(path: path, bytes: Zip.storedArchive(members.map { ($0.name + ".npy", encode($0.array)) }))
    }

    // MARK: Folders and inputs

    /// A folder of .npy files as a list, sorted by file name.
    public static func readFolder(path: String) throws -> [(name: String, array: NpyArray)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".npy") }.sorted()
        } catch {
            throw NpyError(path: path, message: "cannot list the folder")
        }
        guard !names.isEmpty else { throw NpyError(path: path, message: "the folder holds no .npy files") }
        return try names.map { (String($0.dropLast(4)), try read(path: path + "/" + $0)) }
    }

    /// Reads a .npy, .npz or folder of .npy files.
    public static func load(path: String) throws -> [(name: String, array: NpyArray)] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw NpyError(path: path, message: "no such file or folder")
        }
        if isDir.boolValue { return try readFolder(path: path) }
        let bytes = try readFile(path)
        if bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B { return try decodeNpz(bytes, path: path) }
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return [(name, try decode(bytes, path: path))]
    }

    package static func readFile(_ path: String) throws -> [UInt8] {
        // Only regular files within the memory budget: a FIFO or /dev/zero would never end.
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            do {
                try MemoryBudget.check(bytes: try ByteStorage.regularFileSize(path: path), for: "reading the file")
            } catch let e as FileError {
                throw NpyError(path: path, message: e.message)
            } catch let e as MemoryBudgetError {
                throw NpyError(path: path, message: e.description)
            }
        }
        guard let d = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            throw NpyError(path: path, message: exists ? (isDir.boolValue ? "is a folder" : "cannot read") : "no such file")
        }
        return [UInt8](d)
    }
}

/// The header dict of a .npy file: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
package struct NpyHeader {
    package var descr: String
    package var fortranOrder: Bool
    package var shape: [Int]

    package struct ParseError: Error { var message: String }

    private enum Token: Equatable {
        case string(String), int(Int), bool(Bool), open(Character), close(Character), colon, comma
    }

    package static func parse(_ text: String) throws -> NpyHeader {
        let tokens = try tokenize(text)
        var i = 0
        func next() throws -> Token {
            guard i < tokens.count else { throw ParseError(message: "unexpected end") }
            defer { i += 1 }
            return tokens[i]
        }
        guard try next() == .open("{") else { throw ParseError(message: "expected a '{' dict") }
        var descr: String?, fortran: Bool?, shape: [Int]?
        while true {
            let t = try next()
            if t == .close("}") { break }
            guard case .string(let key) = t else { throw ParseError(message: "expected a quoted key") }
            guard try next() == .colon else { throw ParseError(message: "expected ':' after '\(key)'") }
            switch key {
            case "descr":
                guard case .string(let s) = try next() else { throw ParseError(message: "descr must be a string") }
                descr = s
            case "fortran_order":
                guard case .bool(let b) = try next() else { throw ParseError(message: "fortran_order must be True or False") }
                fortran = b
            case "shape":
                guard try next() == .open("(") else { throw ParseError(message: "shape must be a tuple") }
                var dims: [Int] = []
                while true {
                    let d = try next()
                    if d == .close(")") { break }
                    guard case .int(let v) = d, v >= 0 else { throw ParseError(message: "shape holds a non-integer or negative entry") }
                    dims.append(v)
                    let sep = try next()
                    if sep == .close(")") { break }
                    guard sep == .comma else { throw ParseError(message: "expected ',' in shape") }
                }
                shape = dims
            default:
                throw ParseError(message: "unknown key '\(key)'")
            }
            let sep = try next()
            if sep == .close("}") { break }
            guard sep == .comma else { throw ParseError(message: "expected ',' between entries") }
        }
        guard let d = descr, let f = fortran, let s = shape else {
            throw ParseError(message: "missing \([descr == nil ? "descr" : nil, fortran == nil ? "fortran_order" : nil, shape == nil ? "shape" : nil].compactMap { $0 }.joined(separator: ", "))")
        }
        return NpyHeader(descr: d, fortranOrder: f, shape: s)
    }

    private static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            switch c {
            case "{", "(": tokens.append(.open(c)); i += 1
            case "}", ")": tokens.append(.close(c)); i += 1
            case ":": tokens.append(.colon); i += 1
            case ",": tokens.append(.comma); i += 1
            case "'", "\"":
                var j = i + 1
                var s = ""
                while j < chars.count && chars[j] != c { s.append(chars[j]); j += 1 }
                guard j < chars.count else { throw ParseError(message: "unterminated string") }
                tokens.append(.string(s))
                i = j + 1
            default:
                if c.isNumber {
                    var j = i
                    var s = ""
                    while j < chars.count && chars[j].isNumber { s.append(chars[j]); j += 1 }
                    if j < chars.count && chars[j] == "L" { j += 1 }  // Python 2 long suffix
                    guard let v = Int(s) else { throw ParseError(message: "number \(s) is too large") }
                    tokens.append(.int(v))
                    i = j
                } else if c.isLetter {
                    var j = i
                    var s = ""
                    while j < chars.count && (chars[j].isLetter || chars[j] == "_") { s.append(chars[j]); j += 1 }
                    switch s {
                    case "True": tokens.append(.bool(true))
                    case "False": tokens.append(.bool(false))
                    default: throw ParseError(message: "unexpected word '\(s)'")
                    }
                    i = j
                } else {
                    throw ParseError(message: "unexpected character '\(c)'")
                }
            }
        }
        return tokens
    }
}

/// The zip subset numpy uses: stored or deflated members, optional zip64 records, CRC-32 checked.
package enum Zip {
    package struct Entry {
        package var name: String
        /// The member's bytes in the archive (compressed when `deflated`).
        package var data: Range<Int>
        package var deflated: Bool = false
        /// Size once inflated (the directory's uncompressed size).
        package var size: Int = 0
        package var crc: UInt32 = 0
    }

    /// Deflate's largest expansion: a 258-byte match coded in 2 bits is 1032:1 (RFC 1951's
    /// longest match and shortest codes; zlib's "technical details" gives the same bound). A
    /// member claiming more than that from its compressed size is not a deflate stream.
    package static let maximumDeflateRatio = 1032

    /// A member's bytes: the stored data, or the deflated data inflated through the system zlib
    /// to exactly its declared size, then CRC-32 checked.
    package static func contents(of e: Entry, in b: [UInt8], path: String) throws -> [UInt8] {
        guard e.deflated else { return Array(b[e.data]) }
        let out: [UInt8]
        do {
            out = try RawInflate.inflate(b[e.data], size: e.size)
        } catch let error as RawInflate.Failure {
            throw NpyError(path: path, message: "member '\(e.name)': \(error.message)")
        }
        guard crc32(out[...]) == e.crc else { throw NpyError(path: path, message: "member '\(e.name)' fails its CRC-32 check") }
        return out
    }

    private static func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ at: Int) -> Int { u16(b, at) | u16(b, at + 2) << 16 }
    private static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32 }

    package static func entries(_ b: [UInt8], path: String) throws -> [Entry] {
        func fail(_ m: String) -> NpyError { NpyError(path: path, message: m) }
        // End of central directory: the last "PK\5\6" within 65535+22 bytes of the end.
        guard b.count >= 22 else { throw fail("not a zip archive (too small)") }
        var eocd = -1
        var p = b.count - 22
        let lowest = max(0, b.count - 22 - 65535)
        while p >= lowest {
            if b[p] == 0x50 && b[p + 1] == 0x4B && b[p + 2] == 5 && b[p + 3] == 6 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw fail("not a zip archive (no end-of-central-directory record)") }
        var count = u16(b, eocd + 10)
        var cdSize = UInt64(u32(b, eocd + 12))
        var cdOffset = UInt64(u32(b, eocd + 16))
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // Zip64 locator right before the EOCD, pointing at the zip64 EOCD record.
            let loc = eocd - 20
            guard loc >= 0, u32(b, loc) == 0x0706_4B50 else { throw fail("zip64 archive without a zip64 locator") }
            let z = u64(b, loc + 8)
            guard b.count >= 56, z <= UInt64(b.count - 56), u32(b, Int(z)) == 0x0606_4B50 else { throw fail("bad zip64 end-of-central-directory offset") }
            let zi = Int(z)
            let c64 = u64(b, zi + 32)
            guard c64 <= UInt64(Int32.max) else { throw fail("implausible entry count \(c64)") }
            count = Int(c64)
            cdSize = u64(b, zi + 40)
            cdOffset = u64(b, zi + 48)
        }
        guard cdOffset <= UInt64(b.count), cdSize <= UInt64(b.count) - cdOffset else { throw fail("central directory lies outside the file") }
        var at = Int(cdOffset)
        var result: [Entry] = []
        var members: [(extent: Range<Int>, crc: UInt32)] = []
        for k in 0..<count {
            guard at + 46 <= b.count, u32(b, at) == 0x0201_4B50 else { throw fail("central directory entry \(k) is corrupt") }
            let flags = u16(b, at + 8)
            let method = u16(b, at + 10)
            let crc = UInt32(u32(b, at + 16))
            var compSize = UInt64(u32(b, at + 20))
            var size = UInt64(u32(b, at + 24))
            let nameLen = u16(b, at + 28), extraLen = u16(b, at + 30), commentLen = u16(b, at + 32)
            var localOffset = UInt64(u32(b, at + 42))
            guard at + 46 + nameLen + extraLen + commentLen <= b.count else { throw fail("central directory entry \(k) runs past the end") }
            let name = String(decoding: b[(at + 46)..<(at + 46 + nameLen)], as: UTF8.self)
            // Zip64 extra field (id 1): the 64-bit values for whichever fields are 0xFFFFFFFF, in order.
            var e = at + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(b, e), len = u16(b, e + 2)
                guard e + 4 + len <= extraEnd else { break }
                if id == 1 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF, f + 8 <= e + 4 + len { size = u64(b, f); f += 8 }
                    if compSize == 0xFFFF_FFFF, f + 8 <= e + 4 + len { compSize = u64(b, f); f += 8 }
                    if localOffset == 0xFFFF_FFFF, f + 8 <= e + 4 + len { localOffset = u64(b, f); f += 8 }
                }
                e += 4 + len
            }
            guard method == 0 || method == 8 else {
                throw fail("member '\(name)' is compressed with method \(method); only stored and deflated members (np.savez, np.savez_compressed) are supported")
            }
            guard flags & 1 == 0 else { throw fail("member '\(name)' is encrypted") }
            guard method == 8 || compSize == size else { throw fail("member '\(name)' is stored but its sizes differ (\(compSize) vs \(size))") }
            if method == 8 {
                let (limit, overflow) = compSize.multipliedReportingOverflow(by: UInt64(maximumDeflateRatio))
                guard overflow || size <= limit + 64 else {
                    throw fail("member '\(name)' declares \(size) bytes from \(compSize) compressed, more than deflate can expand (\(maximumDeflateRatio):1; a zip bomb?)")
                }
            }
            guard b.count >= 30, localOffset <= UInt64(b.count - 30), u32(b, Int(localOffset)) == 0x0403_4B50 else {
                throw fail("member '\(name)' has a bad local header offset")
            }
            let lo = Int(localOffset)
            let dataStart = lo + 30 + u16(b, lo + 26) + u16(b, lo + 28)
            guard dataStart <= b.count, compSize <= UInt64(b.count - dataStart) else { throw fail("member '\(name)' runs past the end of the file") }
            let range = dataStart..<(dataStart + Int(compSize))
            guard size <= UInt64(Int.max) else { throw fail("member '\(name)' declares an impossible size \(size)") }
            result.append(Entry(name: name, data: range, deflated: method == 8, size: Int(size), crc: crc))
            members.append((lo..<range.upperBound, crc))
            at += 46 + nameLen + extraLen + commentLen
        }
        try checkNoOverlap(result, members.map(\.extent), fail: fail)
        // Everything the members expand to must fit the memory budget before any is inflated.
        let (total, overflow) = result.reduce((0, false)) { acc, e in
            let (sum, o) = acc.0.addingReportingOverflow(e.size)
            return (sum, acc.1 || o)
        }
        do {
            try MemoryBudget.check(bytes: overflow ? Int.max : total, for: "the archive's members")
        } catch let e as MemoryBudgetError {
            throw fail(e.description)
        }
        for (entry, member) in zip(result, members) where !entry.deflated && crc32(b[entry.data]) != member.crc {
            throw fail("member '\(entry.name)' fails its CRC-32 check")
        }
        return result
    }

    /// Members each own their bytes: stored ones are then never larger than the archive (a ratio
    /// of at most 1), deflated ones at most `maximumDeflateRatio` times their share. A zip bomb
    /// makes many directory entries share one stream; refuse any two members whose local header
    /// and data overlap before reading any.
    private static func checkNoOverlap(_ entries: [Entry], _ extents: [Range<Int>], fail: (String) -> NpyError) throws {
        let order = extents.indices.sorted { extents[$0].lowerBound < extents[$1].lowerBound }
        for (previous, next) in zip(order, order.dropFirst()) where extents[next].lowerBound < extents[previous].upperBound {
            throw fail("members '\(entries[previous].name)' and '\(entries[next].name)' overlap in the archive (a zip bomb?)")
        }
    }

    /// A zip of stored members (no zip64: members and offsets must stay below 4 GiB).
    package static func storedArchive(_ members: [(name: String, data: [UInt8])]) throws -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func le16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff)] }
        func le32(_ v: Int, _ into: inout [UInt8]) { le16(v & 0xffff, &into); le16((v >> 16) & 0xffff, &into) }
        for m in members {
            guard m.data.count < 0xFFFF_FFFF, out.count < 0xFFFF_FFFF else {
                throw NpyError(path: m.name, message: "member too large for a zip without zip64")
            }
            let name = Array(m.name.utf8)
            let crc = Int(crc32(m.data[...]))
            let offset = out.count
            // Local header: version 20, no flags, stored, DOS time 0:00 1980-01-01.
            le32(0x0403_4B50, &out); le16(20, &out); le16(0, &out); le16(0, &out); le16(0, &out); le16(0x21, &out)
            le32(crc, &out); le32(m.data.count, &out); le32(m.data.count, &out); le16(name.count, &out); le16(0, &out)
            out += name
            out += m.data
            le32(0x0201_4B50, &central); le16(20, &central); le16(20, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0x21, &central); le32(crc, &central); le32(m.data.count, &central); le32(m.data.count, &central)
            le16(name.count, &central); le16(0, &central); le16(0, &central); le16(0, &central); le16(0, &central)
            le32(0, &central); le32(offset, &central)
            central += name
        }
        let cdOffset = out.count
        out += central
        le32(0x0605_4B50, &out); le16(0, &out); le16(0, &out); le16(members.count, &out); le16(members.count, &out)
        le32(central.count, &out); le32(cdOffset, &out); le16(0, &out)
        return out
    }

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    package static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
