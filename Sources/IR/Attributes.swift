import FlatBuffers
import Support

/// Schema `ActivationFunctionType`.
public enum ActivationFunction: Int8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0, relu = 1, reluN1To1 = 2, relu6 = 3, tanh = 4, signBit = 5
    public var description: String {
        switch self {
        case .none: "NONE"
        case .relu: "RELU"
        case .reluN1To1: "RELU_N1_TO_1"
        case .relu6: "RELU6"
        case .tanh: "TANH"
        case .signBit: "SIGN_BIT"
        }
    }
    public init?(name: String) {
        guard let a = Self.allCases.first(where: { $0.description == name.uppercased() }) else { return nil }
        self = a
    }
}

/// Schema `Padding`.
public enum Padding: Int8, Hashable, Sendable, CustomStringConvertible {
    case same = 0, valid = 1
    public var description: String { self == .same ? "SAME" : "VALID" }
}

/// Conv2DOptions (schema.fbs).
public struct Conv2DAttributes: Hashable, Sendable {
    public var padding: Padding
    public var strideW: Int32
    public var strideH: Int32
    public var activation: ActivationFunction
    public var dilationW: Int32 = 1
    public var dilationH: Int32 = 1
    /// TensorType code for int16-activation bias (v8+); 0 = unset.
    public var quantizedBiasType: Int8 = 0
    public init(padding: Padding, strideW: Int32, strideH: Int32, activation: ActivationFunction = .none, dilationW: Int32 = 1, dilationH: Int32 = 1, quantizedBiasType: Int8 = 0) {
        self.padding = padding
        self.strideW = strideW
        self.strideH = strideH
        self.activation = activation
        self.dilationW = dilationW
        self.dilationH = dilationH
        self.quantizedBiasType = quantizedBiasType
    }
}

/// DepthwiseConv2DOptions (schema.fbs).
public struct DepthwiseConv2DAttributes: Hashable, Sendable {
    public var padding: Padding
    public var strideW: Int32
    public var strideH: Int32
    public var depthMultiplier: Int32
    public var activation: ActivationFunction
    public var dilationW: Int32 = 1
    public var dilationH: Int32 = 1
    public init(padding: Padding, strideW: Int32, strideH: Int32, depthMultiplier: Int32, activation: ActivationFunction = .none, dilationW: Int32 = 1, dilationH: Int32 = 1) {
        self.padding = padding
        self.strideW = strideW
        self.strideH = strideH
        self.depthMultiplier = depthMultiplier
        self.activation = activation
        self.dilationW = dilationW
        self.dilationH = dilationH
    }
}

/// FullyConnectedOptions (schema.fbs).
public struct FullyConnectedAttributes: Hashable, Sendable {
    public var activation: ActivationFunction
    public var weightsFormat: Int8 = 0
    public var keepNumDims: Bool = false
    public var asymmetricQuantizeInputs: Bool = false
    public var quantizedBiasType: Int8 = 0
    public init(activation: ActivationFunction = .none, weightsFormat: Int8 = 0, keepNumDims: Bool = false, asymmetricQuantizeInputs: Bool = false, quantizedBiasType: Int8 = 0) {
        self.activation = activation
        self.weightsFormat = weightsFormat
        self.keepNumDims = keepNumDims
        self.asymmetricQuantizeInputs = asymmetricQuantizeInputs
        self.quantizedBiasType = quantizedBiasType
    }
}

/// Pool2DOptions (schema.fbs).
public struct Pool2DAttributes: Hashable, Sendable {
    public var padding: Padding
    public var strideW: Int32
    public var strideH: Int32
    public var filterW: Int32
    public var filterH: Int32
    public var activation: ActivationFunction
    public init(padding: Padding, strideW: Int32, strideH: Int32, filterW: Int32, filterH: Int32, activation: ActivationFunction = .none) {
        self.padding = padding
        self.strideW = strideW
        self.strideH = strideH
        self.filterW = filterW
        self.filterH = filterH
        self.activation = activation
    }
}

/// AddOptions / SubOptions.
public struct ArithmeticAttributes: Hashable, Sendable {
    public var activation: ActivationFunction
    /// Default true in the schema; only matters for int16.
    public var potScaleInt16: Bool = true
    public init(activation: ActivationFunction = .none, potScaleInt16: Bool = true) {
        self.activation = activation
        self.potScaleInt16 = potScaleInt16
    }
}

/// StridedSliceOptions.
public struct StridedSliceAttributes: Hashable, Sendable {
    public var beginMask: Int32 = 0
    public var endMask: Int32 = 0
    public var ellipsisMask: Int32 = 0
    public var newAxisMask: Int32 = 0
    public var shrinkAxisMask: Int32 = 0
    public var offset: Bool = false
    public init(beginMask: Int32 = 0, endMask: Int32 = 0, ellipsisMask: Int32 = 0, newAxisMask: Int32 = 0, shrinkAxisMask: Int32 = 0, offset: Bool = false) {
        self.beginMask = beginMask
        self.endMask = endMask
        self.ellipsisMask = ellipsisMask
        self.newAxisMask = newAxisMask
        self.shrinkAxisMask = shrinkAxisMask
        self.offset = offset
    }
}

/// Options of an op the IR does not model: the options table copied field by field so it
/// round-trips untouched. `references` holds the table's vector/string fields by field id.
public struct OpaqueOptions: Hashable, Sendable {
    public enum Field: Hashable, Sendable {
        case int32s([Int32])
        case int64s([Int64])
        case floats([Float])
        case bytes([UInt8])
        case string(String)
    }
    /// BuiltinOptions (or BuiltinOptions2) union tag.
    public var typeTag: UInt8
    public var vtable: [UInt16]
    public var inline: [UInt8]
    /// Absolute offset of the table in its source file, mod 8: keeps 8-byte scalars aligned when copied.
    public var alignmentPhase: Int
    public var references: [Int: Field]
    public init(typeTag: UInt8, vtable: [UInt16], inline: [UInt8], alignmentPhase: Int, references: [Int: Field] = [:]) {
        self.typeTag = typeTag
        self.vtable = vtable
        self.inline = inline
        self.alignmentPhase = alignmentPhase
        self.references = references
    }
}
