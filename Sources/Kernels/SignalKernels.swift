import FlatBuffers
import IR

/// Kernels for the custom ops of TFLM's signal library (tflite-micro signal/micro/kernels/*.cc
/// for the checks and the option keys, signal/src/*.cc for the arithmetic). Their options are a
/// flexbuffer map; TFLM reads the values by their position in the sorted keys, which is the same
/// as reading them by key.

extension FlexBufferMap {
    /// `FlexbufferWrapper::ElementAsInt32`: the value converted to int64, then truncated.
    package func int32(_ key: String) throws -> Int32 {
        guard let v = self[key]?.int64 else { throw Unsupported("custom option \"\(key)\" is missing or not a number") }
        return Int32(truncatingIfNeeded: v)
    }

    /// `FlexbufferWrapper::ElementAsBool`.
    package func bool(_ key: String) throws -> Bool {
        guard let v = self[key]?.int64 else { throw Unsupported("custom option \"\(key)\" is missing or not a boolean") }
        return v != 0
    }
}

/// The type and rank checks of a signal kernel's Prepare, as `Unsupported` reasons.
private func expect(_ s: Slot, _ dtype: DType, rank: Int? = nil, _ what: String) throws {
    guard s.dtype == dtype else { throw Unsupported("\(what) has type \(s.dtype.name); TFLM's kernel takes \(dtype.name)") }
    if let rank, s.rank != rank { throw Unsupported("\(what) has rank \(s.rank); TFLM's kernel takes rank \(rank)") }
}

private func expectCounts(_ c: KernelContext, inputs: Int, outputs: Int) throws {
    guard c.op.inputs.count == inputs, c.op.outputs.count == outputs else {
        throw Unsupported("has \(c.op.inputs.count) inputs and \(c.op.outputs.count) outputs; TFLM's kernel takes \(inputs) and \(outputs)")
    }
}

/// SignalWindow (window.cc, src/window.cc): each block of `weights.count` samples times the
/// window, shifted right, saturated to int16.
package final class SignalWindowKernel: Kernel {
    private let label: String
    private let input: Slot, weights: Slot, output: Slot
    private let shift: Int32
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 2, outputs: 1)
        label = c.label
        input = try c.input(0)
        weights = try c.input(1)
        output = try c.output()
        try expect(input, .int16, "input")
        try expect(weights, .int16, rank: 1, "weights")
        try expect(output, .int16, rank: input.rank, "output")
        shift = try options.int32("shift")
        guard (0..<32).contains(shift) else { throw Unsupported("shift \(shift) is outside 0…31") }
    }

    package func run() throws {
        let n = input.count, size = weights.count
        guard size > 0, n % size == 0 else {
            throw InterpreterError.runtime("input of \(n) samples is not a whole number of \(size)-sample windows", at: label)
        }
        try output.resize(input.shape, at: label)
        let x = input.i16, w = weights.i16, out = output.i16
        for i in 0..<n {
            let raw = (Int32(x[i]) * Int32(w[i % size])) >> shift
            out[i] = Int16(clamping: raw)
        }
    }
}

/// SignalFftAutoScale (fft_auto_scale_kernel.cc, src/fft_auto_scale.cc): shifts the frame left
/// until its largest magnitude uses 15 bits; the second output is the shift.
package final class SignalFftAutoScaleKernel: Kernel {
    private let input: Slot, output: Slot, scaleBits: Slot
    private let label: String
    package var outputs: [Slot] { [output, scaleBits] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 1, outputs: 2)
        label = c.label
        input = try c.input(0)
        output = try c.output(0)
        scaleBits = try c.output(1)
        try expect(input, .int16, rank: 1, "input")
        try expect(output, .int16, rank: 1, "output")
        try expect(scaleBits, .int32, rank: 0, "output 1")
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let n = input.count, x = input.i16, out = output.i16
        let maximum = SignalArithmetic.maxAbs16(x, n)
        // The int16 maximum widens to uint32 (sign-extended) before the MSB is taken.
        let msb = SignalArithmetic.mostSignificantBit32(UInt32(bitPattern: Int32(maximum)))
        let bits = max(0, 16 - Int32(msb) - 1)
        for i in 0..<n { out[i] = Int16(truncatingIfNeeded: Int32(x[i]) << bits) }
        scaleBits.i32[0] = bits
    }
}

