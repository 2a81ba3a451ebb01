import FlatBuffers
import IR
import Kernels
import Support

/// The runtime a model is prepared for: which ops it registers (and up to which version, for
/// old TFLM builds that matched versions exactly), and which tensor types and quantization
/// modes its kernels accept. Built from the `target:` section of rules files.
public struct TargetProfile: Hashable, Sendable {
    public struct QuantizationModes: Hashable, Sendable {
        /// Float activations with int8 weights ("dynamic range" / hybrid kernels).
        public var hybrid: Bool = true
        /// float16 weights or tensors.
        public var float16: Bool = true
        /// uint8 (legacy asymmetric) quantization.
        public var uint8: Bool = true
        /// Per-channel FULLY_CONNECTED weights (TFLM before PR #2673 computes them wrong or fails).
        public var perChannelFullyConnected: Bool = true
        /// A CONV_2D whose filter has fewer input channels than its input (Keras `groups=g`).
        public var groupedConv: Bool = true
        public init(hybrid: Bool = true, float16: Bool = true, uint8: Bool = true, perChannelFullyConnected: Bool = true, groupedConv: Bool = true) {
            self.hybrid = hybrid
            self.float16 = float16
            self.uint8 = uint8
            self.perChannelFullyConnected = perChannelFullyConnected
            self.groupedConv = groupedConv
        }
    }

    public var runtime: String
    /// Where the numbers come from, for users who want to check.
    public var source: String?
    /// Builtin op names (or custom codes) the runtime registers, with the highest version it
    /// accepts; nil version = any. Empty means the profile does not restrict ops (a profile
    /// made only for its quantization modes); a runtime registering nothing is no use.
    public var ops: [String: Int32?]
    /// Old TFLM resolvers matched registrations by exact version: an op above the maximum fails to load.
    public var checksVersions: Bool
    /// Allowed tensor types; nil = any.
    public var tensorTypes: Set<DType>?
    /// Per op, the element types its kernel was measured to run (of the op's first non-constant
    /// input, `KernelLimits.signatureType`); an op without an entry is not restricted by type.
    public var opTypes: [String: Set<DType>] = [:]
    public var quantization: QuantizationModes
    /// The rules that made this profile ("micro_speech"), for messages.
    public var name: String?

    public init(runtime: String, source: String? = nil, ops: [String: Int32?] = [:], checksVersions: Bool = false, tensorTypes: Set<DType>? = nil, quantization: QuantizationModes = QuantizationModes(), name: String? = nil) {
        self.runtime = runtime
        self.source = source
        self.ops = ops
        self.checksVersions = checksVersions
        self.tensorTypes = tensorTypes
        self.quantization = quantization
        self.name = name
    }

    public func allows(_ op: Op) -> Bool { registers(op.name) }
    /// The highest version the target accepts for an op, nil when any (or the op is absent).
    public func maxVersion(_ op: Op) -> Int32? { ops[op.name] ?? nil }

    /// True when the runtime registers this builtin name or custom code.
    public func registers(_ name: String) -> Bool { ops.isEmpty || ops.keys.contains(name) }
    public func registers(_ op: BuiltinOperator) -> Bool { registers(op.name) }
    /// True when tensors of this type are allowed (no list means any).
    public func allows(_ type: DType) -> Bool { tensorTypes?.contains(type) ?? true }
    /// "micro_speech (tflm)" or just the runtime.
    public var displayName: String {
        guard let name, name != runtime else { return runtime }
        return "\(name) (\(runtime))"
    }
}
