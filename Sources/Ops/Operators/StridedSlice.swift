import FlatBuffers
import IR
import Kernels

// STRIDED_SLICE (schema.fbs StridedSliceOptions; LiteRT's op_version.cc; TFLM's strided_slice
// kernel).
extension OperatorTable {
    static let sliceOperators = [stridedSlice]

    static let stridedSliceOptions = TypedOptions<StridedSliceAttributes>(
        payload: { if case .stridedSlice(let a) = $0 { a } else { nil } }, make: { .stridedSlice($0) })

    static let stridedSlice = OperatorDefinition(
        .stridedSlice,
        options: OptionsCodec(
            defaultKind: .stridedSlice(StridedSliceAttributes()),
            decode: { r in
                // StridedSliceOptions: 0 begin_mask, 1 end_mask, 2 ellipsis_mask, 3 new_axis_mask,
                // 4 shrink_axis_mask, 5 offset.
                guard r.isTable(Schema.OptionsTag.stridedSlice) else { return nil }
                return (.stridedSlice(StridedSliceAttributes(beginMask: try r.i32(0), endMask: try r.i32(1), ellipsisMask: try r.i32(2), newAxisMask: try r.i32(3), shrinkAxisMask: try r.i32(4), offset: try r.flag(5))), false)
            },
            encode: { op in
                guard case .stridedSlice(let a) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i32(0, a.beginMask); w.i32(1, a.endMask); w.i32(2, a.ellipsisMask); w.i32(3, a.newAxisMask); w.i32(4, a.shrinkAxisMask)
                w.flag(5, a.offset)
                return (Schema.OptionsTag.stridedSlice, w.table)
            },
            describe: { kind in
                guard case .stridedSlice(let a) = kind else { return [] }
                return [("begin_mask", "\(a.beginMask)"), ("end_mask", "\(a.endMask)"), ("ellipsis_mask", "\(a.ellipsisMask)"), ("new_axis_mask", "\(a.newAxisMask)"), ("shrink_axis_mask", "\(a.shrinkAxisMask)")] + (a.offset ? [("offset", "true")] : [])
            }
        ),
        version: { s in
            var a = StridedSliceAttributes()
            if case .stridedSlice(let attrs) = s.op.kind { a = attrs }
            return s.first([
                (a.offset, 8, "offset option"),
                (s.input(0) == .uint32, 7, "uint32 input"),
                (a.ellipsisMask != 0 || a.newAxisMask != 0, 6, "ellipsis or new-axis mask"),
                (s.input(0) == .string, 5, "string input"),
                (s.rank(0) > 4, 4, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        },
        quantization: { op, _ in
            guard case .stridedSlice = op.kind else { return nil }
            return .init(roles: [.activation], output: .sameAsInput, int16: true)  // TFLM strided_slice.cc copies int16
        },
        kernel: { c in
            guard case .stridedSlice(let a) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try StridedSliceKernel(c, a)
        },
        fold: { f in
            guard case .stridedSlice(let a) = f.kind, f.inputs.count == 4, let x = f.inputs[0], let b = f.inputs[1]?.integers,
                let e = f.inputs[2]?.integers, let s = f.inputs[3]?.integers, StridedSliceGeometry.runtimesDisagree(a) == nil,
                let g = try? StridedSliceGeometry(shape: x.shape.map(Int.init), begin: b, end: e, strides: s, attributes: a)
            else { return nil }
            return [g.apply(to: x)]
        },
        attributes: [
            stridedSliceOptions.attribute("begin_mask", \.beginMask),
            stridedSliceOptions.attribute("end_mask", \.endMask),
            stridedSliceOptions.attribute("ellipsis_mask", \.ellipsisMask),
            stridedSliceOptions.attribute("new_axis_mask", \.newAxisMask),
            stridedSliceOptions.attribute("shrink_axis_mask", \.shrinkAxisMask),
            stridedSliceOptions.attribute("offset", \.offset),
        ],
        shapeArithmetic: { operands in
            guard case .stridedSlice(let a) = operands.op.kind, operands.op.inputs.count == 4, let x = operands.constant(0),
                let begin = operands.vector(1), let end = operands.vector(2), let strides = operands.vector(3)
            else { return nil }
            return ShapeArithmetic.stridedSlice(x, begin: begin, end: end, strides: strides, a)
        },
        // LiteRT kernels/strided_slice.cc ResizeOutputTensor, through the one geometry the
        // folders use; none when TF and TFLite read the masks differently.
        shape: { s in
            guard case .stridedSlice(let a) = s.op.kind, s.op.inputs.count == 4, StridedSliceGeometry.runtimesDisagree(a) == nil,
                let x = s.shape(0), let begin = s.vector(1), let end = s.vector(2), let strides = s.vector(3),
                let g = try? StridedSliceGeometry(shape: x.map(Int.init), begin: begin, end: end, strides: strides, attributes: a)
            else { return nil }
            return IntTensor.dims32(g.outputShape).map { [$0] }
        },
        microFootprint: { c in
            // strided_slice.cc: Init allocates StridedSliceParams (types.h: three int8 counts each
            // with 5 int32, five uint16 masks, a bool). TfLiteStridedSliceParams: 5 masks, offset.
            let params = CStruct([.int8, .array(.int32, 5), .int8, .array(.int32, 5), .int8, .array(.int32, 5), .array(.int16, 5), .bool])
            return .opData(c, params, options: CStruct([.array(.int32, 5), .bool]))
        }
    )
}
