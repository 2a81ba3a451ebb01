import FlatBuffers
import IR
import Kernels
import Support

/// Builtin options tables: typed op kinds through their operator's `OptionsCodec`, opaque ones
/// copied back as they were read.
package enum OptionsEncoding {
    /// The union tag and table for an op, or nil for NONE. A nil table with a tag means
    /// "tag without table" (kept from odd source files). Typed ops use their operator's codec.
    package static func encode(_ op: Op) -> (UInt8, FBTableSpec?)? {
        switch op.kind {
        case .custom:
            return nil
        case .builtin(_, let options):
            guard let o = options else { return nil }
            if o.vtable.isEmpty && o.inline.isEmpty { return (o.typeTag, nil) }
            return (o.typeTag, opaqueTable(o))
        default:
            return OperatorTable[op.builtinOperator]?.options?.encode(op)
        }
    }

    /// Re-creates an opaque options table: its scalar bytes as they were, its vector and
    /// string fields written anew and patched in.
    package static func opaqueTable(_ o: OpaqueOptions) -> FBTableSpec {
        let refs: [(id: Int, value: FBValue)] = o.references.keys.sorted().map { id in
            switch o.references[id]! {
            case .int32s(let v): (id, .scalarVector(bytes: le(v), elementSize: 4))
            case .int64s(let v): (id, .scalarVector(bytes: le(v), elementSize: 8))
            case .floats(let v): (id, .scalarVector(bytes: le(v.map(\.bitPattern)), elementSize: 4))
            case .bytes(let v): (id, .scalarVector(bytes: v, elementSize: 1))
            case .string(let s): (id, .string(s))
            }
        }
        return FBTableSpec(raw: FBRawTable(vtable: o.vtable, inline: o.inline, originalPosition: o.alignmentPhase), references: refs)
    }
}
