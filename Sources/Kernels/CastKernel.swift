import IR

/// CAST as TFLM's cast.cc runs it: `static_cast<ToT>` per element, from int8, int16, int32,
/// uint32, float32 or bool to int8, int16, int32, uint32 or float32. Integer narrowing wraps;
/// float to integer truncates toward zero with x86-64's conversions (cvttss2si to 32 bits for
/// int8/int16/int32, to 64 bits for uint32; NaN and out-of-range values give the "integer
/// indefinite" value), then wraps to the target width.
package final class CastKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    private static let inputTypes: [DType] = [.int8, .int16, .int32, .uint32, .float32, .bool]
    private static let outputTypes: [DType] = [.int8, .int16, .int32, .uint32, .float32]

    package init(_ c: KernelContext) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        guard Self.inputTypes.contains(input.dtype), Self.outputTypes.contains(output.dtype) else {
            throw Unsupported("types \(input.dtype.name) → \(output.dtype.name); TFLM casts from INT8, INT16, INT32, UINT32, FLOAT32 or BOOL to INT8, INT16, INT32, UINT32 or FLOAT32")
        }
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let n = input.count
        if input.dtype == .float32 {
            let x = input.f32
            if output.dtype == .float32 {
                for i in 0..<n { output.f32[i] = x[i] }
            } else if output.dtype == .uint32 {
                for i in 0..<n { output.u32[i] = UInt32(truncatingIfNeeded: Self.int64Truncating(x[i])) }
            } else {
                store { i in Int64(int32FromFloat(x[i])) }
            }
            return
        }
        let read: (Int) -> Int64
        switch input.dtype {
        case .int8: let x = input.i8; read = { Int64(x[$0]) }
        case .int16: let x = input.i16; read = { Int64(x[$0]) }
        case .int32: let x = input.i32; read = { Int64(x[$0]) }
        case .uint32: let x = input.u32; read = { Int64(x[$0]) }
        default: let x = input.u8; read = { x[$0] != 0 ? 1 : 0 }
        }
        if output.dtype == .float32 {
            for i in 0..<n { output.f32[i] = Float(read(i)) }
        } else {
            store(read)
        }
    }

    /// Writes integer values, wrapped to the output's width.
    private func store(_ value: (Int) -> Int64) {
        let n = input.count
        switch output.dtype {
        case .int8: for i in 0..<n { output.i8[i] = Int8(truncatingIfNeeded: value(i)) }
        case .int16: for i in 0..<n { output.i16[i] = Int16(truncatingIfNeeded: value(i)) }
        case .int32: for i in 0..<n { output.i32[i] = Int32(truncatingIfNeeded: value(i)) }
        default: for i in 0..<n { output.u32[i] = UInt32(truncatingIfNeeded: value(i)) }
        }
    }

    /// cvttss2si with a 64-bit destination.
    private static func int64Truncating(_ f: Float) -> Int64 {
        guard f.isFinite, f >= -9.223372036854775808e18, f < 9.223372036854775808e18 else { return Int64.min }
        return Int64(f)
    }
}
