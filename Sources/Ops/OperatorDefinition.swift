import FlatBuffers
import IR
import Kernels
import Support

/// Everything tfrewrite knows about one TFLite builtin operator, declared once in the file of its
/// family under `Operators/`. The importer, the exporter, the reports, the passes, the quantizer,
/// the interpreter and the verifier look an operator up in `OperatorTable` instead of switching
/// over operators themselves. Every aspect is optional: an operator tfrewrite only knows the
/// version rule of declares just that, and keeps its options opaquely.
public struct OperatorDefinition: Sendable {
    public let op: BuiltinOperator
    /// The options table as typed attributes: decode, encode, describe. nil: opaque options.
    package var options: OptionsCodec?
    /// The fused activation the typed attributes carry.
    package var activation: ActivationField?
    /// The constant weights a CONV_2D-like op reads, and their layout.
    package var weights: WeightsOperand?
    /// The sliding window of a convolution or pool: padding, strides, dilations.
    package var window: WindowField?
    /// The activation function this op computes on its own (RELU, RELU6, RELU_N1_TO_1), which
    /// `fuse-activation` moves into the op before it.
    package var standaloneActivation: ActivationFunction?
    /// The lowest version the op's tensor types and options need (LiteRT's op_version.cc).
    package var version: (@Sendable (OpVersions.Signature) -> MinimumVersion)?
    /// How int8 quantization treats the operands and the output; nil result: the op stays float.
    package var quantization: (@Sendable (Op, QuantizationChoices) -> OpQuantizationSpec?)?
    /// The reference kernel (throws `Unsupported` for what it cannot run).
    package var kernel: (@Sendable (KernelContext) throws -> any Kernel)?
    /// Shape and quantization rules beyond the generic ones, for the verifier.
    package var verify: (@Sendable (OpCheck) -> Void)?
    /// The op computed on constant inputs (constant folding), nil when it cannot be.
    package var fold: (@Sendable (ConstantFoldInputs) -> [ConstantTensor]?)?
    /// The attributes of its typed options the rule language may read and write, in the order
    /// messages list them.
    package var attributes: [OperatorAttribute]
    /// The op evaluated on integer constants (shape arithmetic, for `fold-shapes`); nil result
    /// when its inputs are not all known or the case is not handled.
    package var shapeArithmetic: (@Sendable (ShapeOperands) -> IntTensor?)?
    /// The output shapes from the input shapes, constant inputs and options, as the TFLite
    /// kernel's Prepare computes them; nil result when it cannot tell. The verifier compares
    /// them with the IR's static output shapes.
    package var shape: (@Sendable (ShapeInference) -> [[Int32]]?)?
    /// What TFLM's reference kernel takes from the tensor arena for one node (its Init and
    /// Prepare, and the parsed builtin options), for `tfrewrite memory`; nil: not declared.
    package var microFootprint: (@Sendable (MicroFootprintContext) throws -> MicroKernelFootprint)?

    package init(
        _ op: BuiltinOperator,
        options: OptionsCodec? = nil,
        activation: ActivationField? = nil,
        standaloneActivation: ActivationFunction? = nil,
        weights: WeightsOperand? = nil,
        window: WindowField? = nil,
        version: (@Sendable (OpVersions.Signature) -> MinimumVersion)? = nil,
        quantization: (@Sendable (Op, QuantizationChoices) -> OpQuantizationSpec?)? = nil,
        kernel: (@Sendable (KernelContext) throws -> any Kernel)? = nil,
        verify: (@Sendable (OpCheck) -> Void)? = nil,
        fold: (@Sendable (ConstantFoldInputs) -> [ConstantTensor]?)? = nil,
        attributes: [OperatorAttribute] = [],
        shapeArithmetic: (@Sendable (ShapeOperands) -> IntTensor?)? = nil,
        shape: (@Sendable (ShapeInference) -> [[Int32]]?)? = nil,
        microFootprint: (@Sendable (MicroFootprintContext) throws -> MicroKernelFootprint)? = nil
    ) {
        self.op = op
        self.options = options
        self.activation = activation
        self.standaloneActivation = standaloneActivation
        self.weights = weights
        self.window = window
        self.version = version
        self.quantization = quantization
        self.kernel = kernel
        self.verify = verify
        self.fold = fold
        self.attributes = attributes
        self.shapeArithmetic = shapeArithmetic
        self.shape = shape
        self.microFootprint = microFootprint
    }
}

