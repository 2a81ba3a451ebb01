import FlatBuffers
import IR
import Kernels

// CAST (LiteRT's op_version.cc).
extension OperatorTable {
    static let castOperators = [cast]

    static let cast = OperatorDefinition(
        .cast,
        version: { s in
            func either(_ t: DType) -> Bool { s.input(0) == t || s.output(0) == t }
            return s.first([
                (either(.int2) || either(.uint4), 8, "int2 or uint4 cast"),
                (either(.bfloat16), 7, "bfloat16 cast"),
                (s.input(0) == .int4 && s.output(0) == .float32, 6, "int4 to float32"),
                (either(.float64) || either(.float16), 5, "float64 or float16 cast"),
                (either(.uint16), 4, "uint16 cast"),
                (either(.int8), 3, "int8 cast"),
                (either(.uint32), 2, "uint32 cast"),
            ])
        },
        kernel: { try CastKernel($0) },  // TFLM kernels/cast.cc
        fold: { f in
            guard let x = f.first, f.outputs.count == 1 else { return nil }
            return ConstantEvaluator.cast(x, to: f.outputs[0].dtype).map { [$0] }
        },
        // LiteRT kernels/cast.cc Prepare: the input's shape.
        shape: { $0.sameAsInput }
    )
}
