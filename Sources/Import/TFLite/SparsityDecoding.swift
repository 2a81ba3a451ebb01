import FlatBuffers
import IR
import Ops

/// Reads a tensor's schema.fbs `SparsityParameters` table into `Sparsity`. Only the table's
/// shape is checked here (what the fields are); whether the segments and indices describe the
/// stored values is checked where they are used (`densify-sparse-constants`).
package enum SparsityDecoding {
    // schema.fbs field ids: SparsityParameters { traversal_order, block_map, dim_metadata },
    // DimensionMetadata { format, dense_size, array_segments (union), array_indices (union) },
    // Int32Vector / Uint16Vector / Uint8Vector { values }.
    static let traversalOrder = 0, blockMap = 1, dimMetadata = 2
    static let format = 0, denseSize = 1, segmentsType = 2, segments = 3, indicesType = 4, indices = 5

    package static func decode(_ t: FBTable, rank: Int, at label: String) throws(TFLiteImportError) -> Sparsity {
        do {
            let order = try t.scalars(traversalOrder, as: Int32.self) ?? []
            let blocks = try t.scalars(blockMap, as: Int32.self) ?? []
            let dims = try t.tables(dimMetadata) ?? []
            let total = rank + blocks.count
            guard Set(order) == Set((0..<total).map(Int32.init)), order.count == total else {
                throw TFLiteImportError.unsupported("sparsity traversal_order \(order) is not an order of the \(total) dimensions", at: label)
            }
            guard blocks.allSatisfy({ $0 >= 0 && Int($0) < rank }), Set(blocks).count == blocks.count else {
                throw TFLiteImportError.unsupported("sparsity block_map \(blocks) does not name distinct dimensions of rank \(rank)", at: label)
            }
            guard dims.count == total else {
                throw TFLiteImportError.unsupported("sparsity has \(dims.count) dim_metadata entries, expected \(total)", at: label)
            }
            var out: [Sparsity.Dimension] = []
            for (i, d) in dims.enumerated() {
                let code: Int8 = try d.scalar(format, default: 0)
                guard let f = Sparsity.Format(rawValue: code) else {
                    throw TFLiteImportError.unsupported("sparsity dimension \(i) has format \(code) (known: DENSE, SPARSE_CSR)", at: label)
                }
                var dim = Sparsity.Dimension(format: f, denseSize: try d.scalar(denseSize, default: 0))
                dim.segments = try indexVector(d, typeField: segmentsType, field: segments, what: "array_segments of dimension \(i)", at: label)
                dim.indices = try indexVector(d, typeField: indicesType, field: indices, what: "array_indices of dimension \(i)", at: label)
                if f == .sparseCSR && (dim.segments == nil || dim.indices == nil) {
                    throw TFLiteImportError.unsupported("sparsity dimension \(i) is SPARSE_CSR without array_segments and array_indices", at: label)
                }
                if f == .dense && dim.denseSize < 0 {
                    throw TFLiteImportError.unsupported("sparsity dimension \(i) has dense_size \(dim.denseSize)", at: label)
                }
                out.append(dim)
            }
            return Sparsity(traversalOrder: order, blockMap: blocks, dimensions: out)
        } catch let e as TFLiteImportError {
            throw e
        } catch let e as FlatBufferError {
            throw .malformed(e.inContext("sparsity"))
        } catch {
            throw .unsupported("sparsity: \(error)", at: label)
        }
    }

    static func indexVector(_ d: FBTable, typeField: Int, field: Int, what: String, at label: String) throws -> Sparsity.IndexVector? {
        let type: UInt8 = try d.scalar(typeField, default: 0)
        guard type != 0, let table = try d.table(field) else { return nil }
        switch type {
        case 1: return Sparsity.IndexVector(unionType: type, values: try table.scalars(0, as: Int32.self) ?? [])
        case 2: return Sparsity.IndexVector(unionType: type, values: (try table.scalars(0, as: UInt16.self) ?? []).map(Int32.init))
        case 3: return Sparsity.IndexVector(unionType: type, values: (try table.scalars(0, as: UInt8.self) ?? []).map(Int32.init))
        default: throw TFLiteImportError.unsupported("\(what) has index vector type \(type) (known: Int32Vector, Uint16Vector, Uint8Vector)", at: label)
        }
    }
}
