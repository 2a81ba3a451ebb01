/// TFLite `BuiltinOperator` code (schema enum, int32). Codes past the known table keep their number.
import Foundation
import FlatBuffers
import Support

public struct BuiltinOperator: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }

    public static func < (a: BuiltinOperator, b: BuiltinOperator) -> Bool { a.code < b.code }

    public static let add = BuiltinOperator(0)
    public static let averagePool2D = BuiltinOperator(1)
    public static let concatenation = BuiltinOperator(2)
    public static let conv2D = BuiltinOperator(3)
    public static let depthwiseConv2D = BuiltinOperator(4)
    public static let depthToSpace = BuiltinOperator(5)
    public static let dequantize = BuiltinOperator(6)
    public static let fullyConnected = BuiltinOperator(9)
    public static let l2Normalization = BuiltinOperator(11)
    public static let logistic = BuiltinOperator(14)
    public static let maxPool2D = BuiltinOperator(17)
    public static let mul = BuiltinOperator(18)
    public static let relu = BuiltinOperator(19)
    public static let reluN1To1 = BuiltinOperator(20)
    public static let relu6 = BuiltinOperator(21)
    public static let reshape = BuiltinOperator(22)
    public static let softmax = BuiltinOperator(25)
    public static let spaceToDepth = BuiltinOperator(26)
    public static let svdf = BuiltinOperator(27)
    public static let tanh = BuiltinOperator(28)
    public static let custom = BuiltinOperator(32)
    public static let pad = BuiltinOperator(34)
    public static let gather = BuiltinOperator(36)
    public static let batchToSpaceND = BuiltinOperator(37)
    public static let spaceToBatchND = BuiltinOperator(38)
    public static let transpose = BuiltinOperator(39)
    public static let mean = BuiltinOperator(40)
    public static let sub = BuiltinOperator(41)
    public static let div = BuiltinOperator(42)
    public static let squeeze = BuiltinOperator(43)
    public static let unidirectionalSequenceLSTM = BuiltinOperator(44)
    public static let stridedSlice = BuiltinOperator(45)
    public static let exp = BuiltinOperator(47)
    public static let split = BuiltinOperator(49)
    public static let logSoftmax = BuiltinOperator(50)
    public static let cast = BuiltinOperator(53)
    public static let maximum = BuiltinOperator(55)
    public static let argMax = BuiltinOperator(56)
    public static let minimum = BuiltinOperator(57)
    public static let less = BuiltinOperator(58)
    public static let padV2 = BuiltinOperator(60)
    public static let greater = BuiltinOperator(61)
    public static let greaterEqual = BuiltinOperator(62)
    public static let lessEqual = BuiltinOperator(63)
    public static let slice = BuiltinOperator(65)
    public static let expandDims = BuiltinOperator(70)
    public static let equal = BuiltinOperator(71)
    public static let notEqual = BuiltinOperator(72)
    public static let log = BuiltinOperator(73)
    public static let sum = BuiltinOperator(74)
    public static let sqrt = BuiltinOperator(75)
    public static let rsqrt = BuiltinOperator(76)
    public static let shape = BuiltinOperator(77)
    public static let argMin = BuiltinOperator(79)
    public static let reduceProd = BuiltinOperator(81)
    public static let reduceMax = BuiltinOperator(82)
    public static let pack = BuiltinOperator(83)
    public static let logicalOr = BuiltinOperator(84)
    public static let logicalAnd = BuiltinOperator(86)
    public static let logicalNot = BuiltinOperator(87)
    public static let unpack = BuiltinOperator(88)
    public static let reduceMin = BuiltinOperator(89)
    public static let floorDiv = BuiltinOperator(90)
    public static let leakyRelu = BuiltinOperator(98)
    public static let squaredDifference = BuiltinOperator(99)
    public static let mirrorPad = BuiltinOperator(100)
    public static let splitV = BuiltinOperator(102)
    public static let elu = BuiltinOperator(111)
    public static let quantize = BuiltinOperator(114)
    public static let hardSwish = BuiltinOperator(117)
    public static let ifThenElse = BuiltinOperator(118)
    public static let whileLoop = BuiltinOperator(119)
    public static let densify = BuiltinOperator(124)
    public static let placeholderForGreaterOpCodes = BuiltinOperator(127)
    /// Codes ≥ 127 are stored in `builtin_code`; `deprecated_builtin_code` holds this placeholder.
    public static let callOnce = BuiltinOperator(129)
    // Operators the interpreter runs beyond those above (Sources/Ops/Operators).
    public static let embeddingLookup = BuiltinOperator(7)
    public static let floor = BuiltinOperator(8)
    public static let l2Pool2D = BuiltinOperator(12)
    public static let resizeBilinear = BuiltinOperator(23)
    public static let prelu = BuiltinOperator(54)
    public static let neg = BuiltinOperator(59)
    public static let sin = BuiltinOperator(66)
    public static let transposeConv = BuiltinOperator(67)
    public static let square = BuiltinOperator(92)
    public static let zerosLike = BuiltinOperator(93)
    public static let fill = BuiltinOperator(94)
    public static let floorMod = BuiltinOperator(95)
    public static let resizeNearestNeighbor = BuiltinOperator(97)
    public static let abs = BuiltinOperator(101)
    public static let ceil = BuiltinOperator(104)
    public static let reverseV2 = BuiltinOperator(105)
    public static let addN = BuiltinOperator(106)
    public static let gatherND = BuiltinOperator(107)
    public static let cos = BuiltinOperator(108)
    public static let round = BuiltinOperator(116)
    public static let selectV2 = BuiltinOperator(123)
    public static let batchMatMul = BuiltinOperator(126)
    public static let cumsum = BuiltinOperator(128)
    public static let broadcastTo = BuiltinOperator(130)
    public static let dynamicUpdateSlice = BuiltinOperator(151)
    public static let reduceAll = BuiltinOperator(140)
    public static let varHandle = BuiltinOperator(142)
    public static let readVariable = BuiltinOperator(143)
    public static let assignVariable = BuiltinOperator(144)
    public static let broadcastArgs = BuiltinOperator(145)

    // Schema order, checked against schema.fbs for the codes listed there; the tail past 161
    // differs between schema snapshots, so those print as BUILTIN_<n>.
    package static let names: [String] = [
        "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
        "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
        "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU",
        "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
        "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
        "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN",
        "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN",
        "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU",
        "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL",
        "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL",
        "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD",
        "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",
        "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
        "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE",
        "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE",
        "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
        "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",
        "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D",
        "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
        "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
        "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU",
        "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX",
        "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
    ]
    private static let codesByName: [String: Int32] = {
        var d: [String: Int32] = [:]
        for (i, n) in names.enumerated() { d[n] = Int32(i) }
        return d
    }()

    public var name: String {
        code >= 0 && Int(code) < Self.names.count ? Self.names[Int(code)] : "BUILTIN_\(code)"
    }
    public var description: String { name }
    /// Accepts schema names ("CONV_2D", case-insensitive, '-' for '_') and "BUILTIN_<n>".
    public init?(name: String) {
        let n = name.uppercased().replacingOccurrences(of: "-", with: "_")
        if let c = Self.codesByName[n] {
            self.code = c
        } else if n.hasPrefix("BUILTIN_"), let c = Int32(n.dropFirst(8)) {
            self.code = c
        } else {
            return nil
        }
    }
    public static var allNamed: [BuiltinOperator] { (0..<Int32(names.count)).map(BuiltinOperator.init) }
}
