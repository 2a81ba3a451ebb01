import FlatBuffers
import IR
import Kernels

// Comparisons and boolean logic (schema.fbs: the options tables have no fields; LiteRT's
// op_version.cc for the versions; TFLM comparisons.cc and logical.cc for the kernels). They
// produce bool tensors, so the quantizer leaves them alone.
extension OperatorTable {
    static let comparisonOperators = [
        OperatorDefinition(.less, version: OpVersions.int8OrInt16Input, kernel: { c in try ComparisonKernel(c, .less) }),
        OperatorDefinition(.lessEqual, version: int8InputVersion, kernel: { c in try ComparisonKernel(c, .lessEqual) }),
        OperatorDefinition(.greater, version: int8InputVersion, kernel: { c in try ComparisonKernel(c, .greater) }),
        OperatorDefinition(.greaterEqual, version: OpVersions.int8OrInt16Input, kernel: { c in try ComparisonKernel(c, .greaterEqual) }),
        OperatorDefinition(.equal, version: equalityVersion, kernel: { c in try ComparisonKernel(c, .equal) }),
        OperatorDefinition(.notEqual, version: equalityVersion, kernel: { c in try ComparisonKernel(c, .notEqual) }),
        OperatorDefinition(.logicalAnd, kernel: { c in try LogicalKernel(c, .and) }),
        OperatorDefinition(.logicalOr, kernel: { c in try LogicalKernel(c, .or) }),
        OperatorDefinition(.logicalNot, kernel: { c in try LogicalKernel(c, .not) }),
    ]

    /// op_version.cc EQUAL / NOT_EQUAL: 3 for strings, 2 for int8.
    static let equalityVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([(s.input(0) == .string, 3, "string input"), (s.input(0) == .int8, 2, "int8 input")])
    }
}
