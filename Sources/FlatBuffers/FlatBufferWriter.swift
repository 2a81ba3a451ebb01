/// Serializes a tree of `FBTableSpec`s in "forward" layout.
///
/// Layout, chosen so the output is deterministic and every scalar is naturally aligned relative
/// to the start of the file (the FlatBuffers verifier in TFLite/TFLM checks that):
/// - bytes 0..<4 hold the root uoffset, bytes 4..<8 the file identifier (zeros when nil);
/// - objects follow breadth-first, front to back. A uoffset only has to point forward, so each
///   reference slot is written as a placeholder and patched once its child is placed later;
/// - each table's vtable sits just before it (identical vtables are shared; the soffset is
///   signed, so pointing back at an earlier one is legal);
/// - table fields are ordered by size, largest first, then by id; a table with 8-byte fields
///   starts at a position ≡ 4 (mod 8) so those fields land on 8-byte boundaries;
/// - vector lengths sit at 4-aligned positions with elements aligned to max(element size, 4);
/// - `.byteVector` payloads come last, in the order they were reached, each starting at an
///   absolute offset that is a multiple of its alignment.
public enum FlatBufferWriter {
    /// Traps if the input cannot be encoded (an offset beyond 4 GiB, a negative or too large field
    /// id, a table over 64 KiB inline); use `serializeChecked` to get a `FlatBufferError` instead.
    public static func serialize(root: FBTableSpec, fileIdentifier: String?) -> FlatBufferOutput {
        do {
            return try serializeChecked(root: root, fileIdentifier: fileIdentifier)
        } catch {
            preconditionFailure("FlatBufferWriter: \(error)")
        }
    }

    /// Like `serialize`, but reports unencodable input as `FlatBufferError` (kind `.tooLarge`,
    /// or `.vtableMalformed` for a negative field id). `fileIdentifier` is truncated or
    /// zero-padded to 4 bytes.
    public static func serializeChecked(root: FBTableSpec, fileIdentifier: String?) throws -> FlatBufferOutput {
        var builder = ForwardBuilder()
        return try builder.serialize(root: root, fileIdentifier: fileIdentifier)
    }
}

/// One serialization run: the growing head, the breadth-first work queue and the deferred payloads.
private struct ForwardBuilder {
    private enum Object {
        case table(FBTableSpec)
        case string(String)
        case tables([FBTableSpec])
        case strings([String])
        case scalarVector(bytes: [UInt8], elementSize: Int)
    }

    private var head: [UInt8] = []
    private var queue: [(object: Object, slot: Int)] = []
    private var deferred: [(payload: ByteSlice, alignment: Int, slot: Int)] = []
    /// Vtable contents → position of the first copy. Only used for lookups, never iterated,
    /// so it cannot affect the output order.
    private var vtablePositions: [[UInt16]: Int] = [:]

    private static let maxInlineSize = Int(UInt16.max)
    /// Largest id whose vtable (4 + 2 * (id + 1) bytes) still fits a uint16 size.
    private static let maxFieldID = (Int(UInt16.max) - 4) / 2 - 1

    mutating func serialize(root: FBTableSpec, fileIdentifier: String?) throws -> FlatBufferOutput {
        var identifier = Array((fileIdentifier ?? "").utf8.prefix(4))
        identifier += [UInt8](repeating: 0, count: 4 - identifier.count)
        head = [0, 0, 0, 0] + identifier
        queue.append((.table(root), 0))
        var next = 0
        while next < queue.count {
            let (object, slot) = queue[next]
            next += 1
            switch object {
            case .table(let spec): try writeTable(spec, slot: slot)
            case .string(let text): try writeString(text, slot: slot)
            case .tables(let specs): try writeOffsetVector(specs.map { .table($0) }, slot: slot)
            case .strings(let texts): try writeOffsetVector(texts.map { .string($0) }, slot: slot)
            case .scalarVector(let bytes, let elementSize): try writeScalarVector(bytes, elementSize: elementSize, slot: slot)
            }
        }
        queue = []

        var tail: [(prefix: [UInt8], payload: ByteSlice)] = []
        tail.reserveCapacity(deferred.count)
        var cursor = head.count
        for (payload, alignment, slot) in deferred {
            let start = Self.dataStart(after: cursor, alignment: alignment)
            guard payload.count <= Int(UInt32.max) else {
                throw FlatBufferError(
                    kind: .tooLarge, offset: start - 4,
                    detail: "byte vector of \(payload.count) bytes exceeds the uint32 length limit")
            }
            var prefix = [UInt8](repeating: 0, count: start - 4 - cursor)
            withUnsafeBytes(of: UInt32(payload.count).littleEndian) { prefix += $0 }
            try patch(slot, to: start - 4)
            tail.append((prefix: prefix, payload: payload))
            cursor = start + payload.count
        }
        return FlatBufferOutput(head: head, tail: tail)
    }

