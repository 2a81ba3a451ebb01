import FlatBuffers
import IR
import Ops
import Support

/// The variable states of a quantized UNIDIRECTIONAL_SEQUENCE_LSTM (spec roles
/// `stateLikeOutput` and `int16PowerOfTwoState`): the hidden state becomes int8 with the
/// output's parameters, the cell state int16 with a power-of-two scale.
extension Int8Quantizer.Rewrite {
    /// (op, operand) of every state operand of an int8 op with `role`.
    func stateOperands(_ role: OpQuantizationSpec.OperandRole) -> [(op: Int, value: ValueID)] {
        specs.keys.sorted().flatMap { i in
            specs[i]!.roles.indices.filter { specs[i]!.roles[$0] == role }.map { (i, graph.ops[i].inputs[$0]) }
        }
    }

    /// Hidden states are int8 values; their parameters come from the output's group.
    mutating func markStateValues() {
        for (_, v) in stateOperands(.stateLikeOutput) { isInt8.insert(v.raw) }
    }

    /// The kernel copies the hidden state into the output raw (TFLM lstm_eval.h), so both share
    /// one set of parameters.
    mutating func joinStatesWithOutputs(_ groups: inout Groups) {
        for (i, v) in stateOperands(.stateLikeOutput) {
            guard let out = graph.ops[i].outputs.first, isInt8.contains(out.raw) else { continue }
            if groups.parent[v.raw] == nil { groups.parent[v.raw] = v.raw }
            groups.union(out.raw, v.raw)
        }
    }

    /// Cell states: int16, zero point 0, scale 2^k / 32768 with 2^k the smallest power of two at
    /// or above the largest calibrated |c| (LiteRT's quantizer gives the LSTM cell state a
    /// power-of-two scale; TFLM's CreateLstmCellStateInfo needs one: it takes its log2).
    mutating func assignInt16StateParameters() throws {
        for (i, v) in stateOperands(.int16PowerOfTwoState) {
            guard let r = ranges[v], !r.isEmpty else {
                throw QuantizeError.noRange(value: graph[v].name, context: "cell state of \(graph.ops[i].label(OpID(i)))")
            }
            let scale = Self.powerOfTwoInt16Scale(maxAbs: max(abs(r.min), abs(r.max)))
            graph[v].type = ElementType(.int16, quantization: AffineParameters(scale: scale, zeroPoint: 0).quantization)
        }
    }

    /// 2^ceil(log2(maxAbs)) / 2^15; at least 2^-15 (|c| ≤ 1) so that tiny ranges keep a sane scale.
    static func powerOfTwoInt16Scale(maxAbs: Float) -> Float {
        var exponent = 0
        var bound: Float = 1
        while bound < maxAbs, exponent < 64 {
            bound *= 2
            exponent += 1
        }
        return Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }

    /// LiteRT's integer LSTM reads five intermediates (unidirectional_sequence_lstm.cc
    /// PopulateQuantizedLstmParams8x8_16): without layer norm the four gate ones are ignored
    /// (Q3.12 fixed), and the fifth, the hidden state's, must carry its parameters. TFLM reads
    /// none. Laid out as TF's converter writes them: float32 [0], and int8 [0] with the output's
    /// scale and zero point (a requantized TF model keeps its own five, the fifth re-parameterised).
    mutating func addLstmIntermediates() {
        for (i, _) in stateOperands(.stateLikeOutput) {
            guard let out = graph.ops[i].outputs.first, let q = graph[out].quantization else { continue }
            let hiddenType = ElementType(.int8, quantization: q)
            if graph.ops[i].intermediates.count == 5, let hidden = graph.ops[i].intermediates.last, !hidden.isAbsent {
                graph[hidden].type = hiddenType
                continue
            }
            let base = graph[out].name
            var ids: [ValueID] = []
            for gate in ["input", "forget", "cell", "output"] {
                ids.append(graph.addValue(Value(name: "\(base)/input_to_\(gate)_intermediate", type: ElementType(.float32), shape: [0])))
            }
            ids.append(graph.addValue(Value(name: "\(base)/effective_hidden_scale_intermediate", type: hiddenType, shape: [0])))
            graph.ops[i].intermediates = ids
        }
    }
}
