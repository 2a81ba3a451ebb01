import FlatBuffers
import IR

/// The streaming signal-library ops, which keep samples between runs: SignalFramer,
/// SignalStacker, SignalDelay, SignalOverlapAdd (tflite-micro signal/micro/kernels/framer.cc,
/// stacker.cc, delay.cc, overlap_add.cc; signal/src/overlap_add.cc). Their state is reset when
/// the model is loaded and by `resetState` (the kernels' Reset functions).

/// The int16 FIFO of signal/src/circular_buffer.cc as those kernels use it: a fixed capacity,
/// writes at the back, reads and discards at the front. Writing more than the free space or
/// reading more than is held trips TFLM's asserts; here they are run-time errors.
struct SampleFIFO {
    let capacity: Int
    private var storage: [Int16]
    private var head = 0
    private(set) var available = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = Array(repeating: 0, count: max(capacity, 1))
    }

    mutating func reset() {
        head = 0
        available = 0
    }

    private mutating func append(_ value: Int16) {
        storage[(head + available) % capacity] = value
        available += 1
    }

    /// `CircularBufferWrite`; false when the samples do not fit.
    mutating func write(_ values: UnsafePointer<Int16>, _ n: Int) -> Bool {
        guard n <= capacity - available else { return false }
        for i in 0..<n { append(values[i]) }
        return true
    }

    /// `CircularBufferWriteZeros`.
    mutating func writeZeros(_ n: Int) -> Bool {
        guard n <= capacity - available else { return false }
        for _ in 0..<n { append(0) }
        return true
    }

    /// `CircularBufferExtend`: the last `count` samples written, appended `times` more times.
    mutating func repeatLast(_ count: Int, times: Int) -> Bool {
        guard times > 0, count > 0 else { return true }
        guard count <= available, count * times <= capacity - available else { return false }
        let start = head + available - count
        for _ in 0..<times {
            for i in 0..<count { append(storage[(start + i) % capacity]) }
        }
        return true
    }

    /// `CircularBufferGet` (the front `n` samples, not removed).
    func peek(_ n: Int, into out: UnsafeMutablePointer<Int16>) {
        for i in 0..<n { out[i] = storage[(head + i) % capacity] }
    }

    /// `CircularBufferDiscard`.
    mutating func discard(_ n: Int) {
        head = (head + n) % capacity
        available -= n
    }
}

/// SignalFramer (framer.cc): the innermost axis cut into `frame_size`-sample frames every
/// `frame_step` samples, across runs; output 1 is false when some frame was not full yet (that
/// frame's output keeps its previous contents, as in TFLM). With `prefill`, the buffer starts
/// with `frame_size − frame_step` zeros.
package final class SignalFramerKernel: Kernel, StatefulKernel {
    private let label: String
    private let input: Slot, output: Slot, valid: Slot
    private let frameSize: Int, frameStep: Int, prefill: Bool
    private let rows: Int, framesPerRow: Int
    private var buffers: [SampleFIFO]
    package var outputs: [Slot] { [output, valid] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        guard c.op.inputs.count == 1, c.op.outputs.count == 2 else { throw Unsupported("takes 1 input and 2 outputs") }
        label = c.label
        input = try c.input(0)
        output = try c.output(0)
        valid = try c.output(1)
        guard input.dtype == .int16, output.dtype == .int16, valid.dtype == .bool, valid.rank == 0,
              input.rank >= 1, output.rank == input.rank + 1 else {
            throw Unsupported("takes int16 [..., n] → int16 [..., frames, frame_size] and a bool scalar")
        }
        frameSize = Int(try options.int32("frame_size"))
        frameStep = Int(try options.int32("frame_step"))
        prefill = try options.bool("prefill")
        let innermost = input.shape.last ?? 0
        guard frameStep > 0, frameSize > 0, frameSize < 1 << 24, innermost >= frameStep, innermost % frameStep == 0 else {
            throw Unsupported("frame_step \(frameStep) must divide the innermost dimension \(innermost)")
        }
        rows = input.count / innermost
        framesPerRow = innermost / frameStep
        let capacity = (frameSize + frameStep - 1) / frameStep * frameStep
        buffers = Array(repeating: SampleFIFO(capacity: capacity), count: rows)
        guard output.count == rows * framesPerRow * frameSize else {
            throw Unsupported("output shape \(output.shape) does not hold \(rows * framesPerRow) frames of \(frameSize)")
        }
        resetState()
    }

    package func resetState() {
        for i in buffers.indices {
            buffers[i].reset()
            if prefill { _ = buffers[i].writeZeros(frameSize - frameStep) }
        }
    }

    package func run() throws {
        guard input.count == rows * framesPerRow * frameStep else { throw InterpreterError.runtime("input shape \(input.shape) changed", at: label) }
        var allValid = true
        let x = input.i16, out = output.i16
        for row in 0..<rows {
            for frame in 0..<framesPerRow {
                let k = row * framesPerRow + frame
                guard buffers[row].write(x + k * frameStep, frameStep) else {
                    throw InterpreterError.runtime("frame buffer overflow", at: label)
                }
                if buffers[row].available >= frameSize {
                    buffers[row].peek(frameSize, into: out + k * frameSize)
                    buffers[row].discard(frameStep)
                } else {
                    allValid = false
                }
            }
        }
        valid.u8[0] = allValid ? 1 : 0
    }
}

