import CFloatKernels
import FlatBuffers
import IR
import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The memory of one tensor while the interpreter runs: allocated once at load time (with the
/// model's static shape) and only reallocated when a run needs more (a larger dynamic batch).
/// Kernels read and write it through typed pointers.
package final class Slot {
    /// The largest tensor a run may allocate; beyond it kernels report an error instead of the
    /// process dying on a failed allocation.
    package static let maxBytes = 1 << 31

    package let id: ValueID
    package let name: String
    package let dtype: DType
    package let elementSize: Int
    package let isConstant: Bool
    /// Per-tensor quantization (first scale / zero point) and the full per-channel arrays.
    package let scale: Float
    package let zeroPoint: Int32
    package let scales: [Float]
    package let zeroPoints: [Int64]
    package let quantizedAxis: Int
    package let isQuantized: Bool

    package private(set) var shape: [Int]
    package private(set) var count: Int
    package private(set) var raw: UnsafeMutableRawPointer
    private var capacityBytes: Int

    /// Zeroed memory for `count` elements of `shape` (at least 16 bytes, 64-byte aligned).
    private init(id: ValueID, value: Value, isConstant: Bool, shape: [Int], count: Int, capacityBytes: Int) {
        self.id = id
        self.name = value.name
        self.dtype = value.dtype
        self.elementSize = value.dtype.byteSize ?? 1
        self.isConstant = isConstant
        let q = value.quantization
        self.scales = q?.scales ?? []
        self.zeroPoints = q?.zeroPoints ?? []
        self.scale = q?.scales.first ?? 0
        self.zeroPoint = Int32(clamping: q?.zeroPoints.first ?? 0)
        self.quantizedAxis = Int(q?.axis ?? 0)
        self.isQuantized = value.type.isQuantized
        self.shape = shape
        self.count = count
        self.capacityBytes = max(capacityBytes, 16)
        self.raw = UnsafeMutableRawPointer.allocate(byteCount: self.capacityBytes, alignment: 64)
        memset(raw, 0, self.capacityBytes)
    }

    /// A run-time tensor with the model's static shape.
    package convenience init(id: ValueID, value: Value, shape: [Int]) {
        let size = value.dtype.byteSize ?? 1
        let n = RuntimeTensor.elementCount(shape) ?? -1
        let (bytes, overflow) = n.multipliedReportingOverflow(by: size)
        if n >= 0 && !overflow && bytes <= Slot.maxBytes {
            self.init(id: id, value: value, isConstant: false, shape: shape, count: n, capacityBytes: bytes)
        } else {
            // Too large to preallocate: start empty; a kernel's resize reports the problem.
            self.init(id: id, value: value, isConstant: false, shape: [0], count: 0, capacityBytes: 0)
        }
    }

    /// A constant: the bytes are copied once (the file's bytes are little-endian, as is every
    /// platform Swift runs this on).
    package convenience init(id: ValueID, value: Value, constant data: ByteSlice) {
        let shape = value.shape.map(Int.init)
        self.init(id: id, value: value, isConstant: true, shape: shape, count: RuntimeTensor.elementCount(shape) ?? 0, capacityBytes: data.count)
        data.withUnsafeBytes { src in
            if let base = src.baseAddress, !src.isEmpty { raw.copyMemory(from: base, byteCount: src.count) }
        }
    }

    deinit { raw.deallocate() }

    /// Sets the shape a kernel is about to write, growing the memory if needed.
    /// Returns false for a negative dimension or an element count that overflows.
    @discardableResult
    package func resize(_ newShape: [Int]) -> Bool {
        guard !isConstant || newShape == shape else { return false }
        guard let n = RuntimeTensor.elementCount(newShape) else { return false }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: elementSize)
        guard !overflow, bytes <= Slot.maxBytes else { return false }
        if bytes > capacityBytes {
            raw.deallocate()
            capacityBytes = bytes
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
        shape = newShape
        count = n
        return true
    }

    /// `resize` for a kernel's output, with the error naming the op.
    package func resize(_ newShape: [Int], at label: String) throws {
        guard resize(newShape) else {
            throw InterpreterError.runtime("output shape \(newShape) is too large (over \(Slot.maxBytes >> 30) GiB or overflowing)", at: label)
        }
    }

    @inline(__always) package func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> { raw.assumingMemoryBound(to: T.self) }
    package var f32: UnsafeMutablePointer<Float> { pointer(Float.self) }
    package var i8: UnsafeMutablePointer<Int8> { pointer(Int8.self) }
    package var u8: UnsafeMutablePointer<UInt8> { pointer(UInt8.self) }
    package var i16: UnsafeMutablePointer<Int16> { pointer(Int16.self) }
    package var i32: UnsafeMutablePointer<Int32> { pointer(Int32.self) }
    package var i64: UnsafeMutablePointer<Int64> { pointer(Int64.self) }
    package var u32: UnsafeMutablePointer<UInt32> { pointer(UInt32.self) }
    package var u64: UnsafeMutablePointer<UInt64> { pointer(UInt64.self) }

    package var byteCount: Int { count * elementSize }
    package var rank: Int { shape.count }

    /// Integer elements (int8/16/32/64, uint8, bool) widened to Int64, for shape-like inputs.
    package func integerValues() -> [Int64]? {
        switch dtype {
        case .int32: return (0..<count).map { Int64(i32[$0]) }
        case .int64: return (0..<count).map { i64[$0] }
        case .int16: return (0..<count).map { Int64(i16[$0]) }
        case .int8: return (0..<count).map { Int64(i8[$0]) }
        case .uint8, .bool: return (0..<count).map { Int64(u8[$0]) }
        default: return nil
        }
    }

    /// A copy of the contents as a RuntimeTensor (nil for dtypes it cannot hold).
    package func tensor() -> RuntimeTensor? {
        let n = count
        switch dtype {
        case .float32: return RuntimeTensor(unchecked: shape, .float32(Array(UnsafeBufferPointer(start: f32, count: n))))
        case .int8: return RuntimeTensor(unchecked: shape, .int8(Array(UnsafeBufferPointer(start: i8, count: n))))
        case .uint8: return RuntimeTensor(unchecked: shape, .uint8(Array(UnsafeBufferPointer(start: u8, count: n))))
        case .int16: return RuntimeTensor(unchecked: shape, .int16(Array(UnsafeBufferPointer(start: i16, count: n))))
        case .int32: return RuntimeTensor(unchecked: shape, .int32(Array(UnsafeBufferPointer(start: i32, count: n))))
        case .int64: return RuntimeTensor(unchecked: shape, .int64(Array(UnsafeBufferPointer(start: i64, count: n))))
        case .uint32: return RuntimeTensor(unchecked: shape, .uint32(Array(UnsafeBufferPointer(start: u32, count: n))))
        case .uint64: return RuntimeTensor(unchecked: shape, .uint64(Array(UnsafeBufferPointer(start: u64, count: n))))
        case .bool: return RuntimeTensor(unchecked: shape, .bool((0..<n).map { u8[$0] != 0 }))
        default: return nil
        }
    }

    /// Copies a RuntimeTensor of the same dtype in; false on a dtype mismatch or a bad shape.
    package func load(_ t: RuntimeTensor) -> Bool {
        guard t.dtype == dtype, resize(t.shape) else { return false }
        func copy<T>(_ a: [T]) {
            a.withUnsafeBytes { src in
                if let base = src.baseAddress, !src.isEmpty { raw.copyMemory(from: base, byteCount: src.count) }
            }
        }
        switch t.storage {
        case .float32(let a): copy(a)
        case .int8(let a): copy(a)
        case .uint8(let a): copy(a)
        case .int16(let a): copy(a)
        case .int32(let a): copy(a)
        case .int64(let a): copy(a)
        case .uint32(let a): copy(a)
        case .uint64(let a): copy(a)
        case .bool(let a): for (i, b) in a.enumerated() { u8[i] = b ? 1 : 0 }
        }
        return true
    }
}
