import Support

// LSTM, GRU and SimpleRNN, unrolled over the (static) time steps into FULLY_CONNECTED and
// element-wise ops that every runtime (and the int8 quantizer) handles, the same form the
// `unroll-while` pass gives a converted TF while loop. The state starts at zero, as Keras's
// get_initial_state does, so step 0 has no recurrent term. Gate order and formulas follow
// keras/src/layers/rnn/lstm.py (i, f, c, o), gru.py (z, r, h; reset_after) and simple_rnn.py.
extension KerasGraphBuilder {
    /// The options every recurrent layer shares, checked, and the input as [T, F] (batch 1).
    struct RecurrentSetup {
        var steps: Int
        var features: Int
        var units: Int
        var rows: String
        var order: [Int]
        var returnSequences: Bool
        var returnState: Bool
    }

    mutating func recurrentSetup(_ inputs: [String]) throws -> RecurrentSetup {
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count == 3, xs[0] == 1, xs[1] >= 1 else { throw fail("needs a [batch, steps, features] input with known steps, got \(shapeText(xs))") }
        guard !(try bool("time_major", default: false)) else { throw fail("time_major=true is not supported") }
        let units = try int("units")
        guard units >= 1 else { throw fail("units \(units) must be positive") }
        let backwards = try bool("go_backwards", default: false)
        let rows = reshape(x, to: [xs[1], xs[2]], "steps")
        return RecurrentSetup(steps: xs[1], features: xs[2], units: units, rows: rows, order: backwards ? Array((0..<xs[1]).reversed()) : Array(0..<xs[1]),
            returnSequences: try bool("return_sequences", default: false), returnState: try bool("return_state", default: false))
    }

    /// Columns [g·U, (g+1)·U) of a [rows, n·U] matrix.
    func gateColumns(_ w: KerasWeight, gate g: Int, units u: Int) -> KerasWeight {
        let (rows, cols) = (w.shape[0], w.shape[1])
        var out: [Float] = []
        out.reserveCapacity(rows * u)
        for r in 0..<rows { out += w.values[(r * cols + g * u)..<(r * cols + (g + 1) * u)] }
        return KerasWeight(shape: [rows, u], values: out)
    }

    func vectorSlice(_ v: [Float], gate g: Int, units u: Int) -> KerasWeight {
        KerasWeight(shape: [u], values: Array(v[(g * u)..<((g + 1) * u)]))
    }

    /// Step t's input row [1, F].
    mutating func stepInput(_ s: RecurrentSetup, _ t: Int) -> String {
        let inputs = [s.rows, intConstant([t, 0], "t\(t)/begin"), intConstant([t + 1, s.features], "t\(t)/end"), intConstant([1, 1], "t\(t)/strides")]
        return emit("StridedSlice", "t\(t)/x", inputs, shape: [1, s.features], attrs: ["Index": .type(TFDataType.int32.rawValue)])
    }

    /// x·W (+ b) (+ h·U): one gate's pre-activation.
    mutating func gateInput(_ x: String, _ kernel: KerasWeight, _ bias: KerasWeight?, _ h: String?, _ recurrent: KerasWeight, _ name: String) -> String {
        var z = dense(x, kernel: kernel, bias: bias, "\(name)/x")
        if let h { z = binary("AddV2", z, dense(h, kernel: recurrent, bias: nil, "\(name)/h"), "\(name)/sum") }
        return z
    }

    /// The layer's output: the last state, or all states as [1, T, U] in processing order; with
    /// return_state also the last state (and an LSTM's last cell state) as further outputs.
    mutating func recurrentOutput(_ s: RecurrentSetup, _ states: [String], cell: String? = nil) -> String {
        if s.returnState { extraOutputs = [states[states.count - 1]] + (cell.map { [$0] } ?? []) }
        guard s.returnSequences else { return states[states.count - 1] }
        let axis = intConstant([0], "sequence/axis", shape: [])
        let all = emit("ConcatV2", "sequence", states + [axis], shape: [s.steps, s.units], attrs: ["N": .i(Int64(states.count)), "Tidx": .type(TFDataType.int32.rawValue)])
        return reshape(all, to: [1, s.steps, s.units], "sequence/batch")
    }

    func biasOption() throws -> Bool { try bool("use_bias", default: true) }

