import FlatBuffers
import IR
import Kernels

// Control flow: WHILE, IF and CALL_ONCE run other subgraphs of the model (schema.fbs
// WhileOptions, IfOptions, CallOnceOptions; TFLM while.cc, if.cc, call_once.cc). Their options
// stay opaque (the subgraph indices round-trip byte for byte); the kernels read the indices.
extension OperatorTable {
    static let controlFlowOperators = [whileLoop, ifThenElse, callOnce]

    /// A subgraph index from an opaque options table; a missing or negative one is refused.
    static func subgraphIndex(_ c: KernelContext, field: Int, _ what: String) throws -> Int {
        guard case .builtin(_, let options) = c.op.kind, let options else { throw Unsupported("has no options naming its \(what) subgraph") }
        let index = options.int32(field, default: 0)
        guard index >= 0 else { throw Unsupported("\(what) subgraph index \(index) is negative") }
        return Int(index)
    }

    static let whileLoop = OperatorDefinition(
        .whileLoop,
        // WhileOptions: 0 cond_subgraph_index, 1 body_subgraph_index.
        kernel: { c in
            try WhileKernel(c, condition: try subgraphIndex(c, field: 0, "condition"), body: try subgraphIndex(c, field: 1, "body"))
        }
    )

    static let ifThenElse = OperatorDefinition(
        .ifThenElse,
        // IfOptions: 0 then_subgraph_index, 1 else_subgraph_index.
        kernel: { c in
            try IfKernel(c, then: try subgraphIndex(c, field: 0, "then"), else: try subgraphIndex(c, field: 1, "else"))
        }
    )

    static let callOnce = OperatorDefinition(
        .callOnce,
        // CallOnceOptions: 0 init_subgraph_index.
        kernel: { c in try CallOnceKernel(c, initializer: try subgraphIndex(c, field: 0, "init")) }
    )
}
