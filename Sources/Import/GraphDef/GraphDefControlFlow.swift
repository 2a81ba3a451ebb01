import FlatBuffers
import IR
import Ops
import Support
import TFProto

// TF1 control flow (`tf.while_loop` and `tf.cond` as graph nodes, TF's control_flow_ops.py) and
// the TensorArrays that `dynamic_rnn` reads its time steps from and writes its outputs to.
//
// A TF1 while loop is a frame: `Enter` nodes (frame_name) bring tensors into it, once per loop
// variable (is_constant=false) or as loop invariants (is_constant=true); each loop variable goes
// `Merge(Enter, NextIteration)` → `Switch(·, LoopCond)`, whose true output feeds the body and
// whose false output leaves through `Exit`; the body's new value goes back through
// `NextIteration`. Tensors on a branch not taken are "dead" (TF's executor semantics): a node
// with a dead input is dead, except `Merge`, which forwards its one live input.
//
// TFLite has no such frames, so a loop whose condition is a constant in every iteration (the
// static sequence length of an RNN) is unrolled here: the frame's nodes are lowered once per
// iteration, with the loop variables threaded from `NextIteration` to `Merge`, until the
// condition is false, and the `Exit` nodes then hold the final values. Values made in iteration
// k are named `<name>/iter<k>`, as `unroll-while` names them. A TensorArray is bookkeeping only:
// the IR value of each element; a scatter becomes one UNPACK, a read or write picks or sets an
// element (the index is a constant in an unrolled iteration), a gather becomes a PACK.

/// The state the control-flow lowering keeps beside `GraphDefLowering.tensors`.
package struct GraphDefControlFlowState {
    /// Outputs on a branch not taken (a Switch's other output).
    var deadTensors = Set<TFTensorRef>()
    /// Nodes with a dead input: every output is dead.
    var deadNodes = Set<String>()
    /// TensorArray handles and flows → index into `arrays`.
    var arrayRefs: [TFTensorRef: Int] = [:]
    var arrays: [GraphDefTensorArray] = []
    /// While a loop is unrolled: its constants by content, so every iteration reads one tensor.
    package var sharedConstants: [ConstantTensor: ValueID]?

    package init() {}

    func isDead(_ ref: TFTensorRef) -> Bool { deadTensors.contains(ref) || deadNodes.contains(ref.node) }
}

/// One TensorArrayV3: its elements as IR values (nil until written).
struct GraphDefTensorArray {
    var node: String
    var elements: [ValueID?]
    var dynamicSize: Bool
}

/// Import limits for unrolling (the defaults of `unroll-while`'s max_trips and max_ops).
package enum GraphDefUnrollLimits {
    package static let maxTrips = 1024
    package static let maxOps = 20_000
}

extension GraphDefLowering {
    /// Ops handled here rather than by `lowerings`.
    package static let controlFlowOps: Set<String> = [
        "Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond",
        "TensorArrayV3", "TensorArrayScatterV3", "TensorArrayReadV3", "TensorArrayWriteV3",
        "TensorArrayGatherV3", "TensorArraySizeV3",
    ]

    /// Lowers the needed nodes in `order`; TF1 while frames are unrolled as a unit.
    package mutating func lowerNodes(_ order: [Int], cuts: Set<Int>) throws {
        let frames = try GraphDefFrames(topology: topology, order: order, cuts: cuts)
        if frames.frames.isEmpty {
            for i in order where !cuts.contains(i) { try lowerLive(topology.nodes[i]) }
            return
        }
        for unit in try frames.schedule() {
            switch unit {
            case .node(let i): try lowerLive(topology.nodes[i])
            case .frame(let f): try unroll(frames.frames[f])
            }
        }
    }

    // MARK: - Dead tensors and the control-flow nodes

    /// A node's data inputs as tensor names.
    func dataInputRefs(_ node: TFNodeDef) throws -> [TFTensorRef] {
        try node.inputs.filter { !$0.hasPrefix("^") }.map { text in
            guard let ref = TFTensorRef(parsing: text) else { throw node.invalid("input '\(text)' is not a valid tensor name") }
            return ref
        }
    }

    /// Whether `ref` has a value here: an IR value or a TensorArray.
    func isAvailable(_ ref: TFTensorRef) -> Bool { tensors[ref] != nil || controlFlow.arrayRefs[ref] != nil }

    /// Copies what `from` holds (an IR value or a TensorArray) to `to`.
    mutating func forward(_ from: TFTensorRef, to: TFTensorRef, node: TFNodeDef) throws {
        if let v = tensors[from] {
            tensors[to] = v
        } else if let a = controlFlow.arrayRefs[from] {
            controlFlow.arrayRefs[to] = a
        } else {
            throw node.invalid("reads '\(from)', which cannot be converted (an output of '\(from.node)' that is not provided)")
        }
    }