/// An options table and the typed attributes it becomes (schema.fbs `BuiltinOptions`).
package struct OptionsCodec: Sendable {
    /// The typed kind of a new op (a rule's `insert:` or `convert:`): the options a converter
    /// writes for the plain op.
    package var defaultKind: OpKind?
    /// Typed attributes from the table, and whether an empty table was written (kept so the op
    /// round-trips); nil keeps the options opaque (an unexpected tag or field value).
    package var decode: @Sendable (OptionsReader) throws -> (OpKind, emptyTable: Bool)?
    /// The union tag and table for the typed op; nil writes none. A tag with a nil table means
    /// "tag without table".
    package var encode: @Sendable (Op) -> (UInt8, FBTableSpec?)?
    /// Ordered (name, value) pairs for inspect, diff and the IR printer (the fused activation
    /// is shown apart).
    package var describe: @Sendable (OpKind) -> [(String, String)]

    package init(
        defaultKind: OpKind? = nil,
        decode: @escaping @Sendable (OptionsReader) throws -> (OpKind, emptyTable: Bool)?,
        encode: @escaping @Sendable (Op) -> (UInt8, FBTableSpec?)?,
        describe: @escaping @Sendable (OpKind) -> [(String, String)] = { _ in [] }
    ) {
        self.defaultKind = defaultKind
        self.decode = decode
        self.encode = encode
        self.describe = describe
    }

    /// An op with no options: typed when the file wrote none (or, for ops whose converters write
    /// an empty table, that empty table), opaque otherwise.
    package static func none(_ kind: OpKind, emptyTableTag: UInt8? = nil) -> OptionsCodec {
        OptionsCodec(
            defaultKind: kind,
            decode: { r in
                if r.tag == Schema.OptionsTag.none { return (kind, false) }
                guard let t = emptyTableTag, r.tag == t, r.table.map({ $0.rawVTableEntries().allSatisfy { $0 == 0 } }) ?? true else { return nil }
                return (kind, r.table != nil)
            },
            encode: { op in
                guard op.emptyOptionsTable, let t = emptyTableTag else { return nil }
                return (t, FBTableSpec())
            }
        )
    }
}

/// Reads the scalar fields of one options table; missing fields give the schema default.
package struct OptionsReader {
    package let tag: UInt8
    package let table: FBTable?

    package init(tag: UInt8, table: FBTable?) {
        self.tag = tag
        self.table = table
    }

    /// True when the union tag is `expected` and a table is present.
    package func isTable(_ expected: UInt8) -> Bool { tag == expected && table != nil }
    package func i32(_ id: Int, _ d: Int32 = 0) throws -> Int32 { try table?.scalar(id, default: d) ?? d }
    package func i8(_ id: Int, _ d: Int8 = 0) throws -> Int8 { try table?.scalar(id, default: d) ?? d }
    package func flag(_ id: Int, _ d: Bool = false) throws -> Bool { try table?.bool(id, default: d) ?? d }
    package func f32(_ id: Int, _ d: Float = 0) throws -> Float { try table?.float32(id, default: d) ?? d }
    package func int32s(_ id: Int) throws -> [Int32]? { try table?.scalars(id, as: Int32.self) }
    /// nil for a value the schema does not define (the op then stays opaque).
    package func activation(_ id: Int) throws -> ActivationFunction? { ActivationFunction(rawValue: try i8(id)) }
    package func padding(_ id: Int) throws -> Padding? { Padding(rawValue: try i8(id)) }
}

/// Builds an options table, leaving out fields equal to the schema default as FlatBuffers
/// builders do.
package struct OptionsWriter {
    package var table = FBTableSpec()
    package init() {}
    package mutating func i32(_ id: Int, _ v: Int32, _ d: Int32 = 0) { if v != d { table.add(id, .i32(v)) } }
    package mutating func i8(_ id: Int, _ v: Int8, _ d: Int8 = 0) { if v != d { table.add(id, .i8(v)) } }
    package mutating func flag(_ id: Int, _ v: Bool, _ d: Bool = false) { if v != d { table.add(id, .bool(v)) } }
    package mutating func f32(_ id: Int, _ v: Float, _ d: Float = 0) { if v != d { table.add(id, .f32(v)) } }
    package mutating func int32s(_ id: Int, _ v: [Int32]) { table.add(id, .scalarVector(bytes: le(v), elementSize: 4)) }
}

/// Reads and writes the fused activation of one typed op kind.
package struct ActivationField: Sendable {
    package var get: @Sendable (OpKind) -> ActivationFunction?
    package var set: @Sendable (inout OpKind, ActivationFunction) -> Void
    /// Whether converters fuse a following RELU into it (TF's converter does for CONV/DW/POOL/
    /// FC/ADD/SUB/MUL); false where TFLM's kernel rejects a fused activation (CONCATENATION).
    package var fusable: Bool
    package init(fusable: Bool = true, get: @escaping @Sendable (OpKind) -> ActivationFunction?, set: @escaping @Sendable (inout OpKind, ActivationFunction) -> Void) {
        self.fusable = fusable
        self.get = get
        self.set = set
    }
}

/// The weights operand (1) and bias operand (2) of an op that multiplies its input by constant
/// weights: passes that scale weights, calibration and bias correction work on the layout.
package struct WeightsOperand: Sendable {
    package var layout: FilterLayout
    /// Whether float rewrites may scale the weights (not shuffled weights, not the int16-activation
    /// bias formats).
    package var rescalable: @Sendable (OpKind) -> Bool
    package init(layout: FilterLayout, rescalable: @escaping @Sendable (OpKind) -> Bool = { _ in true }) {
        self.layout = layout
        self.rescalable = rescalable
    }
}

