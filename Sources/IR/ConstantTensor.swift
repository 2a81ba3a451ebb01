import FlatBuffers
import Support

/// Names for the memory orders of weight tensors, so a transform states where it goes and the
/// per-channel quantization axis moves with the data (schema.fbs and TFLite's kernel_util.cc).
public enum FilterLayout: String, Sendable {
    /// CONV_2D filter [out, kh, kw, in].
    case ohwi = "OHWI"
    /// DEPTHWISE_CONV_2D filter [1, kh, kw, in·multiplier].
    case oneHWO = "1HWO"
    /// TF Conv2D filter [kh, kw, in, out].
    case hwio = "HWIO"
    /// TF DepthwiseConv2dNative filter [kh, kw, in, multiplier].
    case hwim = "HWIM"
    /// FULLY_CONNECTED weights [out, in].
    case oi = "OI"
    /// TF MatMul weights [in, out].
    case io = "IO"
}

/// A constant's bytes with its element type and shape, decoded on demand. Transforms keep the
/// quantization axis consistent with the data.
public struct ConstantTensor: Hashable, Sendable {
    public var type: ElementType
    public var shape: [Int32]
    public var bytes: [UInt8]
    public var layout: FilterLayout?

    public init(type: ElementType, shape: [Int32], bytes: [UInt8], layout: FilterLayout? = nil) {
        self.type = type
        self.shape = shape
        self.bytes = bytes
        self.layout = layout
    }

    public init<T: FixedWidthInteger>(_ dtype: DType, shape: [Int32], values: [T], quantization: Quantization? = nil) {
        self.init(type: ElementType(dtype, quantization: quantization), shape: shape, bytes: le(values))
    }

    public init(floats: [Float], shape: [Int32]) {
        self.init(type: ElementType(.float32), shape: shape, bytes: le(floats.map(\.bitPattern)))
    }

    public var elementCount: Int { Value.elementCount(shape) ?? 0 }
    public var elementSize: Int { type.dtype.byteSize ?? 1 }

    public var floats: [Float] {
        precondition(type.dtype == .float32)
        #if _endian(little)
        return Self.copyElements(bytes, as: Float.self)
        #else
        return scalars(UInt32.self).map(Float.init(bitPattern:))
        #endif
    }
    public func scalars<T: FixedWidthInteger>(_: T.Type) -> [T] {
        #if _endian(little)
        return Self.copyElements(bytes, as: T.self)
        #else
        let n = bytes.count / MemoryLayout<T>.size
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
        #endif
    }
    /// The file's little-endian bytes are already the host's elements: one copy (weights of a
    /// MobileNet are millions of elements, decoded several times by the quantizer).
    package static func copyElements<T>(_ bytes: [UInt8], as _: T.Type) -> [T] {
        let n = bytes.count / MemoryLayout<T>.stride
        return [T](unsafeUninitializedCapacity: n) { buffer, count in
            bytes.withUnsafeBytes { raw in
                if n > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(n * MemoryLayout<T>.stride)])) }
            }
            count = n
        }
    }
    /// Integer values of an integer tensor widened to Int64 (int8/16/32/64, uint8/16/32, bool).
    public var integers: [Int64]? {
        switch type.dtype {
        case .int8: scalars(Int8.self).map(Int64.init)
        case .uint8, .bool: scalars(UInt8.self).map(Int64.init)
        case .int16: scalars(Int16.self).map(Int64.init)
        case .uint16: scalars(UInt16.self).map(Int64.init)
        case .int32: scalars(Int32.self).map(Int64.init)
        case .uint32: scalars(UInt32.self).map(Int64.init)
        case .int64: scalars(Int64.self)
        default: nil
        }
    }

    /// Elements permuted like numpy.transpose(perm); a per-channel axis follows its dimension.
    public func transposed(_ perm: [Int], layout: FilterLayout? = nil) -> ConstantTensor {
        precondition(perm.count == shape.count && perm.sorted() == Array(0..<shape.count))
        let rank = shape.count
        let inShape = shape.map(Int.init)
        let outShape = perm.map { inShape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * inShape[i + 1] }
        let size = elementSize
        var out = [UInt8](repeating: 0, count: bytes.count)
        let n = elementCount
        var index = [Int](repeating: 0, count: rank)
        bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for o in 0..<n {
                    var s = 0
                    for d in 0..<rank { s += index[d] * inStrides[perm[d]] }
                    (dst.baseAddress! + o * size).copyMemory(from: src.baseAddress! + s * size, byteCount: size)
                    var d = rank - 1
                    while d >= 0 {
                        index[d] += 1
                        if index[d] < outShape[d] { break }
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        var t = self
        t.bytes = out
        t.shape = outShape.map(Int32.init)
        if var q = t.type.quantization, q.scales.count > 1, let newAxis = perm.firstIndex(of: Int(q.axis)) {
            q.axis = Int32(newAxis)
            t.type.quantization = q
        }
        t.layout = layout
        return t
    }

    /// Same elements, new shape; the caller names where the per-channel axis goes (nil keeps it).
    public func reshaped(_ newShape: [Int32], quantizedAxis: Int32? = nil, layout: FilterLayout? = nil) -> ConstantTensor {
        precondition(Value.elementCount(newShape) == elementCount)
        var t = self
        t.shape = newShape
        if let a = quantizedAxis, var q = t.type.quantization {
            q.axis = a
            t.type.quantization = q
        }
        t.layout = layout
        return t
    }

    public var slice: ByteSlice { ByteSlice(bytes) }
}

extension Model {
    /// The constant behind a value, nil for runtime values and for sparse constants (their
    /// buffer holds the stored values only; `densify-sparse-constants` makes them dense).
    public func constant(_ value: Value) -> ConstantTensor? {
        guard value.sparsity == nil, let data = constantData(value) else { return nil }
        return ConstantTensor(type: value.type, shape: value.shape, bytes: data.array)
    }
    public func constant(_ id: ValueID, in graph: Int = 0) -> ConstantTensor? {
        id.isAbsent ? nil : constant(subgraphs[graph][id])
    }

    /// Points `id` at new constant data (a fresh buffer: buffers may be shared), updating its type and shape.
    public mutating func setConstant(_ id: ValueID, _ t: ConstantTensor, in graph: Int = 0) {
        let b = addBuffer(t.slice)
        subgraphs[graph][id].buffer = b
        subgraphs[graph][id].shape = t.shape
        subgraphs[graph][id].type = t.type
        subgraphs[graph][id].sparsity = nil
        if subgraphs[graph][id].shapeSignature != nil { subgraphs[graph][id].shapeSignature = t.shape }
    }

    /// Adds a new constant value.
    @discardableResult
    public mutating func addConstant(_ t: ConstantTensor, name: String, in graph: Int = 0) -> ValueID {
        addConstant(Value(name: name, type: t.type, shape: t.shape), data: t.slice, in: graph)
    }
}