/// The three KISS builds TFLM's SignalRfft and SignalIrfft choose from by the options' `T`
/// (rfft.cc / irfft.cc `RfftInitAll`, src/rfft_{int16,int32,float}.cc), with a scratch area of
/// `length` complex values allocated once.
private final class RealFFTRunner {
    private enum Build {
        case int16(KissRealFFT<KissInt16>), int32(KissRealFFT<KissInt32>), float32(KissRealFFT<KissFloat>)
    }
    private let build: Build
    let length: Int
    private let scratch: UnsafeMutableRawPointer
    private let frame: UnsafeMutableRawPointer

    init(_ c: KernelContext, _ options: FlexBufferMap, dtype: DType, inverse: Bool) throws {
        if let t = options["T"]?.int64, t != Int64(dtype.code) {
            throw Unsupported("option T is TensorType \(t) but the tensors are \(dtype.name)")
        }
        let length = Int(try options.int32("fft_length"))
        let build: Build?
        switch dtype {
        case .int16: build = KissRealFFT<KissInt16>(length: length, inverse: inverse).map(Build.int16)
        case .int32: build = KissRealFFT<KissInt32>(length: length, inverse: inverse).map(Build.int32)
        case .float32: build = KissRealFFT<KissFloat>(length: length, inverse: inverse).map(Build.float32)
        default: throw Unsupported("type \(dtype.name); supported: INT16, INT32 or FLOAT32")
        }
        guard let build else {
            throw Unsupported("fft_length \(length) is not an even length whose half has only the factors 2, 3 and 5")
        }
        self.build = build
        self.length = length
        scratch = UnsafeMutableRawPointer.allocate(byteCount: length * 8, alignment: 8)
        frame = UnsafeMutableRawPointer.allocate(byteCount: length * 4, alignment: 8)
    }

    deinit {
        scratch.deallocate()
        frame.deallocate()
    }

    /// `rows` forward transforms: each row of `rowLength` samples zero-padded to `length`
    /// (rfft.cc's memcpy + memset into the work area), `length + 2` values out per row.
    func forward(_ input: Slot, _ output: Slot, rows: Int, rowLength: Int) {
        func run<A>(_ fft: KissRealFFT<A>) {
            let x = input.pointer(A.Scalar.self), out = output.pointer(A.Scalar.self)
            let work = frame.bindMemory(to: A.Scalar.self, capacity: length)
            let area = scratch.bindMemory(to: KissComplex<A.Scalar>.self, capacity: length)
            for r in 0..<rows {
                for i in 0..<length { work[i] = i < rowLength ? x[r * rowLength + i] : A.zero }
                fft.transform(work, out + r * (length + 2), scratch: area)
            }
        }
        switch build {
        case .int16(let f): run(f)
        case .int32(let f): run(f)
        case .float32(let f): run(f)
        }
    }

    /// `rows` inverse transforms of rows `rowLength` values apart, `length` samples out per row.
    func inverse(_ input: Slot, _ output: Slot, rows: Int, rowLength: Int) {
        func run<A>(_ fft: KissRealFFT<A>) {
            let x = input.pointer(A.Scalar.self), out = output.pointer(A.Scalar.self)
            let area = scratch.bindMemory(to: KissComplex<A.Scalar>.self, capacity: length)
            for r in 0..<rows { fft.inverseTransform(x + r * rowLength, out + r * length, scratch: area) }
        }
        switch build {
        case .int16(let f): run(f)
        case .int32(let f): run(f)
        case .float32(let f):
            run(f)
            // src/irfft_float.cc: kiss_fftri does not scale; the float build divides by the length.
            let out = output.f32, n = Float(length)
            for i in 0..<(rows * length) { out[i] /= n }
        }
    }
}

/// SignalRfft (rfft.cc, src/rfft_{int16,int32,float}.cc): each row zero-padded to
/// `fft_length` and run through KISS's real FFT (fixed point: the DFT divided by the length).
package final class SignalRfftKernel: Kernel {
    private let input: Slot, output: Slot
    private let label: String
    private let fft: RealFFTRunner
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 1, outputs: 1)
        label = c.label
        input = try c.input(0)
        output = try c.output()
        try expect(output, input.dtype, rank: input.rank, "output")
        guard input.rank >= 1 else { throw Unsupported("input is a scalar") }
        fft = try RealFFTRunner(c, options, dtype: input.dtype, inverse: false)
    }

    package func run() throws {
        let rowLength = input.shape.last ?? 0
        guard rowLength > 0, rowLength <= fft.length else {
            throw InterpreterError.runtime("rows of \(rowLength) samples do not fit fft_length \(fft.length)", at: label)
        }
        try output.resize(Array(input.shape.dropLast()) + [fft.length + 2], at: label)
        fft.forward(input, output, rows: input.count / rowLength, rowLength: rowLength)
    }
}

