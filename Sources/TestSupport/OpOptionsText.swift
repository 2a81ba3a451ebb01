import IR
import Ops
import Support

/// Turns the `{name=value, …}` part of an op line back into an `OpKind`, reading the operator
/// table: a typed op starts from its codec's `defaultKind`, and each printed field is set through
/// the attribute of that name (`OperatorAttribute.write`, as the rule language sets them). A field
/// printed as `HxW` (stride, dilation, filter) sets the attributes `<name>_h` and `<name>_w`.
/// The result must describe itself exactly as printed, so nothing is guessed silently.
enum OpOptionsText {
    static func kind(_ op: BuiltinOperator, fields: [(String, String)], activation: String?) throws(IRTextFailure) -> OpKind {
        if fields.contains(where: { $0.0 == "options_type" }) {
            guard activation == nil else { throw IRTextFailure("\(op.name) with opaque options cannot print act=") }
            return .builtin(op, options: try opaqueOptions(fields))
        }
        let definition = OperatorTable[op]
        guard let codec = definition?.options, let defaultKind = codec.defaultKind else {
            guard fields.isEmpty, activation == nil else { throw IRTextFailure("\(op.name) takes no options, got {\(render(fields, activation))}") }
            return .builtin(op, options: nil)
        }
        // A typed op always prints its options when it has any; none printed means the file's
        // options table did not decode (kept opaque, here without a table).
        if fields.isEmpty, activation == nil, !codec.describe(defaultKind).isEmpty { return .builtin(op, options: nil) }

        var kind = defaultKind
        let attributes = definition?.attributes ?? []
        func attribute(_ name: String) -> OperatorAttribute? { attributes.first { $0.name == name && $0.settable } }
        func set(_ a: OperatorAttribute, _ text: String) throws(IRTextFailure) {
            guard let value = attributeValue(a.type, text), let k = a.write?(kind, value) else {
                throw IRTextFailure("\(op.name) option \(a.name) cannot be '\(text)'")
            }
            kind = k
        }
        for (name, text) in fields {
            if let a = attribute(name) {
                try set(a, text)
            } else if let h = attribute(name + "_h"), let w = attribute(name + "_w") {
                let parts = text.split(separator: "x", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw IRTextFailure("\(op.name) option \(name) must be HxW, got '\(text)'") }
                try set(h, String(parts[0]))
                try set(w, String(parts[1]))
            } else {
                throw IRTextFailure("\(op.name) has no option '\(name)'")
            }
        }
        if let activation {
            guard kind.fusedActivation != nil else { throw IRTextFailure("\(op.name) has no fused activation") }
            guard let a = ActivationFunction.allCases.first(where: { $0.description == activation }) else {
                throw IRTextFailure("unknown activation '\(activation)'")
            }
            kind.fusedActivation = a
        }
        // Fields the printer leaves out at their quiet value (pot_scale_int16=true, offset=false,
        // quantized_bias_type 0): a default kind that prints one gets the other value.
        for (name, _) in codec.describe(kind) where !fields.contains(where: { $0.0 == name }) {
            guard let a = attribute(name), let current = a.read(kind) else { continue }
            let quiet: AttributeValue? = switch current {
            case .bool(let b): .bool(!b)
            case .int8: .int8(0)
            case .int32: .int32(0)
            default: nil
            }
            if let quiet, let k = a.write?(kind, quiet) { kind = k }
        }
        let printed = OptionsDescription.fields(Op(kind: kind, inputs: [], outputs: []))
        let printedActivation = kind.fusedActivation.flatMap { $0 == .none ? nil : $0.description }
        guard printed.map(\.0) == fields.map(\.0), printed.map(\.1) == fields.map(\.1), printedActivation == activation else {
            throw IRTextFailure("{\(render(fields, activation))} is not how \(op.name) prints its options (it would print {\(render(printed, printedActivation))})")
        }
        return kind
    }

    static func render(_ fields: [(String, String)], _ activation: String?) -> String {
        (fields.map { "\($0.0)=\($0.1)" } + (activation.map { ["act=\($0)"] } ?? [])).joined(separator: ", ")
    }

    /// The value of an attribute as `OptionsCodec.describe` prints it.
    static func attributeValue(_ type: AttributeType, _ text: String) -> AttributeValue? {
        switch type {
        case .int32: Int32(text).map(AttributeValue.int32)
        case .int8: (Int8(text) ?? dtype(text)?.code).map(AttributeValue.int8)
        case .bool: text == "true" ? .bool(true) : text == "false" ? .bool(false) : nil
        case .float32: Float(text).map(AttributeValue.float32)
        case .padding: (Int8(0)...Int8(1)).compactMap(Padding.init(rawValue:)).first { $0.description == text }.map(AttributeValue.padding)
        case .activation: ActivationFunction.allCases.first { $0.description == text }.map(AttributeValue.activation)
        case .dtype: dtype(text).map(AttributeValue.dtype)
        case .int32List: int32List(text).map(AttributeValue.int32List)
        }
    }

