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
        public init(hybrid: Bool = true, float16: Bool = true, uint8: Bool = true, perChannelFullyConnected: Bool = true) {
            self.hybrid = hybrid
            self.float16 = float16
            self.uint8 = uint8
            self.perChannelFullyConnected = perChannelFullyConnected
        }
    }

    public var runtime: String
    /// Where the numbers come from, for users who want to check.
    public var source: String?
    /// Builtin op names (or custom codes) the runtime registers, with the highest version it
    /// accepts; nil version = any.
    public var ops: [String: Int32?]
    /// Old TFLM resolvers matched registrations by exact version: an op above the maximum fails to load.
    public var checksVersions: Bool
    /// Allowed tensor types; nil = any.
    public var tensorTypes: Set<DType>?
    public var quantization: QuantizationModes

    public init(runtime: String, source: String? = nil, ops: [String: Int32?] = [:], checksVersions: Bool = false, tensorTypes: Set<DType>? = nil, quantization: QuantizationModes = QuantizationModes()) {
        self.runtime = runtime
        self.source = source
        self.ops = ops
        self.checksVersions = checksVersions
        self.tensorTypes = tensorTypes
        self.quantization = quantization
    }

    public func allows(_ op: Op) -> Bool { ops.keys.contains(op.name) }
    /// The highest version the target accepts for an op, nil when any (or the op is absent).
    public func maxVersion(_ op: Op) -> Int32? { ops[op.name] ?? nil }
}
