import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Swift value types for the parts of TensorFlow's GraphDef / SavedModel protos that
// tfrewrite reads. They hold no C pointers: `ProtoDecoding` copies protobuf-c's structs
// into them and frees the C side before returning. Field meanings: TF's .proto files.

/// TensorFlow `DataType` (types.proto). Raw values are the proto enum numbers.
public enum TFDataType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case float = 1
    case double = 2
    case int32 = 3
    case uint8 = 4
    case int16 = 5
    case int8 = 6
    case string = 7
    case complex64 = 8
    case int64 = 9
    case bool = 10
    case qint8 = 11
    case quint8 = 12
    case qint32 = 13
    case bfloat16 = 14
    case qint16 = 15
    case quint16 = 16
    case uint16 = 17
    case complex128 = 18
    case half = 19
    case resource = 20
    case variant = 21
    case uint32 = 22
    case uint64 = 23
    case float8E5M2 = 24
    case float8E4M3FN = 25
    case float8E4M3FNUZ = 26
    case float8E4M3B11FNUZ = 27
    case float8E5M2FNUZ = 28
    case int4 = 29
    case uint4 = 30
    case int2 = 31
    case uint2 = 32
    case float4E2M1FN = 33

    /// Reference types are the value type + 100 (`DT_FLOAT_REF` = 101, types.proto).
    public static let referenceOffset: Int32 = 100

    /// Decodes a raw proto value, mapping reference types (`_REF`, +100) to their value
    /// type. Returns nil for `DT_INVALID` (0) and for numbers this build does not know.
    public init?(raw: Int32) {
        let value = raw > Self.referenceOffset ? raw - Self.referenceOffset : raw
        self.init(rawValue: value)
    }

    /// True when `raw` is a reference type (`DT_*_REF`).
    public static func isReference(raw: Int32) -> Bool {
        raw > referenceOffset && TFDataType(rawValue: raw - referenceOffset) != nil
    }

    /// TensorFlow's spelling without the `DT_` prefix, e.g. "FLOAT", "INT8".
    public var name: String {
        switch self {
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .int32: "INT32"
        case .uint8: "UINT8"
        case .int16: "INT16"
        case .int8: "INT8"
        case .string: "STRING"
        case .complex64: "COMPLEX64"
        case .int64: "INT64"
        case .bool: "BOOL"
        case .qint8: "QINT8"
        case .quint8: "QUINT8"
        case .qint32: "QINT32"
        case .bfloat16: "BFLOAT16"
        case .qint16: "QINT16"
        case .quint16: "QUINT16"
        case .uint16: "UINT16"
        case .complex128: "COMPLEX128"
        case .half: "HALF"
        case .resource: "RESOURCE"
        case .variant: "VARIANT"
        case .uint32: "UINT32"
        case .uint64: "UINT64"
        case .float8E5M2: "FLOAT8_E5M2"
        case .float8E4M3FN: "FLOAT8_E4M3FN"
        case .float8E4M3FNUZ: "FLOAT8_E4M3FNUZ"
        case .float8E4M3B11FNUZ: "FLOAT8_E4M3B11FNUZ"
        case .float8E5M2FNUZ: "FLOAT8_E5M2FNUZ"
        case .int4: "INT4"
        case .uint4: "UINT4"
        case .int2: "INT2"
        case .uint2: "UINT2"
        case .float4E2M1FN: "FLOAT4_E2M1FN"
        }
    }

    public var description: String { name }

    /// Name for a raw proto value, including unknown numbers ("DataType(57)") and
    /// reference types ("FLOAT_REF").
    public static func describe(raw: Int32) -> String {
        guard let type = TFDataType(raw: raw) else { return raw == 0 ? "INVALID" : "DataType(\(raw))" }
        return isReference(raw: raw) ? type.name + "_REF" : type.name
    }
}

/// `TensorShapeProto`. `dims == nil` means unknown rank; a dim of -1 is unknown.
/// Dimension names are not kept.
public struct TFTensorShape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var dims: [Int64]?

    public init(dims: [Int64]?) { self.dims = dims }

    public static let unknownRank = TFTensorShape(dims: nil)
    public static let scalar = TFTensorShape(dims: [])

    /// True when the rank and every dimension are known.
    public var isFullyDefined: Bool { dims.map { $0.allSatisfy { $0 >= 0 } } ?? false }

    /// "[2,3]", "[?,3]" or "<unknown rank>".
    public var description: String {
        guard let dims else { return "<unknown rank>" }
        return "[" + dims.map { $0 < 0 ? "?" : String($0) }.joined(separator: ",") + "]"
    }
}