/// SignalStacker (stacker.cc): `left + 1 + right` consecutive frames of `num_channels` stacked
/// into one vector every `stacker_step` frames; the first frame is repeated `left` times.
package final class SignalStackerKernel: Kernel, StatefulKernel {
    private let label: String
    private let input: Slot, output: Slot, valid: Slot
    private let channels: Int, left: Int, stackSize: Int, stepSize: Int
    private var buffer: SampleFIFO
    private var hasFirstFrame = false
    package var outputs: [Slot] { [output, valid] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        guard c.op.inputs.count == 1, c.op.outputs.count == 2 else { throw Unsupported("takes 1 input and 2 outputs") }
        label = c.label
        input = try c.input(0)
        output = try c.output(0)
        valid = try c.output(1)
        guard input.dtype == .int16, output.dtype == .int16, valid.dtype == .bool, input.rank == 1, output.rank == 1, valid.rank == 0 else {
            throw Unsupported("takes int16 [channels] → int16 [stack] and a bool scalar")
        }
        channels = Int(try options.int32("num_channels"))
        left = Int(try options.int32("stacker_left_context"))
        let right = Int(try options.int32("stacker_right_context"))
        let step = Int(try options.int32("stacker_step"))
        guard (1..<(1 << 16)).contains(channels), (0..<(1 << 10)).contains(left), (0..<(1 << 10)).contains(right),
              (1...(left + right + 1)).contains(step) else {
            throw Unsupported("options out of range (num_channels \(channels), contexts \(left)/\(right), step \(step))")
        }
        stackSize = channels * (left + right + 1)
        stepSize = channels * step
        guard input.count == channels, output.count == stackSize else {
            throw Unsupported("input must hold num_channels \(channels) values and the output \(stackSize)")
        }
        buffer = SampleFIFO(capacity: stackSize)
    }

    package func resetState() {
        buffer.reset()
        hasFirstFrame = false
    }

    package func run() throws {
        guard buffer.write(input.i16, channels) else { throw InterpreterError.runtime("stack buffer overflow", at: label) }
        if !hasFirstFrame {
            guard buffer.repeatLast(channels, times: left) else { throw InterpreterError.runtime("stack buffer overflow", at: label) }
            hasFirstFrame = true
        }
        if buffer.available >= stackSize {
            buffer.peek(stackSize, into: output.i16)
            buffer.discard(stepSize)
            valid.u8[0] = 1
        } else {
            valid.u8[0] = 0
        }
    }
}

/// SignalDelay (delay.cc): every row of the innermost axis delayed by `delay_length` samples
/// across runs (zeros first).
package final class SignalDelayKernel: Kernel, StatefulKernel {
    private let label: String
    private let input: Slot, output: Slot
    private let delay: Int, frameSize: Int, rows: Int
    private var buffers: [SampleFIFO]
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        guard c.op.inputs.count == 1, c.op.outputs.count == 1 else { throw Unsupported("takes 1 input and 1 output") }
        label = c.label
        input = try c.input(0)
        output = try c.output()
        guard input.dtype == .int16, output.dtype == .int16, input.rank >= 1 else { throw Unsupported("takes int16 [..., n] → int16") }
        delay = Int(try options.int32("delay_length"))
        frameSize = input.shape.last ?? 0
        guard (0..<(1 << 24)).contains(delay), frameSize > 0 else { throw Unsupported("delay_length \(delay) out of range") }
        rows = input.count / frameSize
        buffers = Array(repeating: SampleFIFO(capacity: frameSize + delay), count: rows)
        resetState()
    }

    package func resetState() {
        for i in buffers.indices {
            buffers[i].reset()
            _ = buffers[i].writeZeros(delay)
        }
    }

    package func run() throws {
        guard input.count == rows * frameSize else { throw InterpreterError.runtime("input shape \(input.shape) changed", at: label) }
        try output.resize(input.shape, at: label)
        let x = input.i16, out = output.i16
        for row in 0..<rows {
            _ = buffers[row].write(x + row * frameSize, frameSize)
            buffers[row].peek(frameSize, into: out + row * frameSize)
            buffers[row].discard(frameSize)
        }
    }
}

