import IR
import Ops
import Rewrite
import Support

/// Stores every sparse constant densely, and folds the DENSIFY op that expands one at run time,
/// for runtimes that read buffers as dense: TFLM registers no DENSIFY, and its kernels ignore a
/// tensor's sparsity (LiteRT alone runs TF's `Optimize.EXPERIMENTAL_SPARSITY` exports).
///
/// Given:
///
///     const %1 "w": f32[2,3] sparse = stored [5.0, 7.0]
///         (schema.fbs SparsityParameters: traversal_order [0, 1], dim 0 DENSE size 2,
///          dim 1 SPARSE_CSR segments [0, 1, 2] indices [2, 0])
///     #0 DENSIFY v1 (%1) -> %2 "w_dense": f32[2,3]
///     #1 FULLY_CONNECTED v1 (%0, %2, %none) -> %3 "y": f32[1,2]
///
/// Result:
///
///     const %2 "w_dense": f32[2,3] = [0.0, 0.0, 5.0, 7.0, 0.0, 0.0]
///     #1 FULLY_CONNECTED v1 (%0, %2, %none) -> %3 "y": f32[1,2]
///
/// Lossless: each stored value lands at its coordinates, every other element is zero, which is
/// what LiteRT's DENSIFY computes (kernels/densify.cc, through sparsity_format_converter.cc).
/// A sparse constant read directly by an op (LiteRT's sparse FULLY_CONNECTED) becomes dense in
/// place. Metadata that does not describe the stored values is an error naming the tensor.
public struct DensifySparseConstants: GraphPass {
    public static let name = "densify-sparse-constants"
    public static let summary = "Sparse constants → dense (lossless), DENSIFY of a constant folded away"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changed = 0
        for s in model.subgraphs.indices {
            // DENSIFY of a sparse constant first: its output takes the dense data and the op goes.
            for i in model.subgraphs[s].ops.indices {
                let op = model.subgraphs[s].ops[i]
                guard !op.isErased, op.builtinOperator == .densify, let x = op.input(0), let out = op.outputs.first, !out.isAbsent,
                    !model.subgraphs[s].isGraphOutput(out), model.subgraphs[s][x].sparsity != nil
                else { continue }
                let dense = try Self.dense(model, model.subgraphs[s][x], subgraph: s)
                model.setConstant(out, ConstantTensor(type: model.subgraphs[s][out].type, shape: model.subgraphs[s][out].shape, bytes: dense), in: s)
                model.subgraphs[s].ops[i].isErased = true
                changed += 1
            }
            for v in model.subgraphs[s].values.indices where model.subgraphs[s].values[v].sparsity != nil {
                let value = model.subgraphs[s].values[v]
                guard model.isConstant(value) else { continue }
                let dense = try Self.dense(model, value, subgraph: s)
                model.setConstant(ValueID(v), ConstantTensor(type: value.type, shape: value.shape, bytes: dense), in: s)
                changed += 1
            }
            _ = model.subgraphs[s].compact()
        }
        context.count(Self.name, changed)
        return changed > 0
    }

    static func dense(_ model: Model, _ v: Value, subgraph s: Int) throws -> [UInt8] {
        let label = (s == 0 ? "" : "subgraph \(s) ") + "tensor \"\(v.name)\""
        guard let sparsity = v.sparsity, let stored = model.constantData(v) else { return [] }
        guard let size = v.dtype.byteSize else {
            throw PassError.failed(pass: name, message: "\(label): cannot densify \(v.dtype.name) elements")
        }
        guard let bytes = v.expectedByteCountIfDense, bytes <= MemoryBudget.bytes else {
            throw MemoryBudgetError(what: "densifying \(label) of shape \(v.shape)", bytes: v.expectedByteCountIfDense, budget: MemoryBudget.bytes)
        }
        do {
            return try SparseLayout(shape: v.shape, sparsity: sparsity).densify(stored.array, elementSize: size)
        } catch {
            throw PassError.failed(pass: name, message: "\(label): \(error.reason)")
        }
    }
}

