import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Replaces the WHILE loop TF 2.16+ exports for a Keras 3 `LSTM` layer with one
/// UNIDIRECTIONAL_SEQUENCE_LSTM, the fused op TFLM has a float and an int8 (int16 cell state)
/// kernel for: one op and its weights instead of a loop, or of T copies of the cell.
///
/// Given (WhileOptions cond 1, body 2; the body's index bookkeeping is left out here):
///
///     subgraph 0 "main"
///       input %0 "x": f32[T,1,F]                  time-major steps
///       #0 WHILE (%zero, %zero, %seq0, %h0, %c0, %0) -> %i, %j, %seq: f32[T,1,U], %h, %c, %x
///     subgraph 1 "cond"                            i < T and j < T
///     subgraph 2 "body" (i, j, seq, h, c, x)
///       x_t = GATHER(x, j)
///       z = FULLY_CONNECTED(x_t, W) + RESHAPE(FULLY_CONNECTED(h, R)) + b     W [4U,F], R [4U,U]
///       zi, zf, zg, zo = SPLIT(1, z)
///       c' = LOGISTIC(zf)·c + LOGISTIC(zi)·TANH(zg)
///       h' = LOGISTIC(zo)·TANH(c')
///       seq' = seq with h' written at slot j (return_sequences) or RESHAPE(h', [1,1,U]) (not)
///       -> (i+1, j+1, seq', h', c', x)
///
/// Result:
///
///     subgraph 0 "main"
///       #0 UNIDIRECTIONAL_SEQUENCE_LSTM {TANH, time_major} (%0, W_i, W_f, W_g, W_o, R_i, R_f, R_g,
///            R_o, -, -, -, b_i, b_f, b_g, b_o, -, -, %hidden (variable), %cell (variable), -, -,
///            -, -) -> %seq: f32[T,1,U]        (not return_sequences: a STRIDED_SLICE of the last step)
///
/// The operands follow TFLite's input order (lstm_shared.h, kLstmInputToInputWeightsTensor
/// ... kLstmCellStateTensor): Keras's gate blocks i, f, c, o (keras/src/layers/rnn/lstm.py) are
/// rows of W and R, cut into four [U, F] and [U, U] matrices; every constant term of z (the
/// biases of the FULLY_CONNECTEDs, the ADDed bias) sums into the four gate biases. The states
/// are variable tensors (TFLM and LiteRT keep them between invocations, as for TF's own fused
/// LSTM): a firmware that runs independent windows calls `Reset()` between them.
///
/// Which loop: the body must be exactly the cell above (the roles of the split parts are found
/// from how they are used, so any gate order is recognised), with sigmoid gates and tanh cell
/// and output activations (the fused kernel's; TANH is its `fused_activation_function`), the
/// states starting at zero, counters that start at 0 and step by 1, a condition `counter <
/// const` (ANDed) that runs exactly T times, and the loop's final h, c and counters unused. Any
/// other WHILE stays, with a note when its body has the LSTM's four-way SPLIT.
public struct FuseLstmLoop: GraphPass {
    public static let name = "fuse-lstm-loop"
    public static let summary = "Replace a Keras LSTM's WHILE loop with one UNIDIRECTIONAL_SEQUENCE_LSTM (TFLM's fused float and int8 kernel)"

    public init(options: PassOptions = PassOptions()) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var fusedCallees = Set<Int>()
        var kept: [String] = []
        var skipped = Set<[Int]>()
        search: while true {
            for s in model.subgraphs.indices {
                for i in model.subgraphs[s].ops.indices {
                    let op = model.subgraphs[s].ops[i]
                    guard !op.isErased, op.builtinOperator == .whileLoop, !skipped.contains([s, i]) else { continue }
                    switch LstmLoop.match(model, subgraph: s, op: i) {
                    case .lstm(let loop):
                        guard loop.replace(&model) else {
                            skipped.insert([s, i])
                            kept.append("\(Self.name): \(op.label(OpID(i))) in subgraph \(s) kept: replacing it would make a cycle")
                            continue
                        }
                        context.count("\(Self.name).loops")
                        context.note("\(Self.name): \(op.label(OpID(i))) in subgraph \(s) is now one UNIDIRECTIONAL_SEQUENCE_LSTM; its states are variable tensors kept between invocations: call Reset() (TFLM) or reset_all_variables() (LiteRT) between independent inputs")
                        fusedCallees.formUnion([loop.conditionIndex, loop.bodyIndex])
                        skipped = skipped.filter { $0[0] != s }
                        continue search
                    case .notLstm:
                        skipped.insert([s, i])
                    case .kept(let reason):
                        skipped.insert([s, i])
                        kept.append("\(Self.name): \(op.label(OpID(i))) in subgraph \(s) kept: \(reason)")
                    }
                }
            }
            break
        }
        for line in kept { context.note(line) }
        guard !fusedCallees.isEmpty else { return false }
        let removed = SubgraphCalls.removeUncalled(&model, candidates: fusedCallees)
        if removed > 0 { context.count("\(Self.name).subgraphs-removed", removed) }
        return true
    }
}

