import FlatBuffers
import IR
import Kernels
import Support

/// Builtin options tables for typed op kinds (schema field ids from FACTS.md §1.5).
/// Fields equal to the schema default are omitted, as FlatBuffers builders do.
package enum OptionsEncoding {
    package typealias T = Schema.OptionsTag

    /// The union tag and table for an op, or nil for NONE. A nil table with a tag means
    /// "tag without table" (kept from odd source files).
    package static func encode(_ op: Op) -> (UInt8, FBTableSpec?)? {
        var t = FBTableSpec()
        func i32(_ id: Int, _ v: Int32, _ d: Int32 = 0) { if v != d { t.add(id, .i32(v)) } }
        func i8(_ id: Int, _ v: Int8, _ d: Int8 = 0) { if v != d { t.add(id, .i8(v)) } }
        func flag(_ id: Int, _ v: Bool, _ d: Bool = false) { if v != d { t.add(id, .bool(v)) } }
        switch op.kind {
        case .conv2D(let a):
            i8(0, a.padding.rawValue); i32(1, a.strideW); i32(2, a.strideH); i8(3, a.activation.rawValue)
            i32(4, a.dilationW, 1); i32(5, a.dilationH, 1); i8(6, a.quantizedBiasType)
            return (T.conv2D, t)
        case .depthwiseConv2D(let a):
            i8(0, a.padding.rawValue); i32(1, a.strideW); i32(2, a.strideH); i32(3, a.depthMultiplier)
            i8(4, a.activation.rawValue); i32(5, a.dilationW, 1); i32(6, a.dilationH, 1)
            return (T.depthwiseConv2D, t)
        case .fullyConnected(let a):
            i8(0, a.activation.rawValue); i8(1, a.weightsFormat); flag(2, a.keepNumDims)
            flag(3, a.asymmetricQuantizeInputs); i8(4, a.quantizedBiasType)
            return (T.fullyConnected, t)
        case .averagePool2D(let a), .maxPool2D(let a):
            i8(0, a.padding.rawValue); i32(1, a.strideW); i32(2, a.strideH); i32(3, a.filterW); i32(4, a.filterH)
            i8(5, a.activation.rawValue)
            return (T.pool2D, t)
        case .reshape(let newShape):
            if let s = newShape {
                t.add(0, .scalarVector(bytes: le(s), elementSize: 4))
                return (T.reshape, t)
            }
            return op.emptyOptionsTable ? (T.reshape, t) : nil
        case .softmax(let beta):
            if beta != 0 { t.add(0, .f32(beta)) }
            return (T.softmax, t)
        case .add(let a), .sub(let a):
            i8(0, a.activation.rawValue); flag(1, a.potScaleInt16, true)
            return (op.kind.builtinOperator == .add ? T.add : T.sub, t)
        case .mul(let a):
            i8(0, a.rawValue)
            return (T.mul, t)
        case .mean(let keep):
            flag(0, keep)
            return (T.reducer, t)
        case .concatenation(let axis, let a):
            i32(0, axis); i8(1, a.rawValue)
            return (T.concatenation, t)
        case .shape(let outType):
            i8(0, outType.code)
            return (T.shape, t)
        case .stridedSlice(let a):
            i32(0, a.beginMask); i32(1, a.endMask); i32(2, a.ellipsisMask); i32(3, a.newAxisMask); i32(4, a.shrinkAxisMask)
            flag(5, a.offset)
            return (T.stridedSlice, t)
        case .pack(let count, let axis):
            i32(0, count); i32(1, axis)
            return (T.pack, t)
        case .squeeze(let dims):
            if !dims.isEmpty { t.add(0, .scalarVector(bytes: le(dims), elementSize: 4)) }
            return (T.squeeze, t)
        case .gather(let axis, let batchDims):
            i32(0, axis); i32(1, batchDims)
            return (T.gather, t)
        case .pad, .quantize, .dequantize:
            guard op.emptyOptionsTable, let tag = Schema.emptyOptionsTag(for: op.builtinOperator) else { return nil }
            return (tag, t)
        case .relu, .relu6, .logistic, .tanh, .custom:
            return nil
        case .builtin(_, let options):
            guard let o = options else { return nil }
            if o.vtable.isEmpty && o.inline.isEmpty { return (o.typeTag, nil) }
            return (o.typeTag, opaqueTable(o))
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
