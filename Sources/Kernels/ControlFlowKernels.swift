import IR
import Support

// MARK: - WHILE, IF, CALL_ONCE

/// What the control-flow kernels share: checking that a subgraph's signature fits the op.
enum ControlFlow {
    static func require(_ runner: any SubgraphRunner, inputs: [DType], outputs: [DType]?, _ what: String) throws {
        guard runner.inputTypes == inputs else {
            throw Unsupported("\(what) takes \(runner.inputTypes.map(\.name)), the op gives \(inputs.map(\.name))")
        }
        if let outputs, runner.outputTypes != outputs {
            throw Unsupported("\(what) returns \(runner.outputTypes.map(\.name)), the op expects \(outputs.map(\.name))")
        }
    }

    static func tensors(_ slots: [Slot], at label: String) throws -> [RuntimeTensor] {
        try slots.map { s in
            guard let t = s.tensor() else { throw InterpreterError.runtime("tensor \(s.name) of type \(s.dtype.name) cannot be passed on", at: label) }
            return t
        }
    }

    static func store(_ results: [RuntimeTensor], in slots: [Slot], at label: String) throws {
        for (slot, t) in zip(slots, results) where !slot.load(t) {
            throw InterpreterError.runtime("result \(t.typeDescription) does not fit output \(slot.name) (\(slot.dtype.name))", at: label)
        }
    }
}

/// WHILE (TFLite while.cc; TFLM while.cc): the loop variables go through the condition
/// subgraph (one bool) and, while it says true, through the body, whose outputs are the next
/// values; the op's outputs are the last values. A loop that has not ended after
/// `maxIterations` is an error rather than a hang: recurrent models loop over their time steps
/// (thousands at most), and a constant-true condition in a hostile file must not stall the tool.
package final class WhileKernel: Kernel {
    package static let maxIterations = 1 << 16

    private let label: String
    private let inputs: [Slot]
    package let outputs: [Slot]
    private let condition: any SubgraphRunner, body: any SubgraphRunner

    package init(_ c: KernelContext, condition conditionIndex: Int, body bodyIndex: Int) throws {
        label = c.label
        inputs = try (0..<c.op.inputs.count).map { try c.input($0) }
        outputs = try (0..<c.op.outputs.count).map { try c.output($0) }
        let types = inputs.map(\.dtype)
        guard outputs.map(\.dtype) == types else { throw Unsupported("outputs \(outputs.map(\.dtype.name)) differ from the loop variables \(types.map(\.name))") }
        condition = try c.subgraph(conditionIndex)
        body = try c.subgraph(bodyIndex)
        try ControlFlow.require(condition, inputs: types, outputs: [.bool], "the condition subgraph \(conditionIndex)")
        try ControlFlow.require(body, inputs: types, outputs: types, "the body subgraph \(bodyIndex)")
    }

    package func run() throws {
        var values = try ControlFlow.tensors(inputs, at: label)
        var iteration = 0
        while true {
            guard let go = try condition.run(values).first?.bools, go.count == 1 else {
                throw InterpreterError.runtime("the condition did not give one bool", at: label)
            }
            guard go[0] else { break }
            iteration += 1
            guard iteration <= Self.maxIterations else {
                throw InterpreterError.runtime("the loop did not end after \(Self.maxIterations) iterations", at: label)
            }
            values = try body.run(values)
        }
        try ControlFlow.store(values, in: outputs, at: label)
    }
}

/// IF (TFLite if.cc; TFLM if.cc): input 0 is a bool that picks the then or else subgraph; the
/// other inputs are its arguments and its results are the op's outputs.
package final class IfKernel: Kernel {
    private let label: String
    private let predicate: Slot, arguments: [Slot]
    package let outputs: [Slot]
    private let thenBranch: any SubgraphRunner, elseBranch: any SubgraphRunner

    package init(_ c: KernelContext, then thenIndex: Int, else elseIndex: Int) throws {
        label = c.label
        predicate = try c.input(0)
        guard predicate.dtype == .bool else { throw Unsupported("the condition (input 0) is \(predicate.dtype.name), not BOOL") }
        arguments = try (1..<max(1, c.op.inputs.count)).map { try c.input($0) }
        outputs = try (0..<c.op.outputs.count).map { try c.output($0) }
        thenBranch = try c.subgraph(thenIndex)
        elseBranch = try c.subgraph(elseIndex)
        let types = arguments.map(\.dtype), results = outputs.map(\.dtype)
        try ControlFlow.require(thenBranch, inputs: types, outputs: results, "the then subgraph \(thenIndex)")
        try ControlFlow.require(elseBranch, inputs: types, outputs: results, "the else subgraph \(elseIndex)")
    }

    package func run() throws {
        guard predicate.count == 1 else { throw InterpreterError.runtime("the condition has \(predicate.count) elements, not 1", at: label) }
        let branch = predicate.u8[0] != 0 ? thenBranch : elseBranch
        try ControlFlow.store(try branch.run(try ControlFlow.tensors(arguments, at: label)), in: outputs, at: label)
    }
}

/// CALL_ONCE (TFLM call_once.cc): runs its init subgraph (which sets resource variables) on the
/// first invoke only.
package final class CallOnceKernel: Kernel {
    package var outputs: [Slot] { [] }
    private let initializer: any SubgraphRunner
    private var done = false

    package init(_ c: KernelContext, initializer index: Int) throws {
        initializer = try c.subgraph(index)
        try ControlFlow.require(initializer, inputs: [], outputs: [], "the init subgraph \(index)")
    }

    package func run() throws {
        guard !done else { return }
        _ = try initializer.run([])
        done = true
    }
}
