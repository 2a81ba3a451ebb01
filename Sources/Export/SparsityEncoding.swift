import FlatBuffers
import IR
import Support

/// Writes `Sparsity` as schema.fbs `SparsityParameters` (the field ids `SparsityDecoding` reads),
/// each index vector with the union type it was read with.
package enum SparsityEncoding {
    package static func table(_ s: Sparsity) -> FBTableSpec {
        var t = FBTableSpec()
        t.add(0, .scalarVector(bytes: le(s.traversalOrder), elementSize: 4))
        if !s.blockMap.isEmpty { t.add(1, .scalarVector(bytes: le(s.blockMap), elementSize: 4)) }
        t.add(2, .tables(s.dimensions.map(dimension)))
        return t
    }

    static func dimension(_ d: Sparsity.Dimension) -> FBTableSpec {
        var t = FBTableSpec()
        if d.format != .dense { t.add(0, .i8(d.format.rawValue)) }
        if d.denseSize != 0 { t.add(1, .i32(d.denseSize)) }
        if let v = d.segments {
            t.add(2, .u8(v.unionType))
            t.add(3, .table(indexVector(v)))
        }
        if let v = d.indices {
            t.add(4, .u8(v.unionType))
            t.add(5, .table(indexVector(v)))
        }
        return t
    }

    static func indexVector(_ v: Sparsity.IndexVector) -> FBTableSpec {
        var t = FBTableSpec()
        switch v.unionType {
        case 2: t.add(0, .scalarVector(bytes: le(v.values.map { UInt16(truncatingIfNeeded: $0) }), elementSize: 2))
        case 3: t.add(0, .scalarVector(bytes: le(v.values.map { UInt8(truncatingIfNeeded: $0) }), elementSize: 1))
        default: t.add(0, .scalarVector(bytes: le(v.values), elementSize: 4))
        }
        return t
    }
}
