import FlatBuffers
import Foundation
import IR
import Kernels

// One-input elementwise ops: RELU, RELU6, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RSQRT, SQRT
// (LiteRT's op_version.cc; TFLM's activations, logistic, tanh, hard_swish, leaky_relu and
// elementwise kernels; LOGISTIC/TANH int8 outputs are fixed by the TFLite quantization spec).
// Each kernel's Prepare resizes the output to the input's shape.
extension OperatorTable {
    static let unaryOperators = [relu, relu6, reluN1To1, logistic, tanh, hardSwish, leakyRelu, rsqrt, sqrt]

    static let relu = OperatorDefinition(
        .relu,
        options: .none(.relu),
        standaloneActivation: .relu,
        version: { s in
            s.first([
                (s.input(0) == .int16, 3, "int16 input"),
                (s.input(0) == .int8 || s.input(0) == .uint8, 2, "\(s.name(s.input(0))) input"),
            ])
        },
        quantization: { op, _ in
            guard case .relu = op.kind else { return nil }
            // int16: activations_common.cc CalculateReluOpData<int16_t> rescales to the output.
            return .init(roles: [.activation], output: .free, int16: true)
        },
        kernel: { c in try typedUnary(c, .relu, .relu) },
        fold: { f in
            guard f.kind == .relu else { return nil }
            return f.unaryFloat { max($0, 0) }
        },
        shape: { $0.sameAsInput },
        microFootprint: { c in
            // activations.cc: ReluInit allocates ReluOpData (7 int32 in TFLM's Python package:
            // offsets, multiplier, shift, activation range); ParseRelu allocates nothing.
            .opData(c, .options(ints: 7))
        }
    )

    static let relu6 = OperatorDefinition(
        .relu6,
        options: .none(.relu6),
        standaloneActivation: .relu6,
        version: { s in OpVersions.int8OrInt16Input(s) },
        quantization: { op, _ in
            guard case .relu6 = op.kind else { return nil }
            // TFLM's Relu6Prepare (activations.cc) clamps the raw int8/int16 values between the
            // input's quantized 0 and 6 without rescaling: the output must keep the input's
            // scale and zero point.
            return .init(roles: [.activation], output: .sameAsInput, int16: true)
        },
        kernel: { c in try typedUnary(c, .relu6, .relu6) },
        fold: { f in
            guard f.kind == .relu6 else { return nil }
            return f.unaryFloat { min(max($0, 0), 6) }
        },
        shape: { $0.sameAsInput }
    )

    /// RELU_N1_TO_1 stays opaque; tfrewrite only fuses it into the op before it.
    static let reluN1To1 = OperatorDefinition(.reluN1To1, standaloneActivation: .reluN1To1, shape: { $0.sameAsInput })

    static let logistic = OperatorDefinition(
        .logistic,
        options: .none(.logistic),
        version: { s in OpVersions.int8OrInt16InputAndOutput(s) },
        quantization: { op, _ in
            guard case .logistic = op.kind else { return nil }
            // int16: logistic_common.cc takes any input scale (zero point 0) and requires output
            // scale 2^-15, zero point 0 (int16 values of fixed outputs are Int16x8.fixedOutput).
            return .init(roles: [.activation], output: .fixed(.unitInterval), int16: true)
        },
        kernel: { c in try typedUnary(c, .logistic, .logistic) },
        verify: { check in
            guard case .logistic = check.op.kind else { return }
            check.fixedInt8Output(scale: 1.0 / 256, zeroPoint: -128)
        },
        fold: { f in
            guard f.kind == .logistic else { return nil }
            return f.unaryFloat { 1 / (1 + exp(-$0)) }
        },
        shape: { $0.sameAsInput },
        microFootprint: { c in
            // logistic.cc / logistic.h: Init allocates OpDataLogistic (4 int32); Prepare
            // (logistic_common.cc) reads input, output. ParseLogistic allocates nothing.
            .opData(c, .options(ints: 4))
        }
    )

    static let tanh = OperatorDefinition(
        .tanh,
        options: .none(.tanh),
        version: { s in OpVersions.int8OrInt16InputAndOutput(s) },
        quantization: { op, _ in
            guard case .tanh = op.kind else { return nil }
            // int16: tanh.cc, as LOGISTIC (output scale 2^-15, zero point 0).
            return .init(roles: [.activation], output: .fixed(.signedUnitInterval), int16: true)
        },
        kernel: { c in try typedUnary(c, .tanh, .tanh) },
        verify: { check in
            guard case .tanh = check.op.kind else { return }
            check.fixedInt8Output(scale: 1.0 / 128, zeroPoint: 0)
        },
        fold: { f in
            guard f.kind == .tanh else { return nil }
            return f.unaryFloat { Foundation.tanh($0) }
        },
        shape: { $0.sameAsInput },
        microFootprint: { c in
            // tanh.cc: Init allocates OpData (4 int32); TanhPrepare reads the input, then
            // CalculateArithmeticOpData reads input and output again. ParseTanh allocates nothing.
            MicroKernelFootprint(initBuffers: [c.size(.options(ints: 4))], tempTensors: [.input(0), .input(0), .output(0)])
        }
    )

    static let hardSwish = OperatorDefinition(
        .hardSwish,
        version: { _ in MinimumVersion(1, "no version rule: always 1") },
        kernel: { c in try UnaryKernel(c, .hardSwish) },
        shape: { $0.sameAsInput }
    )

    static let leakyRelu = OperatorDefinition(
        .leakyRelu,
        version: { s in s.first([(s.input(0) == .int16, 2, "int16 input")]) },
        kernel: { c in
            // LeakyReluOptions field 0: alpha (float, schema default 0).
            guard case .builtin(_, let options) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try UnaryKernel(c, .leakyRelu, alpha: options?.float32(0, default: 0) ?? 0)
        },
        // The IR keeps LeakyReluOptions opaquely, so alpha is read-only.
        attributes: [
            OperatorAttribute(
                "alpha",
                read: { (kind: OpKind) -> Float? in if case .builtin(_, let options) = kind { options?.float32(0, default: 0) ?? 0 } else { nil } },
                write: nil
            )
        ],
        shape: { $0.sameAsInput }
    )

    static let rsqrt = OperatorDefinition(
        .rsqrt,
        version: { s in OpVersions.int8OrInt16Input(s) },
        kernel: { c in try UnaryKernel(c, .rsqrt) },
        fold: { f in f.unaryFloat { 1 / $0.squareRoot() } },
        shape: { $0.sameAsInput }
    )

    static let sqrt = OperatorDefinition(
        .sqrt,
        version: { s in s.first([(s.input(0) == .int8 || s.input(0) == .int16, 2, "\(s.name(s.input(0))) input")]) },
        kernel: { c in try UnaryKernel(c, .sqrt) },
        fold: { f in f.unaryFloat { $0.squareRoot() } },
        shape: { $0.sameAsInput }
    )

    /// The kernel of a unary op the IR models, when the op is in its typed form.
    static func typedUnary(_ c: KernelContext, _ kind: OpKind, _ operation: UnaryOperation) throws -> any Kernel {
        guard c.op.kind == kind else { throw Unsupported("no kernel for this op") }
        // TFLM's int16 LOGISTIC, TANH, RELU and RELU6 (logistic_common.cc, tanh.cc, activations_common.cc).
        if c.optionalInput(0)?.dtype == .int16 { return try Int16ActivationKernel(c, operation) }
        return try UnaryKernel(c, operation)
    }
}