/// SignalIrfft (irfft.cc, src/irfft_{int16,int32,float}.cc): each row of `fft_length / 2 + 1`
/// bins through KISS's inverse real FFT (`kiss_fftri`; fixed point divides by the radix at every
/// stage, float divides the result by `fft_length`).
package final class SignalIrfftKernel: Kernel {
    private let input: Slot, output: Slot
    private let label: String
    private let fft: RealFFTRunner
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 1, outputs: 1)
        label = c.label
        input = try c.input(0)
        output = try c.output()
        try expect(output, input.dtype, rank: input.rank, "output")
        guard input.rank >= 1 else { throw Unsupported("input is a scalar") }
        fft = try RealFFTRunner(c, options, dtype: input.dtype, inverse: true)
    }

    package func run() throws {
        let bins = (input.shape.last ?? 0) / 2
        guard bins >= fft.length / 2 + 1 else {
            throw InterpreterError.runtime("rows of \(bins) bins are fewer than fft_length / 2 + 1 = \(fft.length / 2 + 1)", at: label)
        }
        try output.resize(Array(input.shape.dropLast()) + [fft.length], at: label)
        fft.inverse(input, output, rows: input.count / (2 * bins), rowLength: 2 * bins)
    }
}

/// SignalEnergy (energy.cc, src/energy.cc): re² + im² of bins [start_index, end_index), as a
/// wrapping 32-bit sum. TFLM leaves the other outputs untouched; they are zero here.
package final class SignalEnergyKernel: Kernel {
    private let input: Slot, output: Slot
    private let label: String
    private let start: Int, end: Int
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 1, outputs: 1)
        label = c.label
        input = try c.input(0)
        output = try c.output()
        try expect(input, .int16, rank: 1, "input")
        try expect(output, .uint32, rank: 1, "output")
        start = Int(try options.int32("start_index"))
        end = Int(try options.int32("end_index"))
    }

    package func run() throws {
        let out = output.u32, x = input.i16
        guard start >= 0, end <= input.count / 2, end <= output.count else {
            throw InterpreterError.runtime("bins [\(start), \(end)) do not fit \(input.count / 2) input and \(output.count) output bins", at: label)
        }
        for i in 0..<output.count { out[i] = 0 }
        for i in start..<max(start, end) {
            let re = Int32(x[2 * i]), im = Int32(x[2 * i + 1])
            out[i] = UInt32(bitPattern: (re * re) &+ (im * im))
        }
    }
}

/// SignalFilterBank (filter_bank.cc, src/filter_bank.cc): triangular mel channels; each
/// channel sums weighted energies into itself and unweighted ones into the next, in wrapping
/// 64-bit arithmetic (int16 weights sign-extend). Channel 0 of the work area is dropped.
package final class SignalFilterBankKernel: Kernel {
    private let inputs: [Slot]
    private let output: Slot
    private let label: String
    private let channels: Int
    private var work: [UInt64]
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 6, outputs: 1)
        label = c.label
        inputs = try (0..<6).map { try c.input($0) }
        output = try c.output()
        try expect(inputs[0], .uint32, rank: 1, "input")
        for k in 1..<6 { try expect(inputs[k], .int16, rank: 1, "input \(k)") }
        try expect(output, .uint64, rank: 1, "output")
        channels = Int(try options.int32("num_channels"))
        guard channels >= 0, channels < 1 << 20 else { throw Unsupported("num_channels \(channels) is out of range") }
        work = Array(repeating: 0, count: channels + 1)
    }

    package func run() throws {
        let energy = inputs[0].u32, weights = inputs[1].i16, unweights = inputs[2].i16
        let frequencyStarts = inputs[3].i16, weightStarts = inputs[4].i16, widths = inputs[5].i16
        guard inputs[3].count > channels, inputs[4].count > channels, inputs[5].count > channels, output.count <= channels else {
            throw InterpreterError.runtime("\(channels) channels need \(channels + 1) starts and widths and at most \(channels) outputs", at: label)
        }
        let energyCount = inputs[0].count, weightCount = min(inputs[1].count, inputs[2].count)
        var weighted: UInt64 = 0, unweighted: UInt64 = 0
        for i in 0...channels {
            let frequencyStart = Int(frequencyStarts[i]), weightStart = Int(weightStarts[i]), width = Int(widths[i])
            if width > 0 {
                guard frequencyStart >= 0, frequencyStart + width <= energyCount, weightStart >= 0, weightStart + width <= weightCount else {
                    throw InterpreterError.runtime("channel \(i) reads past its energy or weight tensor", at: label)
                }
            }
            for j in 0..<max(0, width) {
                let e = UInt64(energy[frequencyStart + j])
                weighted &+= UInt64(bitPattern: Int64(weights[weightStart + j])) &* e
                unweighted &+= UInt64(bitPattern: Int64(unweights[weightStart + j])) &* e
            }
            work[i] = weighted
            weighted = unweighted
            unweighted = 0
        }
        let out = output.u64
        for i in 0..<output.count { out[i] = work[i + 1] }
    }
}