    // MARK: Tables

    private mutating func writeTable(_ spec: FBTableSpec, slot: Int) throws {
        let fields = try Self.normalized(spec.fields)
        if let raw = spec.raw {
            try writeRawTable(raw, overrides: fields, slot: slot)
            return
        }
        var entries = [UInt16](repeating: 0, count: (fields.last?.id ?? -1) + 1)
        let bySize = fields.sorted { a, b in
            a.value.inlineSize != b.value.inlineSize ? a.value.inlineSize > b.value.inlineSize : a.id < b.id
        }
        var offset = 4
        for field in bySize {
            guard offset <= Self.maxInlineSize else { break }
            entries[field.id] = UInt16(offset)
            offset += field.value.inlineSize
        }
        guard offset <= Self.maxInlineSize else {
            throw FlatBufferError(
                kind: .tooLarge, offset: head.count,
                detail: "table inline size \(offset) exceeds \(Self.maxInlineSize) bytes")
        }
        // Largest-first order puts 8-byte fields right after the soffset, so starting the table
        // at 4 (mod 8) aligns them; smaller fields follow on their own boundaries.
        let has8ByteField = bySize.first?.value.inlineSize == 8
        let position = placeTable(
            entries: entries, inline: [UInt8](repeating: 0, count: offset - 4),
            modulus: has8ByteField ? 8 : 4, remainder: has8ByteField ? 4 : 0)
        for field in fields {
            writeField(field.value, at: position + Int(entries[field.id]))
        }
        try patch(slot, to: position)
    }

    /// Copies an opaque table and writes `overrides` into it: in place when the id has a slot big
    /// enough, else appended to the inline bytes with natural alignment.
    private mutating func writeRawTable(
        _ raw: FBRawTable, overrides: [(id: Int, value: FBValue)], slot: Int
    ) throws {
        var entries = raw.vtable
        var inline = raw.inline
        // Same position mod 8 as the source keeps its 8-byte scalars aligned; rounded down to a
        // multiple of 4 so the soffset stays aligned even if the source table was not.
        let remainder = (((raw.originalPosition % 8) + 8) % 8) & ~3
        var placements: [(value: FBValue, offset: Int)] = []
        var appended: [(id: Int, value: FBValue)] = []
        for field in overrides {
            let size = field.value.inlineSize
            if field.id < entries.count, entries[field.id] >= 4, Int(entries[field.id]) + size <= 4 + inline.count {
                placements.append((field.value, Int(entries[field.id])))
            } else {
                appended.append(field)
            }
        }
        appended.sort { a, b in
            a.value.inlineSize != b.value.inlineSize ? a.value.inlineSize > b.value.inlineSize : a.id < b.id
        }
        for field in appended {
            let size = field.value.inlineSize
            var offset = 4 + inline.count
            while (remainder + offset) % size != 0 { offset += 1 }
            guard offset + size <= Self.maxInlineSize else {
                throw FlatBufferError(
                    kind: .tooLarge, offset: head.count,
                    detail: "table inline size \(offset + size) exceeds \(Self.maxInlineSize) bytes")
            }
            inline += [UInt8](repeating: 0, count: offset + size - 4 - inline.count)
            if field.id >= entries.count {
                entries += [UInt16](repeating: 0, count: field.id + 1 - entries.count)
            }
            entries[field.id] = UInt16(offset)
            placements.append((field.value, offset))
        }
        guard 4 + inline.count <= Self.maxInlineSize, entries.count <= Self.maxFieldID + 1 else {
            throw FlatBufferError(
                kind: .tooLarge, offset: head.count,
                detail: "raw table with \(inline.count) inline bytes and \(entries.count) fields is too large")
        }
        let position = placeTable(entries: entries, inline: inline, modulus: 8, remainder: remainder)
        for (value, offset) in placements {
            writeField(value, at: position + offset)
        }
        try patch(slot, to: position)
    }

    /// Writes (or reuses) the vtable, then the soffset and inline bytes at the first position
    /// ≥ the cursor that is ≡ `remainder` (mod `modulus`). Returns the table position.
    private mutating func placeTable(entries: [UInt16], inline: [UInt8], modulus: Int, remainder: Int) -> Int {
        let vtable = [UInt16(4 + 2 * entries.count), UInt16(4 + inline.count)] + entries
        let vtablePosition: Int
        // Reuse an earlier identical vtable unless it is too far back for an int32 soffset
        // (the table starts at most 7 bytes past the cursor).
        if let earlier = vtablePositions[vtable], head.count + 8 - earlier <= Int(Int32.max) {
            vtablePosition = earlier
        } else {
            pad(to: Self.alignUp(head.count, 2))
            vtablePosition = head.count
            for value in vtable { appendLittleEndian(value) }
            vtablePositions[vtable] = vtablePosition
        }
        var position = head.count
        while position % modulus != remainder { position += 1 }
        pad(to: position)
        appendLittleEndian(Int32(position - vtablePosition))
        head += inline
        return position
    }