    /// A schema type name (`INT8`) or the `TYPE_<n>` an unknown code prints as.
    static func dtype(_ text: String) -> DType? {
        (Int8.min...Int8.max).lazy.map(DType.init(code:)).first { $0.name == text }
    }

    /// `[1,2,3]` (spaces allowed).
    static func int32List(_ text: String) -> [Int32]? {
        guard text.hasPrefix("["), text.hasSuffix("]") else { return nil }
        let body = text.dropFirst().dropLast().trimmingSpaces
        if body.isEmpty { return [] }
        var out: [Int32] = []
        for part in body.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = Int32(part.trimmingSpaces) else { return nil }
            out.append(v)
        }
        return out
    }

    /// Options the IR keeps opaquely print as `options_type=<tag>, raw=<hex>, field<k>=<value>`.
    /// The raw bytes are the vtable entries followed by the inline bytes, which the text does not
    /// separate: they come back as inline bytes with an empty vtable, which prints the same.
    /// `vtable=<n>` (written by hand, e.g. by Tests/Conformance/op_coverage.py) says the first n
    /// little-endian 16-bit words of `raw` are the vtable entries, so the table has those fields.
    static func opaqueOptions(_ fields: [(String, String)]) throws(IRTextFailure) -> OpaqueOptions {
        var tag: UInt8?
        var raw: [UInt8] = []
        var vtableCount = 0
        var references: [Int: OpaqueOptions.Field] = [:]
        for (name, text) in fields {
            if name == "options_type" {
                guard let t = UInt8(text) else { throw IRTextFailure("options_type must be 0...255, got '\(text)'") }
                tag = t
            } else if name == "raw" {
                guard let bytes = hexBytes(text) else { throw IRTextFailure("raw must be hex bytes, got '\(text)'") }
                raw = bytes
            } else if name == "vtable" {
                guard let n = Int(text), n >= 0, n <= 256 else { throw IRTextFailure("vtable must be 0...256 entries, got '\(text)'") }
                vtableCount = n
            } else if name.hasPrefix("field"), let k = Int(name.dropFirst(5)) {
                guard let f = opaqueField(text) else { throw IRTextFailure("\(name) is not an options field value: '\(text)'") }
                references[k] = f
            } else {
                throw IRTextFailure("opaque options have no field '\(name)'")
            }
        }
        guard let tag else { throw IRTextFailure("opaque options need options_type") }
        guard raw.count >= 2 * vtableCount else { throw IRTextFailure("raw has \(raw.count) bytes, fewer than its \(vtableCount) vtable entries") }
        let vtable = (0..<vtableCount).map { UInt16(raw[2 * $0]) | UInt16(raw[2 * $0 + 1]) << 8 }
        return OpaqueOptions(typeTag: tag, vtable: vtable, inline: Array(raw[(2 * vtableCount)...]), alignmentPhase: 0, references: references)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let b = UInt8(String(digits[i...(i + 1)]), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    /// `int32s([1, 2])`, `int64s([…])`, `floats([…])`, `bytes([…])`, `string("…")`: Swift's
    /// description of `OpaqueOptions.Field`.
    static func opaqueField(_ text: String) -> OpaqueOptions.Field? {
        func list<T>(_ prefix: String, _ parse: (Substring) -> T?) -> [T]? {
            guard text.hasPrefix(prefix + "(["), text.hasSuffix("])") else { return nil }
            let body = text.dropFirst(prefix.count + 2).dropLast(2)
            if body.isEmpty { return [] }
            var out: [T] = []
            for part in body.split(separator: ",") {
                guard let v = parse(part.trimmingSpaces) else { return nil }
                out.append(v)
            }
            return out
        }
        if let v = list("int32s", { Int32($0) }) { return .int32s(v) }
        if let v = list("int64s", { Int64($0) }) { return .int64s(v) }
        if let v = list("floats", { Float($0) }) { return .floats(v) }
        if let v = list("bytes", { UInt8($0) }) { return .bytes(v) }
        if text.hasPrefix("string(\""), text.hasSuffix("\")") {
            return .string(unescape(text.dropFirst(8).dropLast(2)))
        }
        return nil
    }

    /// Undoes the escapes of Swift's `debugDescription` of a string (\" \\ \n \t \r \0 \u{…}).
    static func unescape(_ s: Substring) -> String {
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            i = s.index(after: i)
            guard c == "\\", i < s.endIndex else { out.append(c); continue }
            let e = s[i]
            i = s.index(after: i)
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "0": out.append("\0")
            case "u":
                if let close = s[i...].firstIndex(of: "}"), s[i] == "{", let code = UInt32(s[s.index(after: i)..<close], radix: 16), let scalar = Unicode.Scalar(code) {
                    out.unicodeScalars.append(scalar)
                    i = s.index(after: close)
                }
            default: out.append(e)
            }
        }
        return out
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        let s = Substring(self)
        guard let first = s.firstIndex(where: { $0 != " " }), let last = s.lastIndex(where: { $0 != " " }) else { return s[s.endIndex...] }
        return s[first...last]
    }
}
