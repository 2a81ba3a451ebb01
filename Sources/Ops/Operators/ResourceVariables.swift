import FlatBuffers
import IR
import Kernels

// VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, BROADCAST_ARGS, REDUCE_ALL (TFLM var_handle.cc,
// read_variable.cc, assign_variable.cc, broadcast_args.cc, reduce.cc). VarHandleOptions
// (schema.fbs): 0 container, 1 shared_name (strings).
extension OperatorTable {
    static let resourceVariableOperators = [varHandle, readVariable, assignVariable, broadcastArgs, reduceAll]

    static let varHandle = OperatorDefinition(
        .varHandle,
        kernel: { c in
            let o = try opaqueOptions(c)
            func string(_ id: Int) -> String {
                if case .string(let s)? = o?.references[id] { return s }
                return ""
            }
            return try VarHandleKernel(c, container: string(0), sharedName: string(1))
        },
        // A scalar RESOURCE handle (what the converter writes; var_handle.cc gives it no shape).
        shape: { _ in [[]] }
    )
    // The value's shape is the variable's, set by whichever ASSIGN_VARIABLE ran last (LiteRT's
    // read_variable.cc resizes the output at Eval): nothing to infer from the op alone.
    static let readVariable = OperatorDefinition(.readVariable, kernel: { c in try ReadVariableKernel(c) }, shape: { _ in nil })
    static let assignVariable = OperatorDefinition(.assignVariable, kernel: { c in try AssignVariableKernel(c) }, shape: { _ in [] })
    /// LiteRT kernels/broadcast_args.cc: a 1-D shape as long as the longer of the two 1-D inputs.
    static let broadcastArgs = OperatorDefinition(
        .broadcastArgs, kernel: { c in try BroadcastArgsKernel(c) },
        shape: { s in
            guard let a = s.shape(0), let b = s.shape(1), a.count == 1, b.count == 1 else { return nil }
            return [[max(a[0], b[0])]]
        })
    static let reduceAll = OperatorDefinition(.reduceAll, kernel: { c in try reduceKernel(c, .all) }, shape: reducerShape)
}