/// SignalFilterBankSquareRoot (filter_bank_square_root.cc, src/filter_bank_square_root.cc):
/// the rounded integer square root of each channel, shifted right by the FFT's scale bits.
package final class SignalFilterBankSquareRootKernel: Kernel {
    private let input: Slot, scaleBits: Slot, output: Slot
    private let label: String
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 2, outputs: 1)
        label = c.label
        input = try c.input(0)
        scaleBits = try c.input(1)
        output = try c.output()
        try expect(input, .uint64, rank: 1, "input")
        try expect(scaleBits, .int32, rank: 0, "input 1")
        try expect(output, .uint32, rank: 1, "output")
    }

    package func run() throws {
        let shift = scaleBits.i32[0]
        guard (0..<32).contains(shift) else { throw InterpreterError.runtime("scale bits \(shift) are outside 0…31", at: label) }
        try output.resize(input.shape, at: label)
        let x = input.u64, out = output.u32
        for i in 0..<input.count { out[i] = SignalArithmetic.sqrt64(x[i]) >> UInt32(shift) }
    }
}

/// SignalFilterBankSpectralSubtraction (filter_bank_spectral_subtraction.cc,
/// src/filter_bank_spectral_subtraction.cc): a per-channel noise estimate smoothed over frames
/// (even channels use `smoothing`, odd ones `alternate_smoothing`) is subtracted, keeping at
/// least `min_signal_remaining` of the signal. The estimate is kernel state: zero after
/// loading (Prepare) and after `resetState`, carried from one run to the next.
package final class SignalSpectralSubtractionKernel: Kernel, StatefulKernel {
    private let input: Slot, output: Slot, noiseOutput: Slot
    private let label: String
    private let channels: Int
    private let smoothing: UInt32, oneMinusSmoothing: UInt32
    private let alternateSmoothing: UInt32, alternateOneMinusSmoothing: UInt32
    private let minSignalRemaining: UInt32
    private let smoothingBits: UInt32, subtractionBits: UInt64
    private let clamping: Bool
    private var noiseEstimate: [UInt32]
    package var outputs: [Slot] { [output, noiseOutput] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 1, outputs: 2)
        label = c.label
        input = try c.input(0)
        output = try c.output(0)
        noiseOutput = try c.output(1)
        try expect(input, .uint32, rank: 1, "input")
        try expect(output, .uint32, rank: 1, "output")
        try expect(noiseOutput, .uint32, rank: 1, "output 1")
        // The config fields are uint32 (src/filter_bank_spectral_subtraction.h).
        func u(_ key: String) throws -> UInt32 { UInt32(bitPattern: try options.int32(key)) }
        channels = Int(try options.int32("num_channels"))
        smoothing = try u("smoothing")
        oneMinusSmoothing = try u("one_minus_smoothing")
        alternateSmoothing = try u("alternate_smoothing")
        alternateOneMinusSmoothing = try u("alternate_one_minus_smoothing")
        minSignalRemaining = try u("min_signal_remaining")
        smoothingBits = try u("smoothing_bits")
        subtractionBits = UInt64(try u("spectral_subtraction_bits"))
        clamping = try options.bool("clamping")
        guard channels >= 0, channels < 1 << 20 else { throw Unsupported("num_channels \(channels) is out of range") }
        guard smoothingBits < 32, subtractionBits < 64 else { throw Unsupported("shift options out of range") }
        noiseEstimate = Array(repeating: 0, count: channels)
    }

    package func resetState() {
        for i in noiseEstimate.indices { noiseEstimate[i] = 0 }
    }

    package func run() throws {
        guard input.count >= channels, output.count >= channels, noiseOutput.count == channels else {
            throw InterpreterError.runtime("\(channels) channels do not match the input, output and noise estimate sizes", at: label)
        }
        let x = input.u32, out = output.u32
        for i in 0..<channels {
            let (s, oneMinus) = i & 1 == 0 ? (smoothing, oneMinusSmoothing) : (alternateSmoothing, alternateOneMinusSmoothing)
            let signalScaledUp = x[i] << smoothingBits
            noiseEstimate[i] = UInt32(truncatingIfNeeded:
                (UInt64(signalScaledUp) &* UInt64(s) &+ UInt64(noiseEstimate[i]) &* UInt64(oneMinus)) >> subtractionBits)
            var estimateScaledUp = noiseEstimate[i]
            if estimateScaledUp > signalScaledUp {
                estimateScaledUp = signalScaledUp
                if clamping { noiseEstimate[i] = estimateScaledUp }
            }
            let floor = UInt32(truncatingIfNeeded: (UInt64(x[i]) &* UInt64(minSignalRemaining)) >> subtractionBits)
            let subtracted = (signalScaledUp &- estimateScaledUp) >> smoothingBits
            out[i] = max(subtracted, floor)
        }
        for i in 0..<channels { noiseOutput.u32[i] = noiseEstimate[i] }
    }
}

