import FlatBuffers
import IR
import Kernels
import Support

/// The oldest TFLite runtime release that runs each (op, version), restated from the
/// converter's `runtime_version.cc` (tensorflow/compiler/mlir/lite/tools/versioning, TF 2.21:
/// `FindMinimumRuntimeVersionForOp`), and the `min_runtime_version` metadata computed from
/// it as `UpdateMinimumRuntimeVersionForModel` does: the highest release over all ops,
/// compared component by component; pairs missing from the table are skipped. Every op of
/// that table is here except the StableHLO ops, DILATE and REDUCE_WINDOW (codes past 161,
/// which this schema snapshot names BUILTIN_<n>). A missing op made a rewrite lower the
/// metadata: WHILE (1.15.0), VAR_HANDLE (2.6.0), DENSIFY (2.2.0), CALL_ONCE (2.5.0) were
/// skipped, so a TF-written "1.15.0" became "1.14.0" (RuntimeVersionsTests).
public enum RuntimeVersions {
    /// Op name → release for version 1, 2, ... ("" where the table has no entry).
    package static let table: [String: [String]] = [
        "ABS": ["1.13.0", "2.4.0", "2.5.0", "2.6.0", "2.12.0"],
        "ADD": ["1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.13.0", "2.23.0"],
        "ADD_N": ["1.14.0"],
        "ARG_MAX": ["1.9.0", "1.14.0", "2.9.0"],
        "ARG_MIN": ["1.9.0", "1.14.0", "2.9.0"],
        "ASSIGN_VARIABLE": ["2.6.0"],
        "ATAN2": ["2.10.0"],
        "AVERAGE_POOL_2D": ["1.5.0", "1.14.0", "2.3.0"],
        "BATCH_MATMUL": ["2.3.0", "2.3.0", "2.4.0", "2.5.0"],
        "BATCH_TO_SPACE_ND": ["1.6.0", "1.14.0", "2.3.0", "2.12.0"],
        "BIDIRECTIONAL_SEQUENCE_LSTM": ["1.14.0", "1.14.0", "1.14.0"],
        "BIDIRECTIONAL_SEQUENCE_RNN": ["1.14.0", "1.14.0", "2.3.0"],
        "BITCAST": ["2.13.0"],
        "BITWISE_XOR": ["2.13.0"],
        "BROADCAST_ARGS": ["2.6.0"],
        "BROADCAST_TO": ["", "2.5.0", "2.5.0"],
        "BUCKETIZE": ["2.8.0"],
        "CALL_ONCE": ["2.5.0"],
        "CAST": ["1.5.0", "2.7.0", "2.8.0", "2.9.0", "2.12.0", "2.15.0", "2.17.0", "2.21.0"],
        "CEIL": ["1.14.0"],
        "COMPLEX_ABS": ["2.5.0"],
        "CONCATENATION": ["1.5.0", "1.14.0", "2.3.0", "2.14.0", "2.21.0"],
        "CONV_2D": ["1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0", "2.11.0", "2.15.0"],
        "CONV_3D": ["2.5.0"],
        "CONV_3D_TRANSPOSE": ["2.6.0"],
        "COS": ["1.14.0"],
        "CUMSUM": ["2.4.0"],
        "DENSIFY": ["2.2.0"],
        "DEPTHWISE_CONV_2D": ["1.5.0", "1.12.0", "1.14.0", "2.2.0", "2.3.0", "2.3.0", "2.11.0"],
        "DEPTH_TO_SPACE": ["2.1.0", "2.5.0"],
        "DEQUANTIZE": ["1.13.1", "1.14.0", "1.15.0", "2.2.0", "2.7.0", "2.18.0", "2.21.0", "2.22.0"],
        "DIV": ["1.6.0", "2.3.0"],
        "DYNAMIC_UPDATE_SLICE": ["2.9.0", "2.17.0", "2.19.0", "2.20.0", "2.21.0", "2.22.0"],
        "ELU": ["1.14.0"],
        "EMBEDDING_LOOKUP": ["1.13.0", "1.14.0", "1.14.0", "2.18.0", "2.21.0"],
        "EMBEDDING_LOOKUP_SPARSE": ["1.5.0"],
        "EQUAL": ["1.14.0", "1.14.0", "2.3.0", "2.13.0", "2.21.0"],
        "EXP": ["1.7.0", "2.12.0"],
        "EXPAND_DIMS": ["1.10.0"],
        "FAKE_QUANT": ["1.5.0", "1.10.0"],
        "FILL": ["1.13.0", "2.3.0", "2.5.0", "2.12.0"],
        "FLOOR": ["1.9.0"],
        "FLOOR_DIV": ["1.14.0", "1.14.0", "2.13.0"],
        "FLOOR_MOD": ["1.13.0", "2.13.0"],
        "FULLY_CONNECTED": ["1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0", "2.3.0", "2.3.0", "2.3.0", "2.11.0", "2.15.0", "2.17.0", "2.18.0", "2.21.0"],
        "GATHER": ["1.6.0", "1.14.0", "1.15.0", "2.4.0", "2.5.0", "2.13.0", "2.15.0"],
        "GATHER_ND": ["1.14.0", "2.3.0", "2.5.0", "2.13.0", "2.16.0"],
        "GELU": ["2.9.0", "2.9.0"],
        "GREATER": ["1.14.0", "1.14.0"],
        "GREATER_EQUAL": ["1.14.0", "1.14.0", "2.13.0"],
        "HARD_SWISH": ["1.15.0"],
        "HASHTABLE": ["2.5.0"],
        "HASHTABLE_FIND": ["2.5.0"],
        "HASHTABLE_IMPORT": ["2.5.0"],
        "HASHTABLE_LOOKUP": ["1.5.0"],
        "HASHTABLE_SIZE": ["2.5.0"],
        "IF": ["1.15.0"],
        "IMAG": ["2.5.0"],
        "L2_NORMALIZATION": ["1.5.0", "1.14.0"],
        "L2_POOL_2D": ["1.5.0"],
        "LEAKY_RELU": ["1.13.1", "2.3.0"],
        "LESS": ["1.14.0", "1.14.0", "2.13.0"],
        "LESS_EQUAL": ["1.14.0", "1.14.0"],
        "LOCAL_RESPONSE_NORMALIZATION": ["1.5.0"],
        "LOG": ["1.14.0", "2.15.0"],
        "LOGICAL_AND": ["1.11.0"],
        "LOGICAL_NOT": ["1.11.0"],
        "LOGICAL_OR": ["1.11.0"],
        "LOGISTIC": ["1.14.0", "1.14.0", "2.3.0"],
        "LOG_SOFTMAX": ["1.14.0", "1.14.0"],
        "LSH_PROJECTION": ["1.5.0"],
        "LSTM": ["1.7.0", "1.10.0", "1.14.0", "2.3.0"],
        "MATRIX_DIAG": ["1.14.0"],
        "MATRIX_SET_DIAG": ["1.14.0"],
        "MAXIMUM": ["1.14.0", "1.14.0", "2.3.0", "2.3.0"],
        "MAX_POOL_2D": ["1.5.0", "1.14.0", "2.3.0"],
        "MEAN": ["1.6.0", "1.14.0", "2.4.0"],
        "MINIMUM": ["1.14.0", "1.14.0", "2.3.0", "2.3.0"],
        "MIRROR_PAD": ["1.13.1", "2.3.0", "2.12.0"],
        "MUL": ["1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0", "2.11.0", "2.13.0", "2.23.0"],
        "MULTINOMIAL": ["2.8.0"],
        "NEG": ["1.9.0"],
        "NON_MAX_SUPPRESSION_V4": ["2.1.0"],
        "NON_MAX_SUPPRESSION_V5": ["2.1.0"],
        "NOT_EQUAL": ["1.14.0", "1.14.0", "2.3.0", "2.21.0"],
        "ONE_HOT": ["1.11.0"],
        "PACK": ["1.11.0", "1.14.0", "2.3.0", "2.13.0"],
        "PAD": ["1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.20.0"],
        "PADV2": ["1.9.0", "1.14.0", "2.4.0", "2.6.0", "2.20.0"],
        "POW": ["1.10.0"],
        "PRELU": ["1.8.0"],
        "QUANTIZE": ["1.14.0", "1.15.0", "2.7.0", "2.21.0", "2.21.0", "2.21.0"],
        "RANDOM_STANDARD_NORMAL": ["2.8.0"],
        "RANDOM_UNIFORM": ["2.8.0"],
        "RANGE": ["1.13.0", "2.14.0"],
        "RANK": ["1.14.0"],
        "READ_VARIABLE": ["2.6.0"],
        "REAL": ["2.5.0"],
        "REDUCE_ALL": ["2.6.0"],
        "REDUCE_ANY": ["1.11.0"],
        "REDUCE_MAX": ["1.11.0", "1.14.0", "2.5.0"],
        "REDUCE_MIN": ["1.11.0", "1.14.0", "2.5.0"],
        "REDUCE_PROD": ["1.11.0", "2.6.0"],
        "RELU": ["1.5.0", "2.1.0", "2.5.0"],
        "RELU6": ["1.5.0", "1.14.0", "2.5.0"],
        "RELU_0_TO_1": ["2.10.0"],
        "RELU_N1_TO_1": ["1.5.0"],
        "RESHAPE": ["1.5.0"],
        "RESIZE_BILINEAR": ["1.7.0", "1.14.0", "2.2.0", "2.5.0"],
        "RESIZE_NEAREST_NEIGHBOR": ["1.13.1", "1.14.0", "2.3.0", "2.4.0"],
        "REVERSE_SEQUENCE": ["1.14.0"],
        "REVERSE_V2": ["1.14.0", "2.2.0", "2.5.0"],
        "RFFT2D": ["2.5.0"],
        "RIGHT_SHIFT": ["2.13.0"],
        "RNN": ["1.5.0", "1.14.0", "2.3.0"],
        "ROUND": ["1.14.0"],
        "RSQRT": ["1.10.0", "2.5.0", "2.15.0"],
        "SCATTER_ND": ["2.1.0"],
        "SEGMENT_SUM": ["2.2.0"],
        "SELECT": ["1.14.0", "1.14.0", "2.12.0", "2.12.0"],
        "SELECT_V2": ["2.2.0", "2.12.0"],
        "SHAPE": ["1.10.0"],
        "SIGN": ["2.11.0", "2.12.0"],
        "SIN": ["1.9.0"],
        "SKIP_GRAM": ["1.5.0"],
        "SLICE": ["1.14.0", "1.14.0", "1.14.0", "2.4.0", "2.5.0", "2.14.0", "2.21.0"],
        "SOFTMAX": ["1.5.0", "1.14.0", "2.3.0"],
        "SPACE_TO_BATCH_ND": ["1.6.0", "1.14.0", "2.3.0", "2.12.0"],
        "SPACE_TO_DEPTH": ["1.5.0", "1.14.0"],
        "SPARSE_TO_DENSE": ["1.9.0", "1.14.0", "1.15.0"],
        "SPLIT": ["1.5.0", "1.14.0", "1.14.0", "2.3.0"],
        "SPLIT_V": ["1.13.1", "2.3.0"],
        "SQRT": ["1.10.0", "2.21.0"],
        "SQUARE": ["1.12.0"],
        "SQUARED_DIFFERENCE": ["1.13.1", "2.5.0"],
        "SQUEEZE": ["1.6.0", "2.5.0"],
        "STRIDED_SLICE": ["1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0", "2.14.0", "2.14.0"],
        "SUB": ["1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"],
        "SUM": ["1.10.0", "1.15.0"],
        "SVDF": ["1.5.0", "1.14.0", "2.2.0", "2.3.0"],
        "TANH": ["1.14.0", "1.14.0", "2.3.0"],
        "TILE": ["1.10.1", "2.2.0", "2.8.0"],
        "TOPK_V2": ["1.7.0", "1.14.0", "2.13.0"],
        "TRANSPOSE": ["1.6.0", "1.14.0", "1.15.0", "2.3.0", "2.4.0", "2.12.0", "2.14.4", "2.22.0"],
        "TRANSPOSE_CONV": ["1.9.0", "2.2.0", "2.3.0", "2.13.0", "2.15.0"],
        "UNIDIRECTIONAL_SEQUENCE_LSTM": ["1.13.1", "1.14.0", "2.3.0", "2.12.0"],
        "UNIDIRECTIONAL_SEQUENCE_RNN": ["1.14.0", "1.14.0", "2.3.0"],
        "UNIQUE": ["1.14.0"],
        "UNPACK": ["1.11.0", "1.14.0", "2.2.0", "2.3.0", "2.22.0"],
        "UNSORTED_SEGMENT_MAX": ["2.10.0"],
        "UNSORTED_SEGMENT_MIN": ["2.11.0"],
        "UNSORTED_SEGMENT_PROD": ["2.10.0"],
        "UNSORTED_SEGMENT_SUM": ["2.10.0"],
        "VAR_HANDLE": ["2.6.0"],
        "WHERE": ["1.14.0", "2.8.0"],
        "WHILE": ["1.15.0"],
        "ZEROS_LIKE": ["1.12.0"],
    ]

