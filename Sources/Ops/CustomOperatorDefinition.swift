import FlatBuffers
import IR
import Kernels

/// What tfrewrite knows about one custom operator (BuiltinOperator CUSTOM), keyed by its
/// `custom_code`: declared once in the file of its family under `Operators/` and listed in
/// `CustomOperatorTable.all`. Custom ops keep their options as flexbuffer bytes
/// (`Op.customOptions`); the kernel factory reads them as a map before calling `kernel`.
public struct CustomOperatorDefinition: Sendable {
    public let code: String
    /// The `MicroMutableOpResolver` method that registers TFLM's kernel for this op
    /// (tensorflow/lite/micro/micro_mutable_op_resolver.h, e.g. `AddPCAN` for "SignalPCAN"),
    /// nil when TFLM ships none and the application must register its own.
    public let resolverMethod: String?
    /// The reference kernel (throws `Unsupported` for what it cannot run).
    package var kernel: (@Sendable (KernelContext, FlexBufferMap) throws -> any Kernel)?

    package init(_ code: String, resolverMethod: String? = nil, kernel: (@Sendable (KernelContext, FlexBufferMap) throws -> any Kernel)? = nil) {
        self.code = code
        self.resolverMethod = resolverMethod
        self.kernel = kernel
    }
}

/// Every custom operator tfrewrite declares, by custom code.
package enum CustomOperatorTable {
    /// One entry per custom code; `OperatorTableTests` checks that no code is declared twice.
    package static let all: [CustomOperatorDefinition] = signalOperators + microOnlyOperators

    private static let byCode: [String: CustomOperatorDefinition] = {
        var d: [String: CustomOperatorDefinition] = [:]
        for def in all where d[def.code] == nil { d[def.code] = def }
        return d
    }()

    package static subscript(_ code: String) -> CustomOperatorDefinition? { byCode[code] }
}