/// One recognised Keras LSTM loop: where its pieces are and the fused op's operands.
struct LstmLoop {
    enum Outcome {
        case lstm(LstmLoop)
        /// The body is not an LSTM cell at all (a GRU, a generic loop): no note.
        case notLstm
        /// It looks like an LSTM (a four-way SPLIT) but something does not fit.
        case kept(String)
    }

    var subgraph: Int
    var opIndex: Int
    var conditionIndex: Int
    var bodyIndex: Int
    /// Loop variable positions.
    var sequenceInput: Int, sequenceOutput: Int
    /// Every h' (return_sequences) or only the last step's.
    var returnSequences: Bool
    var steps: Int, batch: Int, features: Int, units: Int
    /// Per gate in TFLite's order (input, forget, cell, output): [U, F], [U, U], [U].
    var inputWeights: [[Float]], recurrentWeights: [[Float]], biases: [[Float]]
    var baseName: String

    static func match(_ model: Model, subgraph s: Int, op opIndex: Int) -> Outcome {
        let loop = model.subgraphs[s].ops[opIndex]
        guard case .builtin(_, let options?) = loop.kind else { return .notLstm }
        // WhileOptions (schema.fbs): field 0 cond_subgraph_index, field 1 body_subgraph_index.
        let c = Int(options.int32(0, default: 0)), b = Int(options.int32(1, default: 0))
        guard c >= 0, c < model.subgraphs.count, b >= 0, b < model.subgraphs.count, c != s, b != s, c != b else { return .notLstm }
        let body = model.subgraphs[b], cond = model.subgraphs[c]
        let n = loop.inputs.count
        guard loop.outputs.count == n, body.inputs.count == n, body.outputs.count == n, cond.inputs.count == n, cond.outputs.count == 1,
            !loop.inputs.contains(where: \.isAbsent), !body.inputs.contains(where: \.isAbsent), !body.outputs.contains(where: \.isAbsent),
            Set(body.inputs).count == n
        else { return .notLstm }
        let splits = body.ops.indices.filter { !body.ops[$0].isErased && body.ops[$0].builtinOperator == .split && body.ops[$0].outputs.count == 4 }
        guard splits.count == 1 else { return .notLstm }
        do {
            var matcher = BodyMatcher(model: model, body: body, bodyIndex: b)
            var found = try matcher.match(split: OpID(splits[0]))
            found.subgraph = s
            found.opIndex = opIndex
            found.conditionIndex = c
            found.bodyIndex = b
            try found.checkLoop(model, loop: loop, cond: cond, matcher: matcher)
            return .lstm(found)
        } catch let failure as LstmLoopMismatch {
            return .kept(failure.reason)
        } catch {
            return .kept("\(error)")
        }
    }