/// An op's constant inputs (nil entries: absent optional inputs) and the result types and
/// shapes the IR already knows, for its `fold`.
package struct ConstantFoldInputs {
    package let kind: OpKind
    package let inputs: [ConstantTensor?]
    package let outputs: [Value]

    package var first: ConstantTensor? { inputs.first ?? nil }
    /// Both operands of a binary op.
    package var pair: (ConstantTensor, ConstantTensor)? {
        guard inputs.count == 2, let x = inputs[0], let y = inputs[1] else { return nil }
        return (x, y)
    }
    /// Every input, when none is absent.
    package var all: [ConstantTensor]? {
        let present = inputs.compactMap { $0 }
        return present.count == inputs.count ? present : nil
    }
    /// The input reshaped to the one output's shape (RESHAPE, SQUEEZE, EXPAND_DIMS).
    package var reshapedToOutput: [ConstantTensor]? {
        guard let x = first, outputs.count == 1, Value.elementCount(outputs[0].shape) == x.elementCount else { return nil }
        return [x.reshaped(outputs[0].shape)]
    }
    /// A float elementwise function of the first input.
    package func unaryFloat(_ f: (Float) -> Float) -> [ConstantTensor]? {
        first.flatMap { ConstantEvaluator.unaryFloat($0, f) }.map { [$0] }
    }
    /// A binary op with broadcasting, then a fused activation.
    package func binary(_ op: ConstantEvaluator.BinaryOperation, activation: ActivationFunction = .none) -> [ConstantTensor]? {
        guard let (x, y) = pair else { return nil }
        return ConstantEvaluator.binary(x, y, op).flatMap { ConstantEvaluator.applyActivation($0, activation) }.map { [$0] }
    }
}

/// The sliding-window geometry of a typed op kind, and a way to change its padding.
package struct Window: Equatable {
    package var padding: Padding
    package var strides: (h: Int, w: Int)
    package var dilations: (h: Int, w: Int)
    /// A pool's window size (its options); nil for convolutions, whose filter tensor has it.
    package var filter: (h: Int, w: Int)? = nil
    package static func == (a: Window, b: Window) -> Bool {
        a.padding == b.padding && a.strides == b.strides && a.dilations == b.dilations && a.filter?.h == b.filter?.h && a.filter?.w == b.filter?.w
    }
}

package struct WindowField: Sendable {
    package var get: @Sendable (OpKind) -> Window?
    package var setPadding: @Sendable (inout OpKind, Padding) -> Void
    package init(get: @escaping @Sendable (OpKind) -> Window?, setPadding: @escaping @Sendable (inout OpKind, Padding) -> Void) {
        self.get = get
        self.setPadding = setPadding
    }
}

/// What the quantizer asks for beyond the op itself.
package struct QuantizationChoices: Sendable {
    /// FULLY_CONNECTED weights get one scale per output unit.
    package var perChannelFullyConnected: Bool
    package init(perChannelFullyConnected: Bool) { self.perChannelFullyConnected = perChannelFullyConnected }
}

/// Every operator tfrewrite declares, by code.
package enum OperatorTable {
    /// One entry per operator; `OperatorTableTests` checks that no code is declared twice. Messages
    /// that list operators (which ops have an attribute) list them in this order.
    package static let all: [OperatorDefinition] =
        convolutionOperators + poolingOperators + fullyConnectedOperators + reshapeOperators
        + softmaxOperators + binaryOperators + unaryOperators + reductionOperators + padOperators
        + concatenationOperators + quantizeOperators + shapeOperators + sliceOperators
        + gatherOperators + transposeOperators + castOperators + squaredDifferenceOperators
        + versionedOperators + recurrentOperators + slicingOperators + comparisonOperators + controlFlowOperators
        + mathOperators + layoutOperators + resizeOperators + normalizationOperators + matMulOperators + argReduceOperators
        + resourceVariableOperators

    private static let byCode: [Int32: OperatorDefinition] = {
        var d: [Int32: OperatorDefinition] = [:]
        for def in all where d[def.op.code] == nil { d[def.op.code] = def }
        return d
    }()

    package static subscript(_ op: BuiltinOperator) -> OperatorDefinition? { byCode[op.code] }

    /// The weights operand of a typed op kind (nil for opaque and custom ops).
    package static func weights(of kind: OpKind) -> WeightsOperand? {
        switch kind {
        case .builtin, .custom: nil
        default: self[kind.builtinOperator]?.weights
        }
    }

    /// The typed kind of an op read from a .tflite file, or nil to keep its options opaque.
    package static func decode(_ op: BuiltinOperator, tag: UInt8, table: FBTable?) throws -> (OpKind, emptyTable: Bool)? {
        guard let codec = self[op]?.options else { return nil }
        return try codec.decode(OptionsReader(tag: tag, table: table))
    }
}

extension OpKind {
    /// The fused activation, for ops whose options carry one; setting it on other ops does nothing.
    public var fusedActivation: ActivationFunction? {
        get { OperatorTable[builtinOperator]?.activation?.get(self) }
        set {
            guard let v = newValue, let field = OperatorTable[builtinOperator]?.activation else { return }
            field.set(&self, v)
        }
    }
}
