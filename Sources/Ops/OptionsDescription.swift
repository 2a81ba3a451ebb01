import FlatBuffers
import IR
import Kernels
import Support

/// Human- and JSON-readable options of an op, shared by inspect, diff and the IR printer.
package enum OptionsDescription {
    /// Ordered (name, value) pairs of the op's typed attributes; opaque options as hex.
    package static func fields(_ op: Op) -> [(String, String)] {
        switch op.kind {
        case .custom:
            return []
        case .builtin(_, let o):
            guard let o else { return [] }
            var f = [("options_type", "\(o.typeTag)"), ("raw", hex(o.vtable.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] } + o.inline))]
            for k in o.references.keys.sorted() { f.append(("field\(k)", "\(o.references[k]!)")) }
            return f
        default:
            return OperatorTable[op.builtinOperator]?.options?.describe(op.kind) ?? []
        }
    }

    package static func text(_ op: Op) -> String {
        fields(op).map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }

    package static func json(_ op: Op) -> JSON {
        let f = fields(op)
        if f.isEmpty, op.kind.fusedActivation == nil { return .null }
        var o = f.map { ($0.0, JSON.string($0.1)) }
        if let a = op.kind.fusedActivation { o.append(("fused_activation", .string(a.description))) }
        return .object(o)
    }

    package static func hex(_ bytes: [UInt8]) -> String { hexDigits(bytes) }
}
