/// Why a flatbuffer could not be read, and where.
///
/// `offset` is the absolute byte offset of the slot or header that was read when the problem was
/// found (a uoffset slot, a vtable, a vector's length...), so a hex dump leads straight to it.
/// `context` is a path such as `"root"` or `"Model.buffers[3]"`; the reader only knows table
/// positions and field ids, so callers that know the schema add names with `inContext(_:)`.
public struct FlatBufferError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        case truncated
        case offsetOutOfRange
        case vtableOutOfRange
        case vtableMalformed
        case vectorOutOfRange
        case stringOutOfRange
        case missingStringTerminator
        case invalidUTF8
        case badFileIdentifier
        case tooLarge
    }

    public let kind: Kind
    public let offset: Int
    public let context: String
    /// Specific wording for `description` (e.g. the bad length); not part of equality, so tests
    /// and callers can compare errors by kind, offset and context alone.
    public let detail: String

    public init(kind: Kind, offset: Int, context: String = "", detail: String = "") {
        self.kind = kind
        self.offset = offset
        self.context = context
        self.detail = detail
    }

    /// The same error with `outer` prepended to the context path (`"Model.subgraphs"` +
    /// `"[0]"` → `"Model.subgraphs[0]"`, `"SubGraph"` + `"tensors"` → `"SubGraph.tensors"`).
    public func inContext(_ outer: String) -> FlatBufferError {
        let joined: String
        if context.isEmpty {
            joined = outer
        } else if outer.isEmpty || context.hasPrefix("[") {
            joined = outer + context
        } else {
            joined = outer + "." + context
        }
        return FlatBufferError(kind: kind, offset: offset, context: joined, detail: detail)
    }

    /// One line, e.g. `vector length 4294967295 runs past the end of the file at byte 1234 (Model.buffers)`.
    public var description: String {
        let what = detail.isEmpty ? Self.summary(kind) : detail
        let suffix = context.isEmpty ? "" : " (\(context))"
        return "\(what) at byte \(offset)\(suffix)"
    }

    public static func == (lhs: FlatBufferError, rhs: FlatBufferError) -> Bool {
        lhs.kind == rhs.kind && lhs.offset == rhs.offset && lhs.context == rhs.context
    }

    private static func summary(_ kind: Kind) -> String {
        switch kind {
        case .truncated: return "file is truncated"
        case .offsetOutOfRange: return "offset points outside the file"
        case .vtableOutOfRange: return "vtable lies outside the file"
        case .vtableMalformed: return "vtable is malformed"
        case .vectorOutOfRange: return "vector runs past the end of the file"
        case .stringOutOfRange: return "string runs past the end of the file"
        case .missingStringTerminator: return "string is missing its NUL terminator"
        case .invalidUTF8: return "string is not valid UTF-8"
        case .badFileIdentifier: return "wrong file identifier"
        case .tooLarge: return "flatbuffer exceeds the 32-bit offset limit"
        }
    }
}