    /// Lowers `node` unless one of its inputs is dead (then it is dead too); control flow and
    /// TensorArray nodes here, everything else through `lower`.
    mutating func lowerLive(_ node: TFNodeDef) throws {
        let refs = try dataInputRefs(node)
        if node.op == "Merge" {
            // The one live input (a loop's Merge is handled by `unroll`).
            guard let live = refs.first(where: { !controlFlow.isDead($0) && isAvailable($0) }) else {
                controlFlow.deadNodes.insert(node.name)
                return
            }
            try forward(live, to: TFTensorRef(node: node.name), node: node)
            return
        }
        if refs.contains(where: controlFlow.isDead) {
            controlFlow.deadNodes.insert(node.name)
            return
        }
        let out = TFTensorRef(node: node.name)
        switch node.op {
        case "Enter", "Exit", "NextIteration", "LoopCond":
            guard let x = refs.first else { throw node.invalid("has no input") }
            try forward(x, to: out, node: node)
        case "Switch":
            guard refs.count == 2 else { throw node.invalid("needs 2 inputs (data, predicate), has \(refs.count)") }
            let taken = try constantPredicate(refs[1], node: node)
            try forward(refs[0], to: TFTensorRef(node: node.name, index: taken ? 1 : 0), node: node)
            controlFlow.deadTensors.insert(TFTensorRef(node: node.name, index: taken ? 0 : 1))
        case _ where node.op.hasPrefix("TensorArray"):
            try lowerTensorArray(node, refs)
        case _ where Self.passThroughOps.contains(node.op) && refs.first.map({ controlFlow.arrayRefs[$0] != nil }) == true:
            try forward(refs[0], to: out, node: node)
        default:
            try lower(node)
        }
    }

    /// The value of a Switch predicate, which must be a constant boolean scalar here.
    func constantPredicate(_ ref: TFTensorRef, node: TFNodeDef) throws -> Bool {
        guard let v = tensors[ref] else {
            throw node.invalid("reads '\(ref)', which cannot be converted (an output of '\(ref.node)' that is not provided)")
        }
        guard let t = constant(v), let values = t.integers, values.count == 1 else {
            throw node.invalid(
                "its predicate '\(ref)' is computed at run time; only loops and conds whose condition is a constant after shape folding (a static sequence length) are converted")
        }
        return values[0] != 0
    }

    // MARK: - Unrolling a while frame

    mutating func unroll(_ frame: GraphDefFrame) throws {
        let members = frame.members.map { topology.nodes[$0] }
        let memberNames = Set(members.map(\.name))
        // Each loop Merge reads its Enter (first iteration) and its NextIteration (the others).
        var loopMerges: [String: (initial: TFTensorRef, next: TFTensorRef)] = [:]
        for node in members where node.op == "Merge" {
            let refs = try dataInputRefs(node)
            guard let next = refs.first(where: { topology.node($0.node)?.op == "NextIteration" }) else { continue }
            guard refs.count == 2, let initial = refs.first(where: { $0 != next }) else {
                throw node.invalid("a while loop's Merge needs 2 inputs (Enter, NextIteration), has \(refs.count)")
            }
            loopMerges[node.name] = (initial, next)
        }
        guard !loopMerges.isEmpty else {
            throw GraphDefImportError.graph("while loop '\(frame.name)' has no loop variable (no Merge reading a NextIteration)")
        }
        let opsBefore = graph.ops.count
        controlFlow.sharedConstants = [:]
        defer { controlFlow.sharedConstants = nil }
        var carried: [String: TFTensorRef] = [:]  // Merge name → where its next value is held
        var iteration = 0
        while true {
            if iteration > GraphDefUnrollLimits.maxTrips {
                throw GraphDefImportError.graph(
                    "while loop '\(frame.name)' runs more than \(GraphDefUnrollLimits.maxTrips) iterations, too many to unroll into a TFLite model")
            }
            if graph.ops.count - opsBefore > GraphDefUnrollLimits.maxOps {
                throw GraphDefImportError.graph(
                    "while loop '\(frame.name)' unrolls into more than \(GraphDefUnrollLimits.maxOps) ops (after \(iteration) iterations), too many for a TFLite model")
            }
            // Keep the values for this iteration's Merges, then forget the previous iteration.
            var nextValues: [String: (ValueID?, Int?)] = [:]
            for (merge, ref) in carried { nextValues[merge] = (tensors[ref], controlFlow.arrayRefs[ref]) }
            tensors = tensors.filter { !memberNames.contains($0.key.node) }
            controlFlow.arrayRefs = controlFlow.arrayRefs.filter { !memberNames.contains($0.key.node) }
            controlFlow.deadTensors = controlFlow.deadTensors.filter { !memberNames.contains($0.node) }
            controlFlow.deadNodes.subtract(memberNames)

            let valuesBefore = graph.values.count
            var continues: Bool?
            for node in members {
                if let merge = loopMerges[node.name] {
                    let out = TFTensorRef(node: node.name)
                    if iteration == 0 {
                        try forward(merge.initial, to: out, node: node)
                    } else if let (v, a) = nextValues[node.name], v != nil || a != nil {
                        if let v { tensors[out] = v } else if let a { controlFlow.arrayRefs[out] = a }
                    } else {
                        throw node.invalid("gets no value from '\(merge.next)' for iteration \(iteration) of while loop '\(frame.name)'")
                    }
                    continue
                }
                try lowerLive(node)
                if node.op == "LoopCond", !controlFlow.deadNodes.contains(node.name) {
                    continues = try constantPredicate(TFTensorRef(node: node.name), node: node)
                }
            }
            for v in valuesBefore..<graph.values.count {
                graph.values[v].name += "/iter\(iteration)"
            }
            guard let continues else {
                throw GraphDefImportError.graph("while loop '\(frame.name)' has no LoopCond deciding whether it continues")
            }
            if !continues { break }
            for (name, merge) in loopMerges {
                let next = merge.next
                guard let nextNode = topology.node(next.node), let nextInput = try dataInputRefs(nextNode).first else {
                    throw GraphDefImportError.graph("while loop '\(frame.name)': NextIteration '\(next.node)' has no input")
                }
                guard isAvailable(TFTensorRef(node: nextNode.name)) else {
                    throw nextNode.invalid("gets no value in iteration \(iteration) of while loop '\(frame.name)' ('\(nextInput)' is not computed)")
                }
                carried[name] = TFTensorRef(node: nextNode.name)
            }
            iteration += 1
        }
    }
}
