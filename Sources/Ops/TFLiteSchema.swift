import FlatBuffers
import IR
import Kernels
import Support

/// Field ids and union tags of the TFLite schema that the importer and exporter share
/// (schema.fbs; a field's vtable slot is 4 + 2·id).
package enum Schema {
    package enum ModelField { package static let version = 0, operatorCodes = 1, subgraphs = 2, description = 3, buffers = 4, metadataBuffer = 5, metadata = 6, signatureDefs = 7, externalBufferGroups = 8, externalBuffers = 9 }
    package enum OperatorCodeField { package static let deprecatedBuiltinCode = 0, customCode = 1, version = 2, builtinCode = 3 }
    package enum SubGraphField { package static let tensors = 0, inputs = 1, outputs = 2, operators = 3, name = 4, debugMetadataIndex = 5 }
    package enum TensorField { package static let shape = 0, type = 1, buffer = 2, name = 3, quantization = 4, isVariable = 5, sparsity = 6, shapeSignature = 7, hasRank = 8, variantTensors = 9, externalBuffer = 10 }
    package enum QuantizationField { package static let min = 0, max = 1, scale = 2, zeroPoint = 3, detailsType = 4, details = 5, quantizedDimension = 6 }
    package enum BufferField { package static let data = 0, offset = 1, size = 2 }
    package enum OperatorField { package static let opcodeIndex = 0, inputs = 1, outputs = 2, builtinOptionsType = 3, builtinOptions = 4, customOptions = 5, customOptionsFormat = 6, mutatingVariableInputs = 7, intermediates = 8, largeCustomOptionsOffset = 9, largeCustomOptionsSize = 10, builtinOptions2Type = 11, builtinOptions2 = 12, debugMetadataIndex = 13 }
    package enum MetadataField { package static let name = 0, buffer = 1 }
    package enum SignatureDefField { package static let inputs = 0, outputs = 1, signatureKey = 2, subgraphIndex = 4 }
    package enum TensorMapField { package static let name = 0, tensorIndex = 1 }

    /// BuiltinOptions union tags for the options tables the IR models.
    package enum OptionsTag {
        package static let none: UInt8 = 0
        package static let conv2D: UInt8 = 1
        package static let depthwiseConv2D: UInt8 = 2
        package static let concatEmbeddings: UInt8 = 3
        package static let pool2D: UInt8 = 5
        package static let fullyConnected: UInt8 = 8
        package static let softmax: UInt8 = 9
        package static let concatenation: UInt8 = 10
        package static let split: UInt8 = 35
        package static let add: UInt8 = 11
        package static let reshape: UInt8 = 17
        package static let mul: UInt8 = 21
        package static let pad: UInt8 = 22
        package static let gather: UInt8 = 23
        package static let reducer: UInt8 = 27
        package static let sub: UInt8 = 28
        package static let squeeze: UInt8 = 30
        package static let stridedSlice: UInt8 = 32
        package static let dequantize: UInt8 = 38
        package static let shape: UInt8 = 55
        package static let pack: UInt8 = 59
        package static let quantize: UInt8 = 89
        package static let varHandle: UInt8 = 111
        package static let bucketize: UInt8 = 115
    }

    /// The vector/string fields of BuiltinOptions tables the IR keeps opaquely. Every other
    /// BuiltinOptions table holds scalars only (schema.fbs), so its inline bytes copy as they are.
    package static let opaqueReferenceFields: [UInt8: [Int: OpaqueFieldKind]] = [
        OptionsTag.concatEmbeddings: [1: .int32s, 2: .int32s],
        OptionsTag.reshape: [0: .int32s],
        OptionsTag.squeeze: [0: .int32s],
        OptionsTag.varHandle: [0: .string, 1: .string],
        OptionsTag.bucketize: [0: .floats],
    ]
    package enum OpaqueFieldKind { case int32s, int64s, floats, bytes, string }
}
