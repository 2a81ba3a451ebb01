import FlatBuffers
import IR
import Kernels

// ARG_MAX, ARG_MIN, SUM, CUMSUM, ADD_N, FLOOR_MOD (TFLM arg_min_max.cc, reduce.cc, cumsum.cc,
// add_n.cc, floor_mod.cc; versions from LiteRT's op_version.cc). Options (schema.fbs):
// ReducerOptions 0 keep_dims; CumsumOptions 0 exclusive, 1 reverse.
extension OperatorTable {
    static let argReduceOperators = [argMax, argMin, sum, cumsum, addN, floorMod]

    static let argMax = OperatorDefinition(.argMax, version: argVersion, kernel: { c in try ArgMinMaxKernel(c, isMax: true) }, shape: argShape)
    static let argMin = OperatorDefinition(.argMin, version: argVersion, kernel: { c in try ArgMinMaxKernel(c, isMax: false) }, shape: argShape)
    static let sum = OperatorDefinition(
        .sum, version: int8InputVersion,
        kernel: { c in
            // reduce.cc EvalSum: int8 and int16 share MEAN's QuantizedMeanOrSum (compute_sum).
            if let t = c.optionalInput(0)?.dtype, t == .int8 || t == .int16 {
                return try MeanKernel(c, keepDims: (try opaqueOptions(c)?.int8(0, default: 0) ?? 0) != 0, sum: true)
            }
            return try reduceKernel(c, .sum)
        },
        shape: reducerShape)
    static let cumsum = OperatorDefinition(
        .cumsum,
        kernel: { c in
            let o = try opaqueOptions(c)
            return try CumSumKernel(c, exclusive: (o?.int8(0, default: 0) ?? 0) != 0, reverse: (o?.int8(1, default: 0) ?? 0) != 0)
        },
        shape: { $0.sameAsInput }
    )
    static let addN = OperatorDefinition(.addN, kernel: { c in try AddNKernel(c) }, shape: { $0.sameAsInput })
    static let floorMod = OperatorDefinition(.floorMod, kernel: { c in try FloorDivModKernel(c, isMod: true) }, shape: { $0.broadcast })

    /// LiteRT kernels/arg_min_max.cc ResizeOutput: the input's shape without the axis (a scalar
    /// or one-element constant, negative counting from the end).
    @Sendable static func argShape(_ s: ShapeInference) -> [[Int32]]? {
        guard let x = s.shape(0), let axes = s.constant(1), axes.values.count == 1,
              let axis = ShapeMath.axis(axes.values[0], rank: x.count) else { return nil }
        return [x.indices.filter { $0 != axis }.map { x[$0] }]
    }

    /// SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_ALL: ReducerOptions field 0 keep_dims.
    @Sendable static func reducerShape(_ s: ShapeInference) -> [[Int32]]? { s.reduced(keepDims: s.flag(0)) }

    /// REDUCE_MAX, REDUCE_MIN, SUM: keep_dims from ReducerOptions.
    static func reduceKernel(_ c: KernelContext, _ operation: ReduceKernel.Operation) throws -> any Kernel {
        try ReduceKernel(c, operation, keepDims: (try opaqueOptions(c)?.int8(0, default: 0) ?? 0) != 0)
    }
}