/// Where each stored value of a sparse tensor goes (schema.fbs SparsityParameters, as LiteRT's
/// sparsity_format_converter.cc reads it).
package struct SparseLayout {
    package struct Invalid: Error { package var reason: String }

    let shape: [Int]
    let sparsity: Sparsity
    /// Size of each of the n + k dimensions: the original ones divided by their block size,
    /// then the blocks.
    let expandedSizes: [Int]
    /// For each original dimension, the block dimension (index ≥ n) that splits it, if any.
    let blockOf: [Int?]

    package init(shape: [Int32], sparsity: Sparsity) throws(Invalid) {
        let n = shape.count
        let k = sparsity.blockMap.count
        let order = sparsity.traversalOrder.map(Int.init)
        guard order.count == n + k, Set(order) == Set(0..<(n + k)), sparsity.dimensions.count == n + k else {
            throw Invalid(reason: "sparsity describes \(order.count) dimensions, the shape \(shape) with \(k) block dimension(s) has \(n + k)")
        }
        var blockOf = [Int?](repeating: nil, count: n)
        var sizes = shape.map(Int.init)
        for (j, d) in sparsity.blockMap.enumerated() {
            let d = Int(d)
            guard d >= 0, d < n, blockOf[d] == nil else { throw Invalid(reason: "block_map \(sparsity.blockMap) does not name distinct dimensions") }
            let level = order.firstIndex(of: n + j)!
            let block = Int(sparsity.dimensions[level].denseSize)
            guard sparsity.dimensions[level].format == .dense, block > 0, sizes[d] % block == 0 else {
                throw Invalid(reason: "block dimension \(j) (of dimension \(d), size \(shape[d])) has no dense size dividing it")
            }
            blockOf[d] = n + j
            sizes[d] /= block
            sizes.append(block)
        }
        for (level, dim) in sparsity.dimensions.enumerated() where dim.format == .dense && Int(dim.denseSize) != sizes[order[level]] {
            throw Invalid(reason: "dimension \(order[level]) is DENSE with dense_size \(dim.denseSize), expected \(sizes[order[level]])")
        }
        self.shape = shape.map(Int.init)
        self.sparsity = sparsity
        self.expandedSizes = sizes
        self.blockOf = blockOf
    }

    /// The dense bytes: each stored element (in traversal order) at its place, zeros elsewhere.
    package func densify(_ stored: [UInt8], elementSize: Int) throws(Invalid) -> [UInt8] {
        let count = shape.reduce(1, *)
        var out = [UInt8](repeating: 0, count: count * elementSize)
        guard stored.count % elementSize == 0 else { throw Invalid(reason: "\(stored.count) stored bytes are not whole elements") }
        let storedCount = stored.count / elementSize
        let strides = shape.indices.map { shape[($0 + 1)...].reduce(1, *) }
        let n = shape.count
        let order = sparsity.traversalOrder.map(Int.init)
        var coordinate = [Int](repeating: 0, count: expandedSizes.count)
        var next = 0

        func visit(_ level: Int, _ parent: Int) throws(Invalid) {
            if level == order.count {
                guard next < storedCount else { throw Invalid(reason: "the metadata addresses more than the \(storedCount) stored values") }
                var offset = 0
                for d in 0..<n {
                    var c = coordinate[d]
                    if let b = blockOf[d] { c = c * expandedSizes[b] + coordinate[b] }
                    offset += c * strides[d]
                }
                let dst = offset * elementSize, src = next * elementSize
                for b in 0..<elementSize { out[dst + b] = stored[src + b] }
                next += 1
                return
            }
            let dim = sparsity.dimensions[level]
            let e = order[level]
            switch dim.format {
            case .dense:
                for i in 0..<expandedSizes[e] {
                    coordinate[e] = i
                    try visit(level + 1, parent * expandedSizes[e] + i)
                }
            case .sparseCSR:
                let segments = dim.segments?.values ?? [], indices = dim.indices?.values ?? []
                guard parent + 1 < segments.count else { throw Invalid(reason: "dimension \(e): array_segments has \(segments.count) entries, position \(parent) needs \(parent + 2)") }
                let start = Int(segments[parent]), end = Int(segments[parent + 1])
                guard 0 <= start, start <= end, end <= indices.count else {
                    throw Invalid(reason: "dimension \(e): segment \(parent) is \(start)..<\(end), array_indices has \(indices.count)")
                }
                for p in start..<end {
                    let index = Int(indices[p])
                    guard 0 <= index, index < expandedSizes[e] else { throw Invalid(reason: "dimension \(e): index \(index) outside 0..<\(expandedSizes[e])") }
                    coordinate[e] = index
                    try visit(level + 1, p)
                }
            }
        }
        try visit(0, 0)
        guard next == storedCount else { throw Invalid(reason: "\(storedCount) values are stored, the metadata addresses \(next)") }
        return out
    }
}

extension Value {
    /// Bytes of the dense data, whether or not the value is stored sparse.
    package var expectedByteCountIfDense: Int? {
        var dense = self
        dense.sparsity = nil
        return dense.expectedByteCount
    }
}

extension DensifySparseConstants: RemovesMissingOps {
    package static var removableOps: Set<BuiltinOperator> { [.densify] }

    package static func missingOpFix(_ r: Rewriter, _ id: OpID, target: TargetProfile) -> MissingOpFix? {
        guard let x = r[id].input(0), r[x].sparsity != nil, r.isConstant(x) else { return nil }
        return MissingOpFix(detail: "it expands the sparse constant \"\(r[x].name)\"", pass: name,
                            hint: "densify-sparse-constants stores it densely and removes the DENSIFY (lossless)")
    }
}