    /// The counters, the condition and the main graph's side of the loop.
    private mutating func checkLoop(_ model: Model, loop: Op, cond: Graph, matcher: BodyMatcher) throws {
        let graph = model.subgraphs[subgraph]
        // Every counter starts at 0; the condition is `counter < N` for counters, ANDed.
        for k in matcher.counters {
            guard let t = model.constant(loop.inputs[k], in: subgraph), t.type.dtype == .int32, t.elementCount == 1, t.scalars(Int32.self) == [0] else {
                throw LstmLoopMismatch("loop variable \(k) counts steps but does not start at a constant 0")
            }
        }
        var limits: [Int] = []
        for op in cond.ops where !op.isErased {
            switch op.builtinOperator {
            case .logicalAnd:
                continue
            case .less:
                guard op.inputs.count == 2, let k = cond.inputs.firstIndex(of: op.inputs[0]), matcher.counters.contains(k),
                    let limit = model.constant(cond[op.inputs[1]]), limit.type.dtype == .int32, limit.elementCount == 1
                else { throw LstmLoopMismatch("the condition compares something other than a step counter with a constant") }
                limits.append(Int(limit.scalars(Int32.self)[0]))
            default:
                throw LstmLoopMismatch("the condition has a \(op.builtinOperator) op; only LESS of a step counter and LOGICAL_AND are recognised")
            }
        }
        guard let trips = limits.min(), trips == steps else {
            throw LstmLoopMismatch("the loop runs \(limits.min().map(String.init) ?? "an unknown number of") times, not once per time step (\(steps))")
        }
        for k in [matcher.hiddenPosition, matcher.cellPosition] {
            guard let t = model.constant(loop.inputs[k], in: subgraph), t.type.dtype == .float32, t.floats.allSatisfy({ $0 == 0 }) else {
                throw LstmLoopMismatch("the initial \(k == matcher.hiddenPosition ? "hidden" : "cell") state is not a constant zero (the fused op's variable state starts at zero)")
            }
        }
        let uses = graph.useCounts()
        for k in matcher.counters + [matcher.hiddenPosition, matcher.cellPosition] {
            let v = loop.outputs[k]
            guard uses[v.index] == 0, !graph.isGraphOutput(v) else {
                throw LstmLoopMismatch("the loop's final \(k == matcher.hiddenPosition ? "hidden state" : k == matcher.cellPosition ? "cell state" : "counter") (output \(k)) is used; the fused op does not give it")
            }
        }
        guard graph[loop.inputs[sequenceInput]].shape == [Int32(steps), Int32(batch), Int32(features)] else {
            throw LstmLoopMismatch("the loop's input sequence is \(graph[loop.inputs[sequenceInput]].shape), not [\(steps), \(batch), \(features)]")
        }
    }

    /// Puts the fused op in the loop's place. False if that would make a cycle.
    func replace(_ model: inout Model) -> Bool {
        var work = model
        let s = subgraph
        let loop = work.subgraphs[s].ops[opIndex]
        let outputValue = loop.outputs[sequenceOutput]
        func constant(_ t: ConstantTensor, _ name: String) -> ValueID {
            work.addConstant(t, name: "\(baseName)/\(name)", in: s)
        }
        func floats(_ values: [Float], _ shape: [Int]) -> ConstantTensor {
            ConstantTensor(floats: values, shape: shape.map { Int32($0) })
        }
        let gates = ["input", "forget", "cell", "output"]
        var operands = [ValueID](repeating: .absent, count: 24)
        operands[0] = loop.inputs[sequenceInput]
        for g in 0..<4 {
            operands[1 + g] = constant(floats(inputWeights[g], [units, features]), "input_to_\(gates[g])_weights")
            operands[5 + g] = constant(floats(recurrentWeights[g], [units, units]), "recurrent_to_\(gates[g])_weights")
            operands[12 + g] = constant(floats(biases[g], [units]), "\(gates[g])_gate_bias")
        }
        let state = [Int32(batch), Int32(units)]
        operands[18] = work.subgraphs[s].addValue(Value(name: "\(baseName)/hidden_state", type: ElementType(.float32), shape: state, isVariable: true))
        operands[19] = work.subgraphs[s].addValue(Value(name: "\(baseName)/cell_state", type: ElementType(.float32), shape: state, isVariable: true))
        var fusedOutput = outputValue
        if !returnSequences {
            var v = work.subgraphs[s][outputValue]
            v.name = "\(baseName)/sequence"
            v.shape = [Int32(steps), Int32(batch), Int32(units)]
            v.shapeSignature = nil
            fusedOutput = work.subgraphs[s].addValue(v)
        }
        // UnidirectionalSequenceLSTMOptions (schema.fbs): 0 fused_activation_function (the
        // cell and output activation, TANH), 3 time_major (the loop reads steps along axis 0).
        let options = OpaqueOptions(typeTag: Self.optionsTag, vtable: [4, 0, 0, 5], inline: [UInt8(ActivationFunction.tanh.rawValue), 1, 0, 0], alignmentPhase: 0)
        var ops = [Op(kind: .builtin(.unidirectionalSequenceLSTM, options: options), inputs: operands, outputs: [fusedOutput], provenance: loop.provenance)]
        if !returnSequences {
            // The loop kept only the last h' ([1, B, U]): the fused output's last step (a
            // STRIDED_SLICE, which int8 quantization keeps in int8 with the same scale).
            let begin = constant(ConstantTensor(.int32, shape: [3], values: [Int32(steps - 1), 0, 0]), "last_step_begin")
            let end = constant(ConstantTensor(.int32, shape: [3], values: [Int32(steps), Int32(batch), Int32(units)]), "last_step_end")
            let strides = constant(ConstantTensor(.int32, shape: [3], values: [Int32](repeating: 1, count: 3)), "last_step_strides")
            ops.append(Op(kind: .stridedSlice(StridedSliceAttributes()), inputs: [fusedOutput, begin, end, strides], outputs: [outputValue], provenance: loop.provenance))
        }
        var graph = work.subgraphs[s]
        // The sequence input passes through the loop unchanged.
        graph.replaceAllUses(of: loop.outputs[sequenceInput], with: loop.inputs[sequenceInput])
        graph.eraseOp(OpID(opIndex))
        for op in ops { _ = graph.addOp(op) }
        guard graph.compact() else { return false }
        work.subgraphs[s] = graph
        model = work
        return true
    }

