import FlatBuffers
import IR
import Kernels

/// Maps an op to its kernel (declared with its operator in `OperatorTable`, or with its custom
/// code in `CustomOperatorTable`); anything without one becomes an `Unsupported` reason.
package enum KernelFactory {
    package static func make(_ c: KernelContext) throws -> any Kernel {
        if case .custom(let code) = c.op.kind {
            guard let kernel = CustomOperatorTable[code]?.kernel else { throw Unsupported("custom op \"\(code)\" has no kernel") }
            let options: FlexBufferMap
            do {
                options = try FlexBufferMap(c.op.customOptions?.array ?? [])
            } catch let e as FlatBufferError {
                throw Unsupported("custom options: \(e)")
            }
            return try kernel(c, options)
        }
        guard let kernel = OperatorTable[c.op.builtinOperator]?.kernel else { throw Unsupported("no kernel for this op") }
        return try kernel(c)
    }

    /// Why an op kind has no kernel at all (nil when it has one, for some dtypes at least).
    package static func missingKernel(_ kind: OpKind) -> String? {
        if case .custom(let code) = kind {
            return CustomOperatorTable[code]?.kernel == nil ? "custom op \"\(code)\" has no kernel" : nil
        }
        return OperatorTable[kind.builtinOperator]?.kernel == nil ? "no kernel for this op" : nil
    }
}
