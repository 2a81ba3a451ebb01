import FlatBuffers
import IR
import Kernels

// One-input math ops: ABS, NEG, EXP, LOG, FLOOR, CEIL, ROUND, SIN, COS, SQUARE, ELU (TFLM's
// elementwise.cc, neg.cc, exp.cc, floor.cc, ceil.cc, round.cc, elu.cc; versions from LiteRT's
// op_version.cc). Each kernel's Prepare resizes the output to the input's shape.
extension OperatorTable {
    static let mathOperators = [
        math(.abs, .abs, version: { s in s.first([(s.input(0) == .int16, 3, "int16 input"), (s.input(0) == .int8, 2, "int8 input")]) }),
        math(.neg, .neg, version: int8InputVersion),
        math(.exp, .exp, version: int8Or16InputV2),
        math(.log, .log, version: int8Or16InputV2),
        math(.floor, .floor),
        math(.ceil, .ceil),
        math(.round, .round),
        math(.sin, .sin),
        math(.cos, .cos),
        math(.square, .square),
        math(.elu, .elu, version: int8InputVersion),
    ]

    static func math(_ code: BuiltinOperator, _ operation: MathOperation,
                     version: (@Sendable (OpVersions.Signature) -> MinimumVersion)? = nil) -> OperatorDefinition {
        OperatorDefinition(
            code,
            version: version,
            kernel: { c in try MathKernel(c, operation) },
            fold: { f in f.unaryFloat(operation.float) },
            shape: { $0.sameAsInput }
        )
    }

    /// The options table of an op tfrewrite keeps opaquely (nil when the file has none).
    static func opaqueOptions(_ c: KernelContext) throws -> OpaqueOptions? {
        guard case .builtin(_, let options) = c.op.kind else { throw Unsupported("no kernel for this op") }
        return options
    }
}
