import IR
import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - UNIDIRECTIONAL_SEQUENCE_LSTM

/// UNIDIRECTIONAL_SEQUENCE_LSTM as TFLM runs it (unidirectional_sequence_lstm.cc, lstm_eval.h,
/// lstm_eval.cc, lstm_eval_common.cc): float, and int8 activations with int8 weights, int32
/// biases and an int16 cell state.
///
/// Inputs (lstm_shared.h): 0 x, 1–4 input→{input, forget, cell, output} weights, 5–8 the
/// recurrent weights, 12–15 the gate biases, 18 the hidden state and 19 the cell state (both
/// variable tensors). TFLM refuses peepholes (9–11), projection (16–17), layer norm (20–23) and
/// a missing input gate (CIFG), and so does this kernel.
///
/// Each step, per gate: an input fully-connected (with the gate's bias) plus a recurrent one
/// (no bias), added (saturating in int16), then sigmoid — or the fused activation, tanh, for the
/// cell gate. Then cell = forget·cell + input·cellGate (clipped when cell_clip > 0), the output
/// gate, and hidden = tanh(cell)·outputGate, copied to the output. In int8 the gate
/// pre-activations are Q3.12 (scale 2⁻¹²), the gate outputs Q0.15 (2⁻¹⁵), and the cell state's
/// scale must be a power of two (its exponent sets the tanh input shift).
package final class SequenceLstmKernel: IntermediateValuesKernel {
    private let label: String
    private let input: Slot, output: Slot, hidden: Slot, cell: Slot
    package var outputs: [Slot] { [output] }
    /// Forget, input, cell, output — the order TFLM's step computes them in.
    private let inputWeights: [Slot], recurrentWeights: [Slot], biases: [Slot]
    private let cellActivation: ActivationFunction
    private let cellClip: Float
    private let timeMajor: Bool
    private let batch: Int, steps: Int, inputSize: Int, units: Int

    // int8: per gate, the input and recurrent fully-connected multipliers to Q3.12.
    private var inputMultipliers: [QuantizedMultiplier] = [], recurrentMultipliers: [QuantizedMultiplier] = []
    private var forgetCellMultiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var inputCellMultiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var hiddenMultiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var quantizedCellClip: Int16 = 0
    private var cellTanhMultiplier: Int32 = 0, cellTanhShift: Int32 = 0
    private var gates16: [[Int16]] = [], scratch16: [Int16] = []
    private var gatesF: [[Float]] = [], scratchF: [Float] = []
    /// float: the cell state after every step of the last run, for calibration (the int16
    /// cell state's scale must cover all of them, not only the final state).
    private var cellHistory: [Float] = []

    package init(_ c: KernelContext, cellActivation: ActivationFunction, cellClip: Float, projectionClip: Float, timeMajor: Bool) throws {
        label = c.label
        guard c.inputCount == 24 else { throw Unsupported("has \(c.inputCount) inputs; TFLM's kernel takes 24") }
        input = try c.input(0)
        output = try c.output()
        hidden = try c.input(18)
        cell = try c.input(19)
        for k in [18, 19] where !c.graph[c.op.inputs[k]].isVariable {
            throw Unsupported("input \(k) (the \(k == 18 ? "hidden" : "cell") state) must be a variable tensor")
        }
        // lstm_eval.cc ValidateTensorStatus: no peepholes, projection or layer norm.
        for k in [9, 10, 11, 16, 17, 20, 21, 22, 23] where c.optionalInput(k) != nil {
            throw Unsupported("input \(k) is given; TFLM's LSTM has no peephole, projection or layer-norm tensors")
        }
        guard c.optionalInput(1) != nil, c.optionalInput(5) != nil, c.optionalInput(12) != nil else {
            throw Unsupported("the input gate is missing (CIFG); TFLM's LSTM needs it")
        }
        inputWeights = try [2, 1, 3, 4].map { try c.constantInput($0, "input weights \($0)") }
        recurrentWeights = try [6, 5, 7, 8].map { try c.constantInput($0, "recurrent weights \($0)") }
        biases = try [13, 12, 14, 15].map { try c.constantInput($0, "gate bias \($0)") }
        // lstm_eval.h CalculateLstmGate: the cell gate takes sigmoid or tanh; the schema's
        // activations include no sigmoid, so TANH is the one that runs.
        guard cellActivation == .tanh else {
            throw Unsupported("cell gate activation \(cellActivation); TFLM's LSTM supports TANH")
        }
        self.cellActivation = cellActivation
        self.cellClip = cellClip
        self.timeMajor = timeMajor
        guard input.rank == 3, output.rank == 3, hidden.rank == 2 else {
            throw Unsupported("input and output must be 3-D and the hidden state 2-D")
        }
        // lstm_eval_common.cc CreateLstmSizeInfo / ValidateTensorSize.
        batch = timeMajor ? input.shape[1] : input.shape[0]
        steps = timeMajor ? input.shape[0] : input.shape[1]
        inputSize = input.shape[2]
        units = hidden.shape[1]
        for w in inputWeights where w.shape != [units, inputSize] { throw Unsupported("input weights \(w.shape), expected [\(units), \(inputSize)]") }
        for w in recurrentWeights where w.shape != [units, units] { throw Unsupported("recurrent weights \(w.shape), expected [\(units), \(units)]") }
        for b in biases where b.shape != [units] { throw Unsupported("gate bias \(b.shape), expected [\(units)]") }
        guard hidden.count == batch * units, cell.count == batch * units else {
            throw Unsupported("states hold \(hidden.count) and \(cell.count) elements, expected \(batch * units)")
        }
        guard output.shape == [input.shape[0], input.shape[1], units] else {
            throw Unsupported("output \(output.shape), expected [\(input.shape[0]), \(input.shape[1]), \(units)]")
        }
        let rows = timeMajor ? batch : 1
        switch (input.dtype, inputWeights[0].dtype, cell.dtype) {
        case (.float32, .float32, .float32):
            guard hidden.dtype == .float32, output.dtype == .float32,
                  (inputWeights + recurrentWeights + biases).allSatisfy({ $0.dtype == .float32 }) else {
                throw Unsupported("a float LSTM needs FLOAT32 weights, biases, states and output")
            }
            gatesF = Array(repeating: Array(repeating: 0, count: rows * units), count: 4)
            scratchF = Array(repeating: 0, count: rows * units)
        case (.int8, .int8, .int16):
            try prepareInteger()
            gates16 = Array(repeating: Array(repeating: 0, count: rows * units), count: 4)
            scratch16 = Array(repeating: 0, count: rows * units)
        default:
            throw Unsupported("types: input \(input.dtype.name), weights \(inputWeights[0].dtype.name), cell state \(cell.dtype.name); supported: all FLOAT32, or INT8 with an INT16 cell state")
        }
    }

    /// lstm_eval_common.cc PrepareGateParametersInteger and CreateLstmCellStateInfo.
    private func prepareInteger() throws {
        guard hidden.dtype == .int8, output.dtype == .int8,
              (inputWeights + recurrentWeights).allSatisfy({ $0.dtype == .int8 }), biases.allSatisfy({ $0.dtype == .int32 }) else {
            throw Unsupported("an int8 LSTM needs INT8 weights, hidden state and output and INT32 biases")
        }
        let quantized = [input, hidden, cell] + inputWeights + recurrentWeights
        guard quantized.allSatisfy(\.isQuantized) else { throw Unsupported("int8 tensors without quantization parameters") }
        try requirePositiveScales(input, hidden, cell)
        for w in inputWeights + recurrentWeights {
            // The gates' fully-connected layers take the per-tensor multiplier (lstm_eval.h
            // calls the per-tensor FullyConnected), so per-channel weights are not modelled.
            guard w.scales.count == 1 else { throw Unsupported("per-channel weights \(w.name)") }
            guard w.zeroPoint == 0 else { throw Unsupported("weights \(w.name) have zero point \(w.zeroPoint)") }
            try requirePositiveScales(w)
        }
        // GetQuantizedConvolutionMultipler: the float product, widened, over 2⁻¹².
        let preActivation = Double(Float(0.000244140625))
        inputMultipliers = inputWeights.map { QuantizedMultiplier(Double(input.scale * $0.scale) / preActivation) }
        recurrentMultipliers = recurrentWeights.map { QuantizedMultiplier(Double(hidden.scale * $0.scale) / preActivation) }
        // CreateInterGateMulParams: double products over the output scale.
        let gateOut = Double(Float(0.000030517578125))
        let cellScale = Double(cell.scale)
        forgetCellMultiplier = QuantizedMultiplier(gateOut * cellScale / cellScale)
        inputCellMultiplier = QuantizedMultiplier(gateOut * gateOut / cellScale)
        hiddenMultiplier = QuantizedMultiplier(gateOut * gateOut / Double(hidden.scale))
        // CreateLstmCellStateInfo: the exponent from CheckedLog2 (in float, rounded; TFLM does not
        // check that the scale is a power of two, so neither do we).
        let power = (logf(cell.scale) * (1 / logf(2))).rounded()
        guard power.isFinite, abs(power) < 64 else { throw Unsupported("cell state scale \(cell.scale)") }
        // lstm_eval.cc Tanh: the input shift is (15 + power) − 3; a negative one becomes a right
        // shift with multiplier 3.
        var shift = Int32(15 + power) - 3
        if shift < 0 {
            shift = -shift
            cellTanhMultiplier = 3
        }
        guard shift <= 20 else { throw Unsupported("cell state scale \(cell.scale) is outside what TFLM's tanh can shift") }
        cellTanhShift = shift
        if cellClip > 0 { quantizedCellClip = Int16(min(max(Double(cellClip) / cellScale, -32768), 32767)) }
    }

    package func run() throws {
        guard input.rank == 3, input.shape[timeMajor ? 1 : 0] == batch, input.shape[2] == inputSize else {
            throw InterpreterError.runtime("input shape \(input.shape) differs from the model's", at: label)
        }
        let steps = input.shape[timeMajor ? 0 : 1]
        try output.resize([input.shape[0], input.shape[1], units], at: label)
        cellHistory.removeAll(keepingCapacity: true)
        // lstm_eval.h EvalLstm: time-major runs all batches per step; batch-major runs each
        // sequence through time, one row at a time, with its own state rows.
        if timeMajor {
            for t in 0..<steps { step(rows: batch, inputOffset: t * batch * inputSize, stateOffset: 0, outputOffset: t * batch * units) }
        } else {
            for b in 0..<batch {
                for t in 0..<steps {
                    step(rows: 1, inputOffset: (b * steps + t) * inputSize, stateOffset: b * units, outputOffset: (b * steps + t) * units)
                }
            }
        }
    }

    private func step(rows: Int, inputOffset: Int, stateOffset: Int, outputOffset: Int) {
        if input.dtype == .float32 {
            stepFloat(rows: rows, inputOffset: inputOffset, stateOffset: stateOffset, outputOffset: outputOffset)
        } else {
            stepInteger(rows: rows, inputOffset: inputOffset, stateOffset: stateOffset, outputOffset: outputOffset)
        }
    }

    // MARK: float

    /// reference_ops::FullyConnected: the sum in order, then the bias.
    private func fullyConnected(_ x: UnsafeMutablePointer<Float>, _ w: Slot, bias: Slot?, rows: Int, depth: Int, into y: inout [Float]) {
        let wp = w.f32
        for r in 0..<rows {
            for u in 0..<units {
                var total: Float = 0
                for d in 0..<depth { total += x[r * depth + d] * wp[u * depth + d] }
                y[r * units + u] = total + (bias.map { $0.f32[u] } ?? 0)
            }
        }
    }

    private static func sigmoid(_ v: Float) -> Float {
        // reference_ops::Logistic's cut-offs.
        if v > 16.619047164916992188 { return 1 }
        if v < -9 { return expf(v) }
        return 1 / (1 + expf(-v))
    }

    private func stepFloat(rows: Int, inputOffset: Int, stateOffset: Int, outputOffset: Int) {
        let n = rows * units
        let x = input.f32 + inputOffset, h = hidden.f32 + stateOffset, c = cell.f32 + stateOffset
        for g in 0..<3 { floatGate(g, x: x, h: h, rows: rows) }
        // UpdateLstmCell: cell = forget·cell, + input·cellGate, clipped.
        for i in 0..<n { c[i] = gatesF[0][i] * c[i] }
        for i in 0..<n { scratchF[i] = gatesF[1][i] * gatesF[2][i] }
        for i in 0..<n { c[i] = c[i] + scratchF[i] }
        if cellClip > 0 { for i in 0..<n { c[i] = max(min(cellClip, c[i]), -cellClip) } }
        floatGate(3, x: x, h: h, rows: rows)
        // UpdateLstmHidden: hidden = tanh(cell)·outputGate.
        for i in 0..<n { scratchF[i] = tanhf(c[i]) }
        for i in 0..<n { h[i] = scratchF[i] * gatesF[3][i] }
        (output.f32 + outputOffset).update(from: h, count: n)
        cellHistory.append(contentsOf: UnsafeBufferPointer(start: c, count: n))
    }

    package func observeIntermediates(_ observe: (ValueID, UnsafeBufferPointer<Float>) -> Void) {
        guard !cellHistory.isEmpty else { return }
        cellHistory.withUnsafeBufferPointer { observe(cell.id, $0) }
    }

    private func floatGate(_ g: Int, x: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, rows: Int) {
        fullyConnected(x, inputWeights[g], bias: biases[g], rows: rows, depth: inputSize, into: &gatesF[g])
        fullyConnected(h, recurrentWeights[g], bias: nil, rows: rows, depth: units, into: &scratchF)
        let n = rows * units
        for i in 0..<n { gatesF[g][i] = gatesF[g][i] + scratchF[i] }
        if g == 2 {
            for i in 0..<n { gatesF[g][i] = tanhf(gatesF[g][i]) }
        } else {
            for i in 0..<n { gatesF[g][i] = Self.sigmoid(gatesF[g][i]) }
        }
    }

    // MARK: int8

    /// reference_integer_ops::FullyConnected, int8 → int16 with no output offset.
    private func fullyConnected(_ x: UnsafeMutablePointer<Int8>, zeroPoint: Int32, _ w: Slot, bias: Slot?, multiplier: QuantizedMultiplier,
                                rows: Int, depth: Int, into y: inout [Int16]) {
        let wp = w.i8
        for r in 0..<rows {
            for u in 0..<units {
                var acc: Int32 = 0
                for d in 0..<depth { acc = acc &+ Int32(wp[u * depth + d]) &* (Int32(x[r * depth + d]) &- zeroPoint) }
                if let bias { acc = acc &+ bias.i32[u] }
                let scaled = FixedPoint.multiply(acc, multiplier)
                y[r * units + u] = Int16(truncatingIfNeeded: min(max(scaled, -32768), 32767))
            }
        }
    }

    @inline(__always)
    private static func saturatingAdd(_ a: Int16, _ b: Int16) -> Int16 {
        Int16(truncatingIfNeeded: min(max(Int32(a) + Int32(b), -32768), 32767))
    }

    /// reference_integer_ops::MulElementwise with symmetric inputs.
    @inline(__always)
    private static func multiply(_ a: Int16, _ b: Int16, _ m: QuantizedMultiplier, offset: Int32, lo: Int32, hi: Int32) -> Int32 {
        min(max(offset &+ FixedPoint.multiply(Int32(a) &* Int32(b), m), lo), hi)
    }

    private func integerGate(_ g: Int, x: UnsafeMutablePointer<Int8>, h: UnsafeMutablePointer<Int8>, rows: Int) {
        fullyConnected(x, zeroPoint: input.zeroPoint, inputWeights[g], bias: biases[g], multiplier: inputMultipliers[g], rows: rows, depth: inputSize, into: &gates16[g])
        fullyConnected(h, zeroPoint: hidden.zeroPoint, recurrentWeights[g], bias: nil, multiplier: recurrentMultipliers[g], rows: rows, depth: units, into: &scratch16)
        let n = rows * units
        for i in 0..<n { gates16[g][i] = Self.saturatingAdd(gates16[g][i], scratch16[i]) }
        if g == 2 {
            // The cell gate's tanh takes Q3.12: cell_state_scale_power −12 gives multiplier 3, no shift.
            for i in 0..<n { gates16[g][i] = Int16Nonlinearity.tanh(gates16[g][i]) }
        } else {
            for i in 0..<n { gates16[g][i] = Int16Nonlinearity.logistic(gates16[g][i]) }
        }
    }

    private func stepInteger(rows: Int, inputOffset: Int, stateOffset: Int, outputOffset: Int) {
        let n = rows * units
        let x = input.i8 + inputOffset, h = hidden.i8 + stateOffset, c = cell.i16 + stateOffset
        for g in 0..<3 { integerGate(g, x: x, h: h, rows: rows) }
        let lo16 = Int32(Int16.min), hi16 = Int32(Int16.max)
        for i in 0..<n { c[i] = Int16(truncatingIfNeeded: Self.multiply(gates16[0][i], c[i], forgetCellMultiplier, offset: 0, lo: lo16, hi: hi16)) }
        for i in 0..<n { scratch16[i] = Int16(truncatingIfNeeded: Self.multiply(gates16[1][i], gates16[2][i], inputCellMultiplier, offset: 0, lo: lo16, hi: hi16)) }
        for i in 0..<n { c[i] = Self.saturatingAdd(c[i], scratch16[i]) }
        if cellClip > 0 { for i in 0..<n { c[i] = max(min(quantizedCellClip, c[i]), 0 &- quantizedCellClip) } }
        integerGate(3, x: x, h: h, rows: rows)
        for i in 0..<n { scratch16[i] = Int16Nonlinearity.tanh(c[i], multiplier: cellTanhMultiplier, leftShift: cellTanhShift) }
        for i in 0..<n {
            h[i] = Int8(truncatingIfNeeded: Self.multiply(scratch16[i], gates16[3][i], hiddenMultiplier, offset: hidden.zeroPoint, lo: -128, hi: 127))
        }
        (output.i8 + outputOffset).update(from: h, count: n)
    }
}
