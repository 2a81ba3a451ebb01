import FlatBuffers
import Support

/// Index of a value (tensor) inside one subgraph. `absent` stands for an omitted optional input (−1 in TFLite).
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Int32
    public init(_ raw: Int32) { self.raw = raw }
    public init(_ raw: Int) { self.raw = Int32(raw) }
    public static let absent = ValueID(Int32(-1))
    public var isAbsent: Bool { raw < 0 }
    public var index: Int { Int(raw) }
    public static func < (a: ValueID, b: ValueID) -> Bool { a.raw < b.raw }
    public var description: String { isAbsent ? "%none" : "%\(raw)" }
}

/// Index of an op inside one subgraph's op list.
public struct OpID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Int32
    public init(_ raw: Int) { self.raw = Int32(raw) }
    public var index: Int { Int(raw) }
    public static func < (a: OpID, b: OpID) -> Bool { a.raw < b.raw }
    public var description: String { "#\(raw)" }
}

/// Index into `Model.buffers`. Buffer 0 is the schema's empty sentinel.
public struct BufferID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }
    public init(_ raw: Int) { self.raw = UInt32(raw) }
    public static let none = BufferID(UInt32(0))
    public var index: Int { Int(raw) }
    public static func < (a: BufferID, b: BufferID) -> Bool { a.raw < b.raw }
    public var description: String { "buffer \(raw)" }
}