/// `TensorProto`, with every typed value list we read. Use `decodedValues(nodeName:)`
/// to get the elements with TensorFlow's decoding rules applied.
public struct TFTensor: Equatable, Sendable {
    /// Raw `DataType` number (see `TFDataType(raw:)`).
    public var dtype: Int32
    public var shape: TFTensorShape
    /// `tensor_content`: raw little-endian row-major bytes; when non-empty it wins over
    /// the typed lists.
    public var content: [UInt8]
    public var floatVal: [Float]
    public var doubleVal: [Double]
    /// Also carries DT_INT8, DT_UINT8, DT_INT16 and DT_UINT16 values.
    public var intVal: [Int32]
    public var int64Val: [Int64]
    public var boolVal: [Bool]
    /// f16 / bf16 bit patterns, one per int32.
    public var halfVal: [Int32]
    public var stringVal: [[UInt8]]
    public var uint32Val: [UInt32]
    public var uint64Val: [UInt64]

    public init(
        dtype: Int32, shape: TFTensorShape, content: [UInt8] = [], floatVal: [Float] = [],
        doubleVal: [Double] = [], intVal: [Int32] = [], int64Val: [Int64] = [], boolVal: [Bool] = [],
        halfVal: [Int32] = [], stringVal: [[UInt8]] = [], uint32Val: [UInt32] = [], uint64Val: [UInt64] = []
    ) {
        self.dtype = dtype
        self.shape = shape
        self.content = content
        self.floatVal = floatVal
        self.doubleVal = doubleVal
        self.intVal = intVal
        self.int64Val = int64Val
        self.boolVal = boolVal
        self.halfVal = halfVal
        self.stringVal = stringVal
        self.uint32Val = uint32Val
        self.uint64Val = uint64Val
    }

    public var dataType: TFDataType? { TFDataType(raw: dtype) }
}

/// `AttrValue.ListValue` (the `func` list is not read).
public struct TFAttrList: Equatable, Sendable {
    public var s: [[UInt8]]
    public var i: [Int64]
    public var f: [Float]
    public var b: [Bool]
    /// Raw `DataType` numbers.
    public var type: [Int32]
    public var shape: [TFTensorShape]
    public var tensor: [TFTensor]

    public init(
        s: [[UInt8]] = [], i: [Int64] = [], f: [Float] = [], b: [Bool] = [], type: [Int32] = [],
        shape: [TFTensorShape] = [], tensor: [TFTensor] = []
    ) {
        self.s = s
        self.i = i
        self.f = f
        self.b = b
        self.type = type
        self.shape = shape
        self.tensor = tensor
    }
}

/// `AttrValue` (its `value` oneof). An AttrValue with no value set is dropped by the
/// decoder, which TensorFlow also treats as "attr missing".
public enum TFAttrValue: Equatable, Sendable {
    case list(TFAttrList)
    case s([UInt8])
    case i(Int64)
    case f(Float)
    case b(Bool)
    /// Raw `DataType` number.
    case type(Int32)
    case shape(TFTensorShape)
    indirect case tensor(TFTensor)
    case placeholder(String)
    /// `NameAttrList.name`: the called function (its attrs are not read).
    case `func`(String)
}

/// `NodeDef`. `inputs` keep TensorFlow's spelling: "node", "node:k", "^node" (control).
public struct TFNodeDef: Equatable, Sendable {
    public var name: String
    public var op: String
    public var inputs: [String]
    public var device: String
    public var attrs: [String: TFAttrValue]

    public init(
        name: String, op: String, inputs: [String] = [], device: String = "", attrs: [String: TFAttrValue] = [:]
    ) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.device = device
        self.attrs = attrs
    }
}

/// `OpDef.ArgDef`, as used by a FunctionDef signature.
public struct TFArgDef: Equatable, Sendable {
    public var name: String
    /// Raw `DataType` number; 0 when the type comes from an attr.
    public var type: Int32
    public var typeAttr: String
    public var numberAttr: String
    public var typeListAttr: String