    /// BuiltinOptions union tag of UnidirectionalSequenceLSTMOptions (schema.fbs).
    static let optionsTag: UInt8 = 71
}

struct LstmLoopMismatch: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Walks an LSTM body from its four-way SPLIT: the gates, the cell update, the pre-activation
/// sum, the step input and the write of h' into the output sequence.
struct BodyMatcher {
    let model: Model
    let body: Graph
    let bodyIndex: Int
    let producers: [Int32: OpID]
    let uses: [Int]
    /// Ops the LSTM cell accounts for; the rest must be counter arithmetic.
    var matched = Set<Int>()
    var counters: [Int] = []
    var hiddenPosition = 0, cellPosition = 0

    init(model: Model, body: Graph, bodyIndex: Int) {
        self.model = model
        self.body = body
        self.bodyIndex = bodyIndex
        producers = body.producers()
        uses = body.useCounts()
    }

    func producer(_ v: ValueID) -> (id: OpID, op: Op)? {
        guard !v.isAbsent, let id = producers[Int32(v.index)] else { return nil }
        return (id, body[id])
    }

    func constant(_ v: ValueID) -> ConstantTensor? {
        v.isAbsent ? nil : model.constant(body[v])
    }

    func position(_ v: ValueID) -> Int? { body.inputs.firstIndex(of: v) }

    /// The value's producer if it is `kind` with no fused activation.
    func plain(_ v: ValueID, _ kind: BuiltinOperator) -> (id: OpID, op: Op)? {
        guard let p = producer(v), p.op.builtinOperator == kind else { return nil }
        switch p.op.kind {
        case .add(let a), .sub(let a): return a.activation == .none ? p : nil
        case .mul(let activation): return activation == .none ? p : nil
        default: return p
        }
    }

    /// The single op that reads `v`, if it is `kind` with one output.
    func onlyUser(_ v: ValueID, _ kind: BuiltinOperator) -> (id: OpID, op: Op)? {
        let users = body.uses(of: v)
        guard users.count == 1, body[users[0].op].builtinOperator == kind, body[users[0].op].outputs.count == 1 else { return nil }
        return (users[0].op, body[users[0].op])
    }

