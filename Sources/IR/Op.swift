import FlatBuffers
import Support

/// One operator of a subgraph.
public struct Op: Hashable, Sendable {
    public var kind: OpKind
    /// OperatorCode.version (schema default 1).
    public var version: Int32
    /// `ValueID.absent` marks an omitted optional input (−1 in the file).
    public var inputs: [ValueID]
    public var outputs: [ValueID]
    public var intermediates: [ValueID]
    public var mutatingVariableInputs: [Bool]
    /// custom_options bytes (flexbuffer for custom ops), kept untouched.
    public var customOptions: ByteSlice?
    public var customOptionsFormat: Int8
    /// BuiltinOptions2 (StableHLO-era) table, kept opaquely.
    public var options2: OpaqueOptions?
    public var debugMetadataIndex: Int32?
    /// Names of the graph nodes or ops this op was made from (for `verify --layers` and messages).
    public var provenance: [String]
    /// Write an options table for an op whose typed attributes need none (PAD's empty PadOptions,
    /// RESHAPE's ReshapeOptions without new_shape), as the source file did.
    public var emptyOptionsTable: Bool = false
    /// Set by the rewriter; erased ops are dropped when the graph is compacted.
    public var isErased: Bool = false

    public init(kind: OpKind, version: Int32 = 1, inputs: [ValueID], outputs: [ValueID], intermediates: [ValueID] = [], mutatingVariableInputs: [Bool] = [], customOptions: ByteSlice? = nil, customOptionsFormat: Int8 = 0, options2: OpaqueOptions? = nil, debugMetadataIndex: Int32? = nil, provenance: [String] = []) {
        self.kind = kind
        self.version = version
        self.inputs = inputs
        self.outputs = outputs
        self.intermediates = intermediates
        self.mutatingVariableInputs = mutatingVariableInputs
        self.customOptions = customOptions
        self.customOptionsFormat = customOptionsFormat
        self.options2 = options2
        self.debugMetadataIndex = debugMetadataIndex
        self.provenance = provenance
    }

    public var builtinOperator: BuiltinOperator { kind.builtinOperator }
    public var name: String { kind.name }
    /// `CONV_2D #3`-style label for messages.
    public func label(_ id: OpID) -> String { "\(name) #\(id.raw)" }
    /// Present (non-absent) inputs.
    public var presentInputs: [ValueID] { inputs.filter { !$0.isAbsent } }
    public func input(_ i: Int) -> ValueID? {
        i < inputs.count && !inputs[i].isAbsent ? inputs[i] : nil
    }
}
