import FlatBuffers
import IR
import Ops
import Support
import TFProto

// A minimal protobuf wire-format field reader for the outer levels of GraphDef and
// SavedModel (the graph's node list, the SavedModel's meta graphs).
//
// Why not hand the whole file to protobuf-c: protobuf-c unpacks a message in one go,
// so a 300 MB GraphDef would live three times in memory (file, C structs, Swift
// values) and a failure would only say "NULL". Walking the outer fields here lets us
// unpack one NodeDef at a time (peak = file + Swift values + one node) and report the
// byte offset and index of the node that is broken.
//
// Wire format (protobuf encoding spec): each field is a varint key
// `(field_number << 3) | wire_type`, then a varint (0), 8 bytes (1), a varint length
// and that many bytes (2), or 4 bytes (5). Groups (3, 4) are not used by proto3 files
// and are rejected, like protobuf-c does.

/// One field read from a message: its number, wire type, absolute byte offset of its
/// key in the file, and the payload.
package struct WireField {
    package enum Payload {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(UnsafeRawBufferPointer, offset: Int)  // offset = absolute start of the bytes
        case fixed32(UInt32)
    }

    package var number: UInt64
    package var offset: Int
    package var payload: Payload

    package var wireTypeName: String {
        switch payload {
        case .varint: "varint"
        case .fixed64: "64-bit"
        case .bytes: "length-delimited"
        case .fixed32: "32-bit"
        }
    }
}

/// Iterates the fields of one serialized message without copying.
package struct WireReader {
    private let buffer: UnsafeRawBufferPointer
    /// Absolute offset (in the file) of `buffer[0]`, for error messages.
    private let base: Int
    private var position = 0

    package init(_ buffer: UnsafeRawBufferPointer, base: Int) {
        self.buffer = buffer
        self.base = base
    }

    /// The next field, nil at the end of the message; throws a one-line reason with the
    /// absolute byte offset when the framing is broken.
    package mutating func next() throws(WireFormatError) -> WireField? {
        guard position < buffer.count else { return nil }
        let keyOffset = base + position
        let key = try readVarint()
        let number = key >> 3
        // Field numbers are 1 ... 2^29-1 (protobuf language guide).
        guard number >= 1, number < (1 << 29) else {
            throw WireFormatError(offset: keyOffset, reason: "invalid field number \(number)")
        }
        switch key & 7 {
        case 0:
            return WireField(number: number, offset: keyOffset, payload: .varint(try readVarint()))
        case 1:
            let value = try readFixed(8, keyOffset: keyOffset)
            return WireField(number: number, offset: keyOffset, payload: .fixed64(value))
        case 2:
            let length = try readVarint()
            let remaining = buffer.count - position
            guard length <= UInt64(remaining) else {
                throw WireFormatError(
                    offset: keyOffset,
                    reason: "field \(number) claims \(length) bytes but only \(remaining) remain (truncated file?)")
            }
            let start = position
            position += Int(length)
            let slice = UnsafeRawBufferPointer(rebasing: buffer[start..<position])
            return WireField(number: number, offset: keyOffset, payload: .bytes(slice, offset: base + start))
        case 5:
            let value = try readFixed(4, keyOffset: keyOffset)
            return WireField(number: number, offset: keyOffset, payload: .fixed32(UInt32(truncatingIfNeeded: value)))
        case let wireType:
            throw WireFormatError(
                offset: keyOffset, reason: "field \(number) has unsupported wire type \(wireType)")
        }
    }

    /// A bare varint at the current position (for inspecting a broken field).
    package mutating func rawVarint() throws(WireFormatError) -> UInt64 { try readVarint() }

    /// The bytes not read yet.
    package var remaining: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[position...]) }

    private mutating func readVarint() throws(WireFormatError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < buffer.count {
            let byte = buffer[position]
            position += 1
            // The 10th byte may only contribute the top bit of a 64-bit value.
            if shift == 63 && byte > 1 {
                throw WireFormatError(offset: base + start, reason: "varint is longer than 64 bits")
            }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw WireFormatError(offset: base + start, reason: "varint runs past the end of the data (truncated file?)")
    }

    private mutating func readFixed(_ size: Int, keyOffset: Int) throws(WireFormatError) -> UInt64 {
        guard buffer.count - position >= size else {
            throw WireFormatError(
                offset: keyOffset, reason: "\(size)-byte field runs past the end of the data (truncated file?)")
        }
        var value: UInt64 = 0
        for i in 0..<size { value |= UInt64(buffer[position + i]) << (8 * UInt64(i)) }
        position += size
        return value
    }
}

/// Broken wire framing at an absolute byte offset.
package struct WireFormatError: Error {
    package var offset: Int
    package var reason: String

    package var message: String { "\(reason) at byte offset \(offset)" }
}