    mutating func match(split splitID: OpID) throws -> LstmLoop {
        let split = body[splitID]
        guard split.inputs.count == 2, let axis = constant(split.inputs[0]), let axisValue = axis.integers?.first else {
            throw LstmLoopMismatch("its SPLIT's axis is not a constant")
        }
        let z = split.inputs[1]
        let zShape = body[z].shape
        guard zShape.count == 2, axisValue == 1 || axisValue == -1, zShape[1] % 4 == 0, body[z].dtype == .float32 else {
            throw LstmLoopMismatch("its SPLIT does not cut a float [batch, 4·units] tensor into four along the last axis")
        }
        let batch = Int(zShape[0]), units = Int(zShape[1]) / 4
        matched.insert(splitID.index)

        // Gate activations: three LOGISTIC and one TANH, one per split part.
        var sigmoids: [Int: (id: OpID, out: ValueID)] = [:]
        var cellPart: (part: Int, out: ValueID)?
        for (p, v) in split.outputs.enumerated() {
            if let s = onlyUser(v, .logistic) {
                sigmoids[p] = (s.id, s.op.outputs[0])
            } else if let t = onlyUser(v, .tanh) {
                guard cellPart == nil else { throw LstmLoopMismatch("two split parts go through TANH") }
                cellPart = (p, t.op.outputs[0])
                matched.insert(t.id.index)
            } else {
                throw LstmLoopMismatch("split part \(p) is not used by one LOGISTIC or TANH (recurrent activations other than sigmoid are not fused)")
            }
        }
        guard let cellPart, sigmoids.count == 3 else { throw LstmLoopMismatch("the split parts are not three sigmoid gates and one tanh candidate") }
        for s in sigmoids.values { matched.insert(s.id.index) }

        // c' = f·c + i·g and h' = o·tanh(c').
        var found: (input: Int, forget: Int, output: Int, c: ValueID, cNew: ValueID, hNew: ValueID)?
        for (pi, i) in sigmoids {
            guard let ig = onlyUser(i.out, .mul), Set(ig.op.inputs) == [i.out, cellPart.out],
                let add = onlyUser(ig.op.outputs[0], .add), let cNew = add.op.outputs.first,
                case .add(let addAttributes) = add.op.kind, addAttributes.activation == .none,
                case .mul(let igActivation) = ig.op.kind, igActivation == .none
            else { continue }
            let other = add.op.inputs.first { $0 != ig.op.outputs[0] } ?? .absent
            guard let fc = plain(other, .mul) else { continue }
            guard let forget = sigmoids.first(where: { $0.key != pi && fc.op.inputs.contains($0.value.out) }) else { continue }
            let pf = forget.key
            let c = fc.op.inputs.first { $0 != forget.value.out } ?? .absent
            guard position(c) != nil else { continue }
            // tanh(c') feeds h' = o·tanh(c') with the remaining sigmoid.
            guard let outputGate = sigmoids.first(where: { $0.key != pi && $0.key != pf }),
                let h = onlyUser(outputGate.value.out, .mul), case .mul(let hActivation) = h.op.kind, hActivation == .none,
                let tanhUse = body.uses(of: cNew).first(where: { body[$0.op].builtinOperator == .tanh && body[$0.op].outputs.count == 1 }),
                Set(h.op.inputs) == [outputGate.value.out, body[tanhUse.op].outputs[0]]
            else { continue }
            matched.formUnion([ig.id.index, add.id.index, fc.id.index, h.id.index, tanhUse.op.index])
            found = (pi, pf, outputGate.key, c, cNew, h.op.outputs[0])
            break
        }
        guard let found else { throw LstmLoopMismatch("the gates are not combined as c' = f·c + i·tanh(g), h' = o·tanh(c')") }
        guard let cPosition = position(found.c), body.outputs[cPosition] == found.cNew else {
            throw LstmLoopMismatch("the new cell state is not the loop variable the old one came from")
        }
        guard let hPosition = body.outputs.firstIndex(of: found.hNew), hPosition != cPosition else {
            throw LstmLoopMismatch("the new hidden state is not a loop variable")
        }
        cellPosition = cPosition
        hiddenPosition = hPosition
        let hIn = body.inputs[hPosition]

        // z = x_t·Wᵀ + h·Rᵀ + constants, through ADDs (and the batch-1 squeeze of a term).
        var terms: [ValueID] = []
        var pending = [z]
        while let v = pending.popLast() {
            if let add = plain(v, .add), add.op.inputs.count == 2, uses[v.index] == 1 || v == z {
                matched.insert(add.id.index)
                pending += add.op.inputs
            } else if let r = plain(v, .reshape), uses[v.index] == 1, let x = r.op.inputs.first, !x.isAbsent, body[x].shape == zShape {
                matched.insert(r.id.index)
                pending.append(x)
            } else {
                terms.append(v)
            }
        }
        var bias = [Float](repeating: 0, count: 4 * units)
        var inputKernel: (weights: ConstantTensor, step: ValueID)?
        var recurrentKernel: ConstantTensor?
        for t in terms {
            if let k = constant(t) {
                guard k.type.dtype == .float32, k.elementCount == 4 * units, k.shape.last == Int32(4 * units) else {
                    throw LstmLoopMismatch("a constant term of the gate sum is not a [4·units] bias")
                }
                for (j, x) in k.floats.enumerated() { bias[j] += x }
                continue
            }
            guard let fc = producer(t), case .fullyConnected(let a) = fc.op.kind, a.activation == .none, a.weightsFormat == 0,
                fc.op.inputs.count >= 2, let w = constant(fc.op.inputs[1]), w.type.dtype == .float32, w.shape.count == 2,
                w.shape[0] == Int32(4 * units), uses[t.index] == 1
            else { throw LstmLoopMismatch("a term of the gate sum is neither a float FULLY_CONNECTED nor a constant bias") }
            if fc.op.inputs.count > 2, !fc.op.inputs[2].isAbsent {
                guard let b = constant(fc.op.inputs[2]), b.type.dtype == .float32, b.elementCount == 4 * units else {
                    throw LstmLoopMismatch("a FULLY_CONNECTED of the gate sum has a bias that is not a constant")
                }
                for (j, x) in b.floats.enumerated() { bias[j] += x }
            }
            matched.insert(fc.id.index)
            let x = fc.op.inputs[0]
            if x == hIn {
                guard recurrentKernel == nil, w.shape[1] == Int32(units) else { throw LstmLoopMismatch("the recurrent kernel is not one [4·units, units] matrix") }
                recurrentKernel = w
            } else {
                guard inputKernel == nil else { throw LstmLoopMismatch("the gate sum has two kernels on the step input") }
                inputKernel = (w, x)
            }
        }
        guard let inputKernel, let recurrentKernel else { throw LstmLoopMismatch("the gate sum lacks the input or the recurrent kernel") }

        // x_t = GATHER(x, t) of a sequence that passes through the loop unchanged.
        guard let gather = producer(inputKernel.step), case .gather(let gatherAxis, let batchDims) = gather.op.kind, gatherAxis == 0, batchDims == 0,
            gather.op.inputs.count == 2, let sequencePosition = position(gather.op.inputs[0]), body.outputs[sequencePosition] == gather.op.inputs[0],
            let stepPosition = position(gather.op.inputs[1])
        else { throw LstmLoopMismatch("the step input is not a GATHER of the time-major input sequence at a loop counter") }
        matched.insert(gather.id.index)
        let sequenceShape = body[gather.op.inputs[0]].shape
        guard sequenceShape.count == 3, sequenceShape[1] == Int32(batch), inputKernel.weights.shape[1] == sequenceShape[2] else {
            throw LstmLoopMismatch("the input sequence \(sequenceShape) does not fit the kernel \(inputKernel.weights.shape)")
        }
        let steps = Int(sequenceShape[0]), features = Int(sequenceShape[2])

        // The loop counters: `k + 1` of themselves; all other ops must compute only indices.
        for (k, v) in body.inputs.enumerated() {
            guard let inc = plain(body.outputs[k], .add), inc.op.inputs.count == 2, inc.op.inputs[0] == v,
                let one = constant(inc.op.inputs[1]), one.type.dtype == .int32, one.elementCount == 1, one.scalars(Int32.self) == [1]
            else { continue }
            counters.append(k)
        }
        guard counters.contains(stepPosition) else { throw LstmLoopMismatch("the GATHER's index is not a counter that steps by one") }

        // h' into the output sequence: the whole [1, B, U] (last step only) or slot t of [T, B, U].
        let stepShape: [Int32] = [1, Int32(batch), Int32(units)]
        var sequenceOutput: Int?
        var returnSequences = false
        for (k, out) in body.outputs.enumerated() where k != hPosition && k != cPosition && k != sequencePosition && !counters.contains(k) {
            if let r = plain(out, .reshape), r.op.inputs.first == found.hNew, body[out].shape == stepShape, body[body.inputs[k]].shape == stepShape {
                matched.insert(r.id.index)
                sequenceOutput = k
            } else if try writesStep(out, into: body.inputs[k], hNew: found.hNew, counter: body.inputs[stepPosition], stepShape: stepShape, steps: steps) {
                sequenceOutput = k
                returnSequences = true
            } else {
                throw LstmLoopMismatch("loop variable \(k) is neither the output sequence nor a state or counter")
            }
        }
        guard let sequenceOutput else { throw LstmLoopMismatch("no loop variable collects the hidden states") }

        // Everything left must be counter arithmetic (int32 ops on counters and constants).
        var indexValues = Set(counters.map { body.inputs[$0] })
        for i in body.topologicalOrder() ?? Array(body.ops.indices) where !body.ops[i].isErased && !matched.contains(i) {
            let op = body.ops[i]
            let onIndices = op.inputs.allSatisfy { $0.isAbsent || indexValues.contains($0) || constant($0) != nil }
            guard onIndices, op.outputs.allSatisfy({ body[$0].dtype == .int32 }) else {
                throw LstmLoopMismatch("its body has a \(op.builtinOperator) op that is not part of the LSTM cell")
            }
            indexValues.formUnion(op.outputs)
        }

        func rows(_ w: ConstantTensor, gate: Int) -> [Float] {
            let columns = Int(w.shape[1])
            return Array(w.floats[(gate * units * columns)..<((gate + 1) * units * columns)])
        }
        // TFLite's order: input, forget, cell, output gates; each is a block of Keras's rows.
        let parts = [found.input, found.forget, cellPart.part, found.output]
        return LstmLoop(
            subgraph: 0, opIndex: 0, conditionIndex: 0, bodyIndex: bodyIndex,
            sequenceInput: sequencePosition, sequenceOutput: sequenceOutput, returnSequences: returnSequences,
            steps: steps, batch: batch, features: features, units: units,
            inputWeights: parts.map { rows(inputKernel.weights, gate: $0) },
            recurrentWeights: parts.map { rows(recurrentKernel, gate: $0) },
            biases: parts.map { Array(bias[($0 * units)..<(($0 + 1) * units)]) },
            baseName: body[found.hNew].name)
    }

