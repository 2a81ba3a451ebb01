import FlatBuffers
import IR
import Kernels

// PAD, PADV2 and MIRROR_PAD (LiteRT's op_version.cc; TFLM's pad kernel).
extension OperatorTable {
    static let padOperators = [pad, padV2, mirrorPad]

    static let padVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([
            (s.input(0) == .bool, 5, "bool input"),
            (s.rank(0) > 4, 4, "input rank \(s.rank(0)) > 4"),
            (s.input(0) == .int16, 3, "int16 input"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }

    static let pad = OperatorDefinition(
        .pad,
        // Converters write an empty PadOptions table; keep whether one was there.
        options: .none(.pad, emptyTableTag: Schema.OptionsTag.pad),
        version: padVersion,
        quantization: { op, _ in
            guard case .pad = op.kind else { return nil }
            return .init(roles: [.activation], output: .sameAsInput, int16: true)  // TFLM pad.cc: int16 pads with the zero point
        },
        kernel: { c in
            guard case .pad = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try PadKernel(c, withConstant: false)
        },
        shape: padShape,
        microFootprint: padFootprint
    )

    static let padV2 = OperatorDefinition(
        .padV2,
        version: padVersion,
        kernel: { c in try PadKernel(c, withConstant: true) },
        shape: padShape,
        microFootprint: padFootprint
    )

    /// TFLM pad_common.cc: PadInit allocates OpData { PadParams params; int32_t
    /// output_zero_point; } (pad.h; PadParams from kernels/internal/types.h: int8 count,
    /// int32[5], int8 count, int32[5], uint8 ResizingCategory); PadPrepare reads input 0,
    /// the paddings, PADV2's constant value, then the output. ParsePad and ParsePadV2
    /// allocate no builtin data (flatbuffer_conversions.cc).
    static let padFootprint: @Sendable (MicroFootprintContext) throws -> MicroKernelFootprint = { c in
        let padParams = CStruct([.int8, .array(.int32, 5), .int8, .array(.int32, 5), .int8])
        let opData = CStruct([.nested(padParams), .int32])
        let constant: [TempTensor] = c.inputs.count > 2 && c.inputs[2] != nil ? [.input(2)] : []
        return MicroKernelFootprint(initBuffers: [c.size(opData)], tempTensors: [.input(0), .input(1)] + constant + [.output(0)])
    }

    /// LiteRT kernels/pad.cc ResizeOutputTensor: paddings is a [rank, 2] constant of
    /// non-negative (before, after) pairs added to each dimension.
    static let padShape: @Sendable (ShapeInference) -> [[Int32]]? = { s in
        guard let x = s.shape(0), let p = s.constant(1), p.shape == [x.count, 2] else { return nil }
        var out: [Int32] = []
        for (i, d) in x.enumerated() {
            let before = p.values[2 * i], after = p.values[2 * i + 1]
            guard before >= 0, after >= 0, let sum = ShapeArithmetic.add(Int64(d), before).flatMap({ ShapeArithmetic.add($0, after) }),
                let padded = ShapeMath.dim(sum)
            else { return nil }
            out.append(padded)
        }
        return [out]
    }

    /// MirrorPadOptions field 0: mode (REFLECT 0, SYMMETRIC 1).
    static let mirrorPad = OperatorDefinition(
        .mirrorPad,
        version: { s in OpVersions.int8OrInt16Input(s) },
        kernel: { c in
            let mode = try opaqueOptions(c)?.int8(0, default: 0) ?? 0
            guard mode == 0 || mode == 1 else { throw Unsupported("mirror pad mode \(mode)") }
            return try IndexMapKernel.mirrorPad(c, symmetric: mode == 1)
        },
        shape: padShape
    )
}