    /// The release for one (op, version), nil when the table has none.
    public static func release(_ op: BuiltinOperator, version: Int32) -> String? {
        guard let list = table[op.name], version >= 1, Int(version) <= list.count else { return nil }
        let s = list[Int(version) - 1]
        return s.isEmpty ? nil : s
    }

    /// runtime_version.cc's CompareRuntimeVersion: numeric per component; a prefix sorts first.
    public static func isOlder(_ a: String, than b: String) -> Bool {
        let x = a.split(separator: ".").map { Int($0) ?? 0 }
        let y = b.split(separator: ".").map { Int($0) ?? 0 }
        for (p, q) in zip(x, y) where p != q { return p < q }
        return x.count < y.count
    }

    /// The model's minimum runtime: the newest release any of its builtin ops needs.
    public static func minimumRuntime(of model: Model) -> String? {
        var best: String?
        for g in model.subgraphs {
            for op in g.ops where !op.isErased && op.kind.customCode == nil {
                guard let r = release(op.builtinOperator, version: op.version) else { continue }
                if best.map({ isOlder($0, than: r) }) ?? true { best = r }
            }
        }
        return best
    }

    public static let metadataName = "min_runtime_version"
    /// The converter writes the string NUL-padded into a 16-byte buffer (schema.fbs).
    public static let metadataSize = 16

    /// Rewrites an existing `min_runtime_version` entry for the model's current op versions.
    /// Returns the new string, nil when the model has no such entry or nothing is known.
    @discardableResult
    public static func updateMetadata(of model: inout Model) -> String? {
        guard let m = model.metadata.firstIndex(where: { $0.name == metadataName }) else { return nil }
        guard let version = minimumRuntime(of: model), version.utf8.count < metadataSize else { return nil }
        var bytes = Array(version.utf8)
        bytes += [UInt8](repeating: 0, count: metadataSize - bytes.count)
        let b = model.metadata[m].buffer
        // Write in place only when nothing else shares the buffer (identical buffers are deduplicated).
        let shared = b.index == 0 || b.index >= model.buffers.count
            || model.subgraphs.contains { g in g.values.contains { $0.buffer == b } }
            || model.metadata.enumerated().contains { $0.offset != m && $0.element.buffer == b }
        if shared {
            model.metadata[m].buffer = model.addBuffer(ByteSlice(bytes))
        } else {
            model.buffers[b.index] = Buffer(data: ByteSlice(bytes))
        }
        return version
    }
}