/// SignalOverlapAdd (overlap_add.cc, src/overlap_add.cc): frames of `frame_size` added into a
/// running buffer, `frame_step` samples emitted per frame; int16 saturates each sum, float32
/// adds in float.
package final class SignalOverlapAddKernel: Kernel, StatefulKernel {
    private let label: String
    private let input: Slot, output: Slot
    private let frameSize: Int, frameStep: Int, framesPerRow: Int, rows: Int
    private var buffers: [[Float]], buffers16: [[Int16]]
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, _ options: FlexBufferMap) throws {
        guard c.op.inputs.count == 1, c.op.outputs.count == 1 else { throw Unsupported("takes 1 input and 1 output") }
        label = c.label
        input = try c.input(0)
        output = try c.output()
        guard input.dtype == output.dtype, input.dtype == .int16 || input.dtype == .float32,
              input.rank >= 2, input.rank == output.rank + 1 else {
            throw Unsupported("takes int16 or float32 [..., frames, frame_size] → [..., samples]")
        }
        frameStep = Int(try options.int32("frame_step"))
        frameSize = input.shape[input.rank - 1]
        framesPerRow = input.shape[input.rank - 2]
        guard frameSize > 0, framesPerRow > 0, (1...frameSize).contains(frameStep) else {
            throw Unsupported("frame_step \(frameStep) must be in 1…frame_size \(frameSize)")
        }
        rows = input.count / (frameSize * framesPerRow)
        guard output.count == rows * framesPerRow * frameStep else {
            throw Unsupported("output shape \(output.shape) does not hold \(rows * framesPerRow * frameStep) samples")
        }
        buffers = input.dtype == .float32 ? Array(repeating: Array(repeating: 0, count: frameSize), count: rows) : []
        buffers16 = input.dtype == .int16 ? Array(repeating: Array(repeating: 0, count: frameSize), count: rows) : []
    }

    package func resetState() {
        for i in buffers.indices { buffers[i] = Array(repeating: 0, count: frameSize) }
        for i in buffers16.indices { buffers16[i] = Array(repeating: 0, count: frameSize) }
    }

    /// overlap_add.cc's OverlapAdd: add, emit the first `frameStep`, shift the rest down, zero
    /// the tail.
    private static func overlapAdd<T>(_ buffer: inout [T], _ frameStep: Int, _ out: UnsafeMutablePointer<T>, zero: T,
                                      add: (inout T, Int) -> Void) {
        for i in buffer.indices { add(&buffer[i], i) }
        for i in 0..<frameStep { out[i] = buffer[i] }
        let n = buffer.count
        for i in 0..<(n - frameStep) { buffer[i] = buffer[i + frameStep] }
        for i in (n - frameStep)..<n { buffer[i] = zero }
    }

    package func run() throws {
        guard input.count == rows * framesPerRow * frameSize else { throw InterpreterError.runtime("input shape \(input.shape) changed", at: label) }
        for row in 0..<rows {
            for frame in 0..<framesPerRow {
                let k = row * framesPerRow + frame
                if input.dtype == .float32 {
                    let x = input.f32 + k * frameSize
                    Self.overlapAdd(&buffers[row], frameStep, output.f32 + k * frameStep, zero: 0) { $0 += x[$1] }
                } else {
                    let x = input.i16 + k * frameSize
                    Self.overlapAdd(&buffers16[row], frameStep, output.i16 + k * frameStep, zero: 0) {
                        $0 = Int16(clamping: Int32($0) + Int32(x[$1]))
                    }
                }
            }
        }
    }
}