    mutating func lowerLSTM(_ inputs: [String]) throws -> String {
        let s = try recurrentSetup(inputs)
        let (u, f) = (s.units, s.features)
        let useBias = try biasOption()
        let w = try weights([[f, 4 * u], [u, 4 * u]] + (useBias ? [[4 * u]] : []))
        let act = try string("activation", default: "tanh"), recurrentAct = try string("recurrent_activation", default: "sigmoid")
        let kernels = (0..<4).map { gateColumns(w[0], gate: $0, units: u) }
        let recurrents = (0..<4).map { gateColumns(w[1], gate: $0, units: u) }
        let biases = (0..<4).map { useBias ? vectorSlice(w[2].values, gate: $0, units: u) : nil }
        var h: String?, c: String?
        var states: [String] = []
        for t in s.order {
            let x = stepInput(s, t)
            func gate(_ g: Int, _ name: String, _ activation: String) throws -> String {
                try self.activation(activation, gateInput(x, kernels[g], biases[g], h, recurrents[g], "t\(t)/\(name)"), key: "t\(t)/\(name)")
            }
            let i = try gate(0, "i", recurrentAct), fg = try gate(1, "f", recurrentAct), g = try gate(2, "c", act), o = try gate(3, "o", recurrentAct)
            let ig = binary("Mul", i, g, "t\(t)/i_c")
            let cNew = c.map { binary("AddV2", binary("Mul", fg, $0, "t\(t)/f_c"), ig, "t\(t)/cell") } ?? ig
            let hNew = binary("Mul", o, try activation(act, cNew, key: "t\(t)/cell_act"), "t\(t)/h")
            (h, c) = (hNew, cNew)
            states.append(hNew)
        }
        return recurrentOutput(s, states, cell: c)
    }

    mutating func lowerGRU(_ inputs: [String]) throws -> String {
        let s = try recurrentSetup(inputs)
        let (u, f) = (s.units, s.features)
        let useBias = try biasOption()
        let resetAfter = try bool("reset_after", default: true)
        let biasShape = resetAfter ? [2, 3 * u] : [3 * u]
        let w = try weights([[f, 3 * u], [u, 3 * u]] + (useBias ? [biasShape] : []))
        let act = try string("activation", default: "tanh"), recurrentAct = try string("recurrent_activation", default: "sigmoid")
        let kernels = (0..<3).map { gateColumns(w[0], gate: $0, units: u) }
        let recurrents = (0..<3).map { gateColumns(w[1], gate: $0, units: u) }
        // reset_after: bias[0] is added to x·W, bias[1] to h·U (inside the reset for the candidate).
        let inputBias = (0..<3).map { useBias ? vectorSlice(Array(w[2].values.prefix(3 * u)), gate: $0, units: u) : nil }
        let recurrentBias = (0..<3).map { useBias && resetAfter ? vectorSlice(Array(w[2].values.suffix(3 * u)), gate: $0, units: u) : nil }
        let one = constant([1], shape: [], "one")
        var h: String?
        var states: [String] = []
        for t in s.order {
            let x = stepInput(s, t)
            // z and r: x·W + b_in + h·U + b_rec; at step 0 (h = 0) h·U + b_rec is just b_rec.
            var zr: [String] = []
            for (g, name) in [(0, "z"), (1, "r")] {
                var bias = inputBias[g]
                if let rb = recurrentBias[g], let b = bias { bias = KerasWeight(shape: [u], values: zip(b.values, rb.values).map { $0 + $1 }) }
                var pre = dense(x, kernel: kernels[g], bias: bias, "t\(t)/\(name)/x")
                if let h { pre = binary("AddV2", pre, dense(h, kernel: recurrents[g], bias: nil, "t\(t)/\(name)/h"), "t\(t)/\(name)/sum") }
                zr.append(try activation(recurrentAct, pre, key: "t\(t)/\(name)"))
            }
            let (z, r) = (zr[0], zr[1])
            var candidate = dense(x, kernel: kernels[2], bias: inputBias[2], "t\(t)/hh/x")
            if resetAfter {
                // r ⊙ (h·U_h + b_rec_h); at step 0 only r ⊙ b_rec_h.
                var recurrentPart: String?
                if let h { recurrentPart = dense(h, kernel: recurrents[2], bias: recurrentBias[2], "t\(t)/hh/h") } else if let rb = recurrentBias[2] {
                    recurrentPart = constant(rb.values, shape: [1, u], "t\(t)/hh/recurrent_bias")
                }
                if let part = recurrentPart { candidate = binary("AddV2", candidate, binary("Mul", r, part, "t\(t)/hh/reset"), "t\(t)/hh/sum") }
            } else if let h {
                let reset = binary("Mul", r, h, "t\(t)/hh/reset")
                candidate = binary("AddV2", candidate, dense(reset, kernel: recurrents[2], bias: nil, "t\(t)/hh/h"), "t\(t)/hh/sum")
            }
            let hh = try activation(act, candidate, key: "t\(t)/hh")
            // h' = z ⊙ h + (1 − z) ⊙ hh
            let update = binary("Mul", binary("Sub", one, z, "t\(t)/one_minus_z"), hh, "t\(t)/update")
            let hNew = h.map { binary("AddV2", binary("Mul", z, $0, "t\(t)/keep"), update, "t\(t)/h") } ?? update
            h = hNew
            states.append(hNew)
        }
        return recurrentOutput(s, states)
    }