    public init(
        name: String, type: Int32 = 0, typeAttr: String = "", numberAttr: String = "", typeListAttr: String = ""
    ) {
        self.name = name
        self.type = type
        self.typeAttr = typeAttr
        self.numberAttr = numberAttr
        self.typeListAttr = typeListAttr
    }
}

/// `FunctionDef` from the graph's function library (TF2 SavedModels keep the model body
/// here). Inside bodies, inputs are "node:out_arg:idx" or a bare parameter name.
public struct TFFunctionDef: Equatable, Sendable {
    /// `signature.name`.
    public var name: String
    public var inputArgs: [TFArgDef]
    public var outputArgs: [TFArgDef]
    public var nodes: [TFNodeDef]
    /// Output arg name → "node:out_arg:idx".
    public var ret: [String: String]

    public init(
        name: String, inputArgs: [TFArgDef] = [], outputArgs: [TFArgDef] = [], nodes: [TFNodeDef] = [],
        ret: [String: String] = [:]
    ) {
        self.name = name
        self.inputArgs = inputArgs
        self.outputArgs = outputArgs
        self.nodes = nodes
        self.ret = ret
    }
}

/// `GraphDef`.
public struct TFGraphDef: Equatable, Sendable {
    public var nodes: [TFNodeDef]
    /// `library.function`; empty for frozen graphs.
    public var functions: [TFFunctionDef]
    /// `versions.producer`; nil when the graph has no `versions`.
    public var producer: Int32?

    public init(nodes: [TFNodeDef] = [], functions: [TFFunctionDef] = [], producer: Int32? = nil) {
        self.nodes = nodes
        self.functions = functions
        self.producer = producer
    }
}

/// `TensorInfo` (only the dense `name` encoding is read).
public struct TFTensorInfo: Equatable, Sendable {
    /// "node:idx".
    public var name: String
    /// Raw `DataType` number.
    public var dtype: Int32
    /// nil when the proto has no `tensor_shape`.
    public var shape: TFTensorShape?

    public init(name: String, dtype: Int32, shape: TFTensorShape? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }
}

/// `SignatureDef`.
public struct TFSignatureDef: Equatable, Sendable {
    public var inputs: [String: TFTensorInfo]
    public var outputs: [String: TFTensorInfo]
    /// e.g. "tensorflow/serving/predict".
    public var methodName: String

    public init(inputs: [String: TFTensorInfo] = [:], outputs: [String: TFTensorInfo] = [:], methodName: String = "") {
        self.inputs = inputs
        self.outputs = outputs
        self.methodName = methodName
    }
}

/// `MetaGraphDef`.
public struct TFMetaGraph: Equatable, Sendable {
    /// `meta_info_def.tags`, e.g. ["serve"].
    public var tags: [String]
    /// `meta_info_def.tensorflow_version`, e.g. "2.21.0"; empty when absent.
    public var tensorflowVersion: String
    public var graph: TFGraphDef
    /// `signature_def`, e.g. "serving_default", "__saved_model_init_op".
    public var signatures: [String: TFSignatureDef]
    /// `saver_def.restore_op_name`: the op that loads the variables; nil without a saver_def.
    public var restoreOp: String?
    /// `object_graph_def` (TF2 SavedModels); nil when absent.
    public var objectGraph: TFObjectGraph?

    public init(
        tags: [String] = [], tensorflowVersion: String = "", graph: TFGraphDef = TFGraphDef(),
        signatures: [String: TFSignatureDef] = [:], restoreOp: String? = nil, objectGraph: TFObjectGraph? = nil
    ) {
        self.objectGraph = objectGraph
        self.tags = tags
        self.tensorflowVersion = tensorflowVersion
        self.graph = graph
        self.signatures = signatures
        self.restoreOp = restoreOp
    }
}

/// `SavedModel` (the contents of saved_model.pb).
public struct TFSavedModel: Equatable, Sendable {
    /// `saved_model_schema_version` (1 for every TF release so far).
    public var schemaVersion: Int64
    public var metaGraphs: [TFMetaGraph]

    public init(schemaVersion: Int64 = 0, metaGraphs: [TFMetaGraph] = []) {
        self.schemaVersion = schemaVersion
        self.metaGraphs = metaGraphs
    }
}
