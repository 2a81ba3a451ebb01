import FlatBuffers
import IR
import Kernels

// Comparisons and boolean logic (schema.fbs: the options tables have no fields; LiteRT's
// op_version.cc for the versions; TFLM comparisons.cc and logical.cc for the kernels). They
// produce bool tensors, so the quantizer leaves them alone.
extension OperatorTable {
    static let comparisonOperators = [
        // comparisons.cc / logical.cc Prepare: the inputs' broadcast shape; LOGICAL_NOT keeps its input's.
        OperatorDefinition(.less, version: OpVersions.int8OrInt16Input, kernel: { c in try ComparisonKernel(c, .less) }, shape: { $0.broadcast }),
        OperatorDefinition(.lessEqual, version: int8InputVersion, kernel: { c in try ComparisonKernel(c, .lessEqual) }, shape: { $0.broadcast }),
        OperatorDefinition(.greater, version: int8InputVersion, kernel: { c in try ComparisonKernel(c, .greater) }, shape: { $0.broadcast }),
        OperatorDefinition(.greaterEqual, version: OpVersions.int8OrInt16Input, kernel: { c in try ComparisonKernel(c, .greaterEqual) }, shape: { $0.broadcast }),
        OperatorDefinition(.equal, version: equalityVersion, kernel: { c in try ComparisonKernel(c, .equal) }, shape: { $0.broadcast }),
        OperatorDefinition(.notEqual, version: equalityVersion, kernel: { c in try ComparisonKernel(c, .notEqual) }, shape: { $0.broadcast }),
        OperatorDefinition(.logicalAnd, kernel: { c in try LogicalKernel(c, .and) }, shape: { $0.broadcast }),
        OperatorDefinition(.logicalOr, kernel: { c in try LogicalKernel(c, .or) }, shape: { $0.broadcast }),
        OperatorDefinition(.logicalNot, kernel: { c in try LogicalKernel(c, .not) }, shape: { $0.sameAsInput }),
    ]

    /// op_version.cc EQUAL / NOT_EQUAL: 3 for strings, 2 for int8.
    static let equalityVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([(s.input(0) == .string, 3, "string input"), (s.input(0) == .int8, 2, "int8 input")])
    }
}
