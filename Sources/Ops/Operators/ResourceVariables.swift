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
        }
    )
    static let readVariable = OperatorDefinition(.readVariable, kernel: { c in try ReadVariableKernel(c) })
    static let assignVariable = OperatorDefinition(.assignVariable, kernel: { c in try AssignVariableKernel(c) })
    static let broadcastArgs = OperatorDefinition(.broadcastArgs, kernel: { c in try BroadcastArgsKernel(c) })
    static let reduceAll = OperatorDefinition(.reduceAll, kernel: { c in try reduceKernel(c, .all) })
}
