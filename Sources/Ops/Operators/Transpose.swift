import FlatBuffers
import IR
import Kernels

// TRANSPOSE (LiteRT's op_version.cc; TFLM's transpose kernel).
extension OperatorTable {
    static let transposeOperators = [transpose]

    static let transpose = OperatorDefinition(
        .transpose,
        version: { s in
            s.first([
                (s.rank(0) > 6 || s.input(0) == .bfloat16, 8, s.input(0) == .bfloat16 ? "bfloat16 input" : "input rank \(s.rank(0)) > 6"),
                (s.input(0) == .int4, 7, "int4 input"),
                (s.rank(0) > 5, 6, "input rank \(s.rank(0)) > 5"),
                (s.input(0) == .int16, 5, "int16 input"),
                (s.rank(0) > 4, 4, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        },
        quantization: { op, _ in
            guard case .builtin = op.kind else { return nil }
            return .init(roles: [.activation, .passThrough], output: .sameAsInput, int16: true)  // TFLM transpose.cc: int16
        },
        kernel: { c in try TransposeKernel(c) },
        fold: { f in
            guard f.inputs.count == 2, let x = f.inputs[0], let perm = f.inputs[1]?.integers, perm.count == x.shape.count,
                perm.map(Int.init).sorted() == Array(0..<x.shape.count)
            else { return nil }
            return [x.transposed(perm.map(Int.init))]
        },
        // LiteRT kernels/transpose.cc ResizeOutputTensor: output dimension i is input dimension
        // perm[i]; perm is a constant permutation of 0..<rank.
        shape: { s in
            guard let x = s.shape(0), let perm = s.vector(1), perm.count == x.count,
                perm.sorted() == Array(0..<Int64(x.count))
            else { return nil }
            return [perm.map { x[Int($0)] }]
        }
    )
}