/// SignalPCAN (pcan.cc, src/pcan_argc_fixed.cc): per-channel automatic gain control from the
/// noise estimate (gain from `gain_lut`), then the PCAN shrink.
package final class SignalPCANKernel: Kernel {
    private let input: Slot, noise: Slot, lut: Slot, output: Slot
    private let label: String
    private let snrShift: Int32
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 3, outputs: 1)
        label = c.label
        input = try c.input(0)
        noise = try c.input(1)
        lut = try c.input(2)
        output = try c.output()
        try expect(input, .uint32, rank: 1, "input")
        try expect(noise, .uint32, rank: 1, "input 1")
        try expect(lut, .int16, rank: 1, "input 2")
        try expect(output, .uint32, rank: 1, "output")
        snrShift = try options.int32("snr_shift")
        guard (0..<64).contains(snrShift) else { throw Unsupported("snr_shift \(snrShift) is outside 0…63") }
    }

    package func run() throws {
        let n = input.count
        guard noise.count >= n else { throw InterpreterError.runtime("noise estimate has \(noise.count) channels, input \(n)", at: label) }
        try output.resize(input.shape, at: label)
        let x = input.u32, estimate = noise.u32, out = output.u32
        for i in 0..<n {
            guard let gain16 = SignalArithmetic.wideDynamicFunction(estimate[i], lut.i16, count: lut.count) else {
                throw InterpreterError.runtime("gain_lut of \(lut.count) entries is too short for noise estimate \(estimate[i])", at: label)
            }
            // The int16 gain converts to uint32 (sign-extended), as in the C++ source.
            let gain = UInt32(bitPattern: Int32(gain16))
            let snr = UInt32(truncatingIfNeeded: (UInt64(x[i]) &* UInt64(gain)) >> UInt64(snrShift))
            out[i] = SignalArithmetic.pcanShrink(snr)
        }
    }
}

/// SignalFilterBankLog (filter_bank_log.cc, src/filter_bank_log.cc): ln of each channel
/// (shifted left by `input_correction_bits`) times `output_scale`, capped at int16 max; 0 for
/// values ≤ 1.
package final class SignalFilterBankLogKernel: Kernel {
    private let input: Slot, output: Slot
    private let label: String
    private let correctionBits: UInt32, outputScale: UInt32
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        try expectCounts(c, inputs: 1, outputs: 1)
        label = c.label
        input = try c.input(0)
        output = try c.output()
        try expect(input, .uint32, rank: 1, "input")
        try expect(output, .int16, rank: 1, "output")
        correctionBits = UInt32(bitPattern: try options.int32("input_correction_bits"))
        outputScale = UInt32(bitPattern: try options.int32("output_scale"))
        guard correctionBits < 32 else { throw Unsupported("input_correction_bits \(correctionBits) is outside 0…31") }
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let x = input.u32, out = output.i16
        for i in 0..<input.count {
            let scaled = x[i] << correctionBits
            out[i] = scaled > 1 ? Int16(min(SignalArithmetic.log32(scaled, outScale: outputScale), UInt32(Int16.max))) : 0
        }
    }
}