    /// True when `out` is `sequence` with slot `counter` replaced by h': CONCATENATION on axis 0
    /// of the slots before (a SLICE of `sequence`), RESHAPE(h', [1, B, U]) and the slots after,
    /// the SLICE bounds computed from the counter alone.
    private mutating func writesStep(_ out: ValueID, into sequence: ValueID, hNew: ValueID, counter: ValueID, stepShape: [Int32], steps: Int) throws -> Bool {
        guard let concat = producer(out), case .concatenation(let axis, .none) = concat.op.kind, axis == 0, concat.op.inputs.count == 3,
            body[sequence].shape == [Int32(steps), stepShape[1], stepShape[2]],
            let r = plain(concat.op.inputs[1], .reshape), r.op.inputs.first == hNew, body[concat.op.inputs[1]].shape == stepShape
        else { return false }
        var sliceOps: [OpID] = []
        for piece in [concat.op.inputs[0], concat.op.inputs[2]] {
            guard let slice = plain(piece, .slice), slice.op.inputs.count == 3, slice.op.inputs[0] == sequence else { return false }
            sliceOps.append(slice.id)
        }
        // The bounds read the counter (slot t before, t + 1 after) and constants only.
        let before = body[sliceOps[0]], after = body[sliceOps[1]]
        guard reads(before.inputs[2], only: counter), reads(after.inputs[1], only: counter),
            constant(before.inputs[1])?.integers?.allSatisfy({ $0 == 0 }) == true
        else { return false }
        matched.formUnion([concat.id.index, r.id.index] + sliceOps.map(\.index))
        return true
    }

    /// True when `v` is computed from `counter` and constants, and reads `counter`.
    private func reads(_ v: ValueID, only counter: ValueID) -> Bool {
        var seen = false
        var pending = [v]
        var visited = Set<ValueID>()
        while let x = pending.popLast() {
            guard visited.insert(x).inserted else { continue }
            if x == counter { seen = true; continue }
            if constant(x) != nil { continue }
            guard let p = producer(x), body[x].dtype == .int32 else { return false }
            pending += p.op.inputs.filter { !$0.isAbsent }
        }
        return seen
    }
}