    /// Stores a scalar in place, or records a reference to be written later and patched here.
    private mutating func writeField(_ value: FBValue, at position: Int) {
        switch value {
        case .u8(let v): store(v, at: position)
        case .i8(let v): store(v, at: position)
        case .bool(let v): store(UInt8(v ? 1 : 0), at: position)
        case .u16(let v): store(v, at: position)
        case .i16(let v): store(v, at: position)
        case .u32(let v): store(v, at: position)
        case .i32(let v): store(v, at: position)
        case .f32(let v): store(v.bitPattern, at: position)
        case .u64(let v): store(v, at: position)
        case .i64(let v): store(v, at: position)
        case .f64(let v): store(v.bitPattern, at: position)
        case .string(let text): queue.append((.string(text), position))
        case .table(let spec): queue.append((.table(spec), position))
        case .tables(let specs): queue.append((.tables(specs), position))
        case .strings(let texts): queue.append((.strings(texts), position))
        case .scalarVector(let bytes, let elementSize):
            queue.append((.scalarVector(bytes: bytes, elementSize: elementSize), position))
        case .byteVector(let payload, let alignment):
            deferred.append((payload, alignment, position))
        }
    }

    // MARK: Strings and vectors

    private mutating func writeString(_ text: String, slot: Int) throws {
        pad(to: Self.alignUp(head.count, 4))
        let position = head.count
        let utf8 = Array(text.utf8)
        appendLittleEndian(UInt32(truncatingIfNeeded: utf8.count))
        head += utf8
        head.append(0)
        try patch(slot, to: position)
    }

    /// A vector of uoffsets (tables or strings); each element is queued and patched later.
    private mutating func writeOffsetVector(_ elements: [Object], slot: Int) throws {
        pad(to: Self.alignUp(head.count, 4))
        let position = head.count
        appendLittleEndian(UInt32(truncatingIfNeeded: elements.count))
        for element in elements {
            queue.append((element, head.count))
            head += [0, 0, 0, 0]
        }
        try patch(slot, to: position)
    }

    private mutating func writeScalarVector(_ bytes: [UInt8], elementSize: Int, slot: Int) throws {
        let size = max(elementSize, 1)
        let count = bytes.count / size
        let start = Self.dataStart(after: head.count, alignment: max(size, 4))
        pad(to: start - 4)
        appendLittleEndian(UInt32(truncatingIfNeeded: count))
        head += bytes[0..<(count * size)]
        try patch(slot, to: start - 4)
    }

    // MARK: Helpers

    /// Drops repeated ids (last wins) and sorts by id, rejecting ids a vtable cannot hold.
    private static func normalized(_ fields: [(id: Int, value: FBValue)]) throws -> [(id: Int, value: FBValue)] {
        var latest: [(id: Int, value: FBValue)] = []
        for field in fields.reversed() where !latest.contains(where: { $0.id == field.id }) {
            guard field.id >= 0 else {
                throw FlatBufferError(kind: .vtableMalformed, offset: 0, detail: "field id \(field.id) is negative")
            }
            guard field.id <= maxFieldID else {
                throw FlatBufferError(kind: .tooLarge, offset: 0, detail: "field id \(field.id) exceeds \(maxFieldID)")
            }
            latest.append(field)
        }
        return latest.sorted { $0.id < $1.id }
    }

    /// First data position after `cursor` (leaving room for a 4-aligned uint32 length just before
    /// it) that is a multiple of `alignment`. Alignment is clamped to 1...65536.
    private static func dataStart(after cursor: Int, alignment: Int) -> Int {
        let alignment = min(max(alignment, 1), 1 << 16)
        var start = alignUp(cursor + 4, alignment)
        while start % 4 != 0 { start += alignment }
        return start
    }

    private static func alignUp(_ value: Int, _ alignment: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }

    private mutating func pad(to position: Int) {
        if position > head.count {
            head += [UInt8](repeating: 0, count: position - head.count)
        }
    }

    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { head.append(contentsOf: $0) }
    }

    private mutating func store<T: FixedWidthInteger>(_ value: T, at position: Int) {
        head.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: position, as: T.self) }
    }

    /// Points the uoffset at `slot` to `target`; uoffsets are unsigned 32-bit and forward only.
    private mutating func patch(_ slot: Int, to target: Int) throws {
        let distance = target - slot
        guard distance > 0, distance <= Int(UInt32.max) else {
            throw FlatBufferError(
                kind: .tooLarge, offset: slot,
                detail: "offset from byte \(slot) to byte \(target) does not fit a uint32")
        }
        store(UInt32(distance), at: slot)
    }
}
