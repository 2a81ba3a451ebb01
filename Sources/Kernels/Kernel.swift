import CFloatKernels
import FlatBuffers
import IR
import Support

/// A reason an op cannot get a kernel; collected into `InterpreterError.unsupportedOps`.
package struct Unsupported: Error {
    package var reason: String
    package init(_ reason: String) { self.reason = reason }
}

/// What a kernel factory sees of one op.
package struct KernelContext {
    package let op: Op
    package let index: Int
    /// The slot holding a value's data, nil for values without one.
    package let slot: (ValueID) -> Slot?
    /// The graph the op belongs to.
    package let graph: Graph

    /// Another subgraph of the model, ready to run: what WHILE, IF and CALL_ONCE call.
    package let subgraph: (Int) throws -> any SubgraphRunner

    /// The model's resource variables, shared by all its subgraphs (VAR_HANDLE, READ_VARIABLE,
    /// ASSIGN_VARIABLE).
    package let resources: ResourceVariables

    package init(op: Op, index: Int, graph: Graph, slot: @escaping (ValueID) -> Slot?,
                 subgraph: @escaping (Int) throws -> any SubgraphRunner = { _ in throw Unsupported("control flow needs the interpreter") },
                 resources: ResourceVariables = ResourceVariables()) {
        self.op = op
        self.index = index
        self.graph = graph
        self.slot = slot
        self.subgraph = subgraph
        self.resources = resources
    }

    package var label: String { "\(op.name) #\(index)" }
    package var inputCount: Int { op.inputs.count }

    package func input(_ i: Int) throws -> Slot {
        guard i < op.inputs.count, !op.inputs[i].isAbsent else { throw Unsupported("input \(i) is missing") }
        guard let s = slot(op.inputs[i]) else { throw Unsupported("input \(i) has no data") }
        return s
    }
    package func optionalInput(_ i: Int) -> Slot? {
        guard i < op.inputs.count, !op.inputs[i].isAbsent else { return nil }
        return slot(op.inputs[i])
    }
    package func output(_ i: Int = 0) throws -> Slot {
        guard i < op.outputs.count, !op.outputs[i].isAbsent, let s = slot(op.outputs[i]) else {
            throw Unsupported("output \(i) is missing")
        }
        return s
    }
    package func constantInput(_ i: Int, _ what: String) throws -> Slot {
        let s = try input(i)
        guard s.isConstant else { throw Unsupported("\(what) is not constant") }
        return s
    }

    /// The error a kernel throws at run time.
    package func failure(_ message: String) -> InterpreterError { .runtime(message, at: label) }
}

/// One op's compiled computation.
package protocol Kernel: AnyObject {
    var outputs: [Slot] { get }
    func run() throws
}

/// A kernel that computes float values calibration must see besides its outputs: an LSTM's
/// cell state at every step (its int16 scale must cover them all, not only the final state).
package protocol IntermediateValuesKernel: Kernel {
    /// Hands `observe` the values of the last run, by the value they belong to.
    func observeIntermediates(_ observe: (ValueID, UnsafeBufferPointer<Float>) -> Void)
}

/// A kernel that keeps state from one run to the next (TFLM's persistent buffers, e.g. the
/// signal library's noise estimate); `resetState` restores the state it had after loading, as
/// TFLM's `MicroInterpreter::Reset` does.
package protocol StatefulKernel: Kernel {
    func resetState()
}

/// A subgraph the interpreter prepared for a control-flow kernel (Kernels cannot see the
/// Interpreter, which lives above them): its inputs' and outputs' types, and a run.
package protocol SubgraphRunner: AnyObject {
    var inputTypes: [DType] { get }
    var outputTypes: [DType] { get }
    func run(_ inputs: [RuntimeTensor]) throws -> [RuntimeTensor]
}
