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
        },
        microFootprint: { c in
            // while.cc: Init allocates OpData (two subgraph indices); Prepare reads no tensor.
            // TfLiteWhileParams: cond_subgraph_index, body_subgraph_index.
            var f = MicroKernelFootprint(builtinData: .options(ints: 2), initBuffers: [c.size(.options(ints: 2))], tempTensors: [])
            f.subgraphs = [try footprintSubgraph(c, field: 0, "condition"), try footprintSubgraph(c, field: 1, "body")]
            return f
        }
    )

    static let ifThenElse = OperatorDefinition(
        .ifThenElse,
        // IfOptions: 0 then_subgraph_index, 1 else_subgraph_index.
        kernel: { c in
            try IfKernel(c, then: try subgraphIndex(c, field: 0, "then"), else: try subgraphIndex(c, field: 1, "else"))
        },
        microFootprint: { c in
            // if.cc: Init allocates OpData (two subgraph indices); Prepare reads the condition.
            // TfLiteIfParams: then_subgraph_index, else_subgraph_index.
            var f = MicroKernelFootprint(builtinData: .options(ints: 2), initBuffers: [c.size(.options(ints: 2))], tempTensors: [.input(0)])
            f.subgraphs = [try footprintSubgraph(c, field: 0, "then"), try footprintSubgraph(c, field: 1, "else")]
            return f
        }
    )

    /// A subgraph index for the arena footprint; a missing or negative one is refused.
    static func footprintSubgraph(_ c: MicroFootprintContext, field: Int, _ what: String) throws -> Int {
        guard case .builtin(_, let options) = c.op.kind, let options else { throw FootprintUnknown("\(c.op.name): no options naming its \(what) subgraph") }
        let index = options.int32(field, default: 0)
        guard index >= 0 else { throw FootprintUnknown("\(c.op.name): \(what) subgraph index \(index) is negative") }
        return Int(index)
    }

    static let callOnce = OperatorDefinition(
        .callOnce,
        // CallOnceOptions: 0 init_subgraph_index.
        kernel: { c in try CallOnceKernel(c, initializer: try subgraphIndex(c, field: 0, "init")) }
    )
}
