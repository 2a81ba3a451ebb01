import FlatBuffers
import IR
import Kernels

// Comparisons and boolean logic (schema.fbs: the options tables have no fields; LiteRT's
// op_version.cc for the versions; TFLM comparisons.cc and logical.cc for the kernels). They
// produce bool tensors, so the quantizer leaves them alone.
extension OperatorTable {
    static let comparisonOperators = [
        // comparisons.cc / logical.cc Prepare: the inputs' broadcast shape; LOGICAL_NOT keeps its input's.
        OperatorDefinition(.less, version: OpVersions.int8OrInt16Input, kernel: { c in try ComparisonKernel(c, .less) }, fold: { foldComparison($0, .less) }, shape: { $0.broadcast }, microFootprint: comparisonFootprint),
        OperatorDefinition(.lessEqual, version: int8InputVersion, kernel: { c in try ComparisonKernel(c, .lessEqual) }, fold: { foldComparison($0, .lessEqual) }, shape: { $0.broadcast }, microFootprint: comparisonFootprint),
        OperatorDefinition(.greater, version: int8InputVersion, kernel: { c in try ComparisonKernel(c, .greater) }, fold: { foldComparison($0, .greater) }, shape: { $0.broadcast }, microFootprint: comparisonFootprint),
        OperatorDefinition(.greaterEqual, version: OpVersions.int8OrInt16Input, kernel: { c in try ComparisonKernel(c, .greaterEqual) }, fold: { foldComparison($0, .greaterEqual) }, shape: { $0.broadcast }, microFootprint: comparisonFootprint),
        OperatorDefinition(.equal, version: equalityVersion, kernel: { c in try ComparisonKernel(c, .equal) }, fold: { foldComparison($0, .equal) }, shape: { $0.broadcast }, microFootprint: comparisonFootprint),
        OperatorDefinition(.notEqual, version: equalityVersion, kernel: { c in try ComparisonKernel(c, .notEqual) }, fold: { foldComparison($0, .notEqual) }, shape: { $0.broadcast }, microFootprint: comparisonFootprint),
        OperatorDefinition(.logicalAnd, kernel: { c in try LogicalKernel(c, .and) }, fold: { foldLogical($0, .and) }, shape: { $0.broadcast }, microFootprint: logicalFootprint),
        OperatorDefinition(.logicalOr, kernel: { c in try LogicalKernel(c, .or) }, fold: { foldLogical($0, .or) }, shape: { $0.broadcast }, microFootprint: logicalFootprint),
        OperatorDefinition(.logicalNot, kernel: { c in try LogicalKernel(c, .not) }, fold: { foldLogical($0, .not) }, shape: { $0.sameAsInput }, microFootprint: { _ in
            // elementwise.cc GenericPrepare: reads input and output; no Init.
            MicroKernelFootprint()
        }),
    ]

    /// comparisons.cc: Init allocates OpData (ComparisonParams, types.h: seven int32 and a
    /// bool); Prepare reads the two inputs. The parsers allocate nothing.
    static let comparisonFootprint: @Sendable (MicroFootprintContext) throws -> MicroKernelFootprint = { c in
        MicroKernelFootprint(initBuffers: [c.size(CStruct([.array(.int32, 7), .bool]))], tempTensors: [.input(0), .input(1)])
    }

    /// logical.cc (LOGICAL_AND, LOGICAL_OR): no Init, no Prepare, nothing parsed.
    static let logicalFootprint: @Sendable (MicroFootprintContext) throws -> MicroKernelFootprint = { _ in
        MicroKernelFootprint(tempTensors: [])
    }

    /// A comparison of constants with broadcasting, as the kernel computes it (float32, int32,
    /// int64, bool); what `unroll-while` evaluates a loop condition with.
    static func foldComparison(_ f: ConstantFoldInputs, _ comparison: Comparison) -> [ConstantTensor]? {
        guard let (x, y) = f.pair, x.type.dtype == y.type.dtype, hasAllElements(x), hasAllElements(y),
            let shape = ConstantEvaluator.broadcastShape(x.shape, y.shape)
        else { return nil }
        let xi = ConstantEvaluator.broadcastIndices(from: x.shape, to: shape)
        let yi = ConstantEvaluator.broadcastIndices(from: y.shape, to: shape)
        func apply<T: Comparable>(_ a: [T], _ b: [T]) -> [UInt8] {
            zip(xi, yi).map { i, j in comparison.holds(a[i], b[j]) ? 1 : 0 }
        }
        let values: [UInt8]
        switch x.type.dtype {
        case .float32: values = apply(x.floats, y.floats)
        case .int32: values = apply(x.scalars(Int32.self), y.scalars(Int32.self))
        case .int64: values = apply(x.scalars(Int64.self), y.scalars(Int64.self))
        case .bool: values = apply(x.bytes.map { $0 != 0 ? 1 : 0 }, y.bytes.map { $0 != 0 ? 1 : 0 })
        default: return nil
        }
        return [ConstantTensor(.bool, shape: shape, values: values)]
    }

    /// LOGICAL_AND / LOGICAL_OR (broadcasting) and LOGICAL_NOT of bool constants.
    static func foldLogical(_ f: ConstantFoldInputs, _ operation: LogicalOperation) -> [ConstantTensor]? {
        guard let x = f.first, x.type.dtype == .bool, hasAllElements(x) else { return nil }
        if operation == .not { return [ConstantTensor(.bool, shape: x.shape, values: x.bytes.map { $0 == 0 ? UInt8(1) : 0 })] }
        guard let (_, y) = f.pair, y.type.dtype == .bool, hasAllElements(y), let shape = ConstantEvaluator.broadcastShape(x.shape, y.shape) else { return nil }
        let xi = ConstantEvaluator.broadcastIndices(from: x.shape, to: shape)
        let yi = ConstantEvaluator.broadcastIndices(from: y.shape, to: shape)
        let values = zip(xi, yi).map { i, j in
            let (p, q) = (x.bytes[i] != 0, y.bytes[j] != 0)
            return (operation == .and ? p && q : p || q) ? UInt8(1) : 0
        }
        return [ConstantTensor(.bool, shape: shape, values: values)]
    }

    /// The constant's bytes hold as many elements as its shape says (a file may lie).
    private static func hasAllElements(_ t: ConstantTensor) -> Bool {
        guard let n = Value.elementCount(t.shape), let size = t.type.dtype.byteSize else { return false }
        return t.bytes.count == n * size
    }

    /// op_version.cc EQUAL / NOT_EQUAL: 3 for strings, 2 for int8.
    static let equalityVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([(s.input(0) == .string, 3, "string input"), (s.input(0) == .int8, 2, "int8 input")])
    }
}