    mutating func lowerSimpleRNN(_ inputs: [String]) throws -> String {
        let s = try recurrentSetup(inputs)
        let useBias = try biasOption()
        let w = try weights([[s.features, s.units], [s.units, s.units]] + (useBias ? [[s.units]] : []))
        let act = try string("activation", default: "tanh")
        var h: String?
        var states: [String] = []
        for t in s.order {
            let hNew = try activation(act, gateInput(stepInput(s, t), w[0], useBias ? w[2] : nil, h, w[1], "t\(t)/h"), key: "t\(t)/h_act")
            h = hNew
            states.append(hNew)
        }
        return recurrentOutput(s, states)
    }
}

extension KerasGraphBuilder {
    /// Bidirectional (keras/src/layers/rnn/bidirectional.py): the forward layer and the backward
    /// one (go_backwards; its sequence output flipped back to time order), merged by
    /// merge_mode; the file holds the forward layer's weights, then the backward layer's.
    mutating func lowerBidirectional(_ inputs: [String]) throws -> String {
        let outer = layer
        guard let forward = option("layer"), let forwardClass = forward["class_name"]?.stringValue, let forwardConfig = forward["config"] else {
            throw fail("has no wrapped layer config")
        }
        let backward = option("backward_layer")
        let mode = try string("merge_mode", default: "concat")
        guard ["concat", "sum", "mul", "ave"].contains(mode) else { throw fail("merge_mode '\(mode)' is not supported (concat, sum, mul, ave)") }
        guard ["LSTM", "GRU", "SimpleRNN"].contains(forwardClass), (backward?["class_name"]?.stringValue ?? forwardClass) == forwardClass else {
            throw fail("wraps \(forwardClass); only LSTM, GRU and SimpleRNN are supported")
        }
        let all = try weightsOf(outer.name)
        guard all.count % 2 == 0, !all.isEmpty else { throw fail("expected the forward and backward layers' weights, the file has \(all.count) arrays") }
        var backwardConfig = backward?["config"] ?? forwardConfig
        if backward == nil, case .object(var members) = backwardConfig {
            // Keras builds the backward layer from the forward config with go_backwards flipped.
            let flipped = !(forwardConfig["go_backwards"]?.boolValue ?? false)
            members.removeAll { $0.0 == "go_backwards" }
            members.append(("go_backwards", .bool(flipped)))
            backwardConfig = .object(members)
        }
        func run(_ config: JSON, _ weights: ArraySlice<KerasWeight>, _ suffix: String) throws -> String {
            layer = KerasLayerConfig(className: forwardClass, name: "\(outer.name)/\(suffix)", config: config, inputs: outer.inputs)
            innerWeights = Array(weights)
            defer { layer = outer; innerWeights = nil }
            return try Self.lowerings[forwardClass]!(&self, inputs)
        }
        guard forwardConfig["return_state"]?.boolValue != true else { throw fail("return_state=true inside Bidirectional is not supported") }
        let half = all.count / 2
        let f = try run(forwardConfig, all[..<half], "forward")
        var b = try run(backwardConfig, all[half...], "backward")
        let bs = shape(b)
        if bs.count == 3, bs[1] > 1 {
            // The backward sequence is in processing order; Keras reverses it before merging.
            let steps = (0..<bs[1]).reversed().map { t in
                emit("StridedSlice", "backward/t\(t)", [b, intConstant([0, t, 0], "backward/t\(t)/begin"), intConstant([1, t + 1, bs[2]], "backward/t\(t)/end"), intConstant([1, 1, 1], "backward/t\(t)/strides")],
                     shape: [1, 1, bs[2]], attrs: ["Index": .type(TFDataType.int32.rawValue)])
            }
            b = emit("ConcatV2", "backward/reversed", steps + [intConstant([1], "backward/axis", shape: [])], shape: bs, attrs: ["N": .i(Int64(steps.count)), "Tidx": .type(TFDataType.int32.rawValue)])
        }
        switch mode {
        case "concat":
            var out = shape(f)
            out[out.count - 1] += bs[bs.count - 1]
            return emit("ConcatV2", "merge", [f, b, intConstant([out.count - 1], "merge/axis", shape: [])], shape: out, attrs: ["N": .i(2), "Tidx": .type(TFDataType.int32.rawValue)])
        case "sum": return binary("AddV2", f, b, "merge")
        case "mul": return binary("Mul", f, b, "merge")
        default: return emit("Mul", "merge", [binary("AddV2", f, b, "merge/sum"), constant([0.5], shape: [], "merge/half")], shape: shape(f))
        }
    }
}
