import FlatBuffers
import Support

/// Who writes and who reads each value of one graph, so `producer(of:)` and `uses(of:)` cost
/// the size of the answer instead of a scan over every op (the scan made rewrites of large
/// graphs quadratic).
///
/// Built once from a graph in O(ops + values), then told about each change (`opChanged`,
/// `opAppended`); answers always agree with `Graph.producer(of:)` and `Graph.uses(of:)` on the
/// graph it describes. The lists are candidates, checked against the graph when read: an
/// entry whose op was erased or no longer refers to the value is skipped, so an update never
/// has to search a long list to delete from it. Candidates are kept sorted by (op, operand),
/// which is the order the scans report. Op indices must not move: rebuild after `compact()`.
public struct UseDefIndex: Sendable {
    /// A candidate read: op index and operand position.
    private struct Use: Comparable, Sendable {
        package var op: Int32
        package var operand: Int32
        package static func < (a: Use, b: Use) -> Bool { (a.op, a.operand) < (b.op, b.operand) }
    }

    /// Per value index: ops that may write it, ascending.
    private var writers: [[Int32]]
    /// Per value index: (op, operand) pairs that may read it, ascending.
    private var readers: [[Use]]
    /// Per value index: how many (op, operand) pairs of live ops read it right now (exact).
    private var liveReads: [Int32]

    public init(_ graph: Graph) {
        var size = graph.values.count
        for op in graph.ops {
            for v in op.inputs where v.index >= size { size = v.index + 1 }
            for v in op.outputs where v.index >= size { size = v.index + 1 }
        }
        writers = Array(repeating: [], count: size)
        readers = Array(repeating: [], count: size)
        liveReads = Array(repeating: 0, count: size)
        for (i, op) in graph.ops.enumerated() {
            record(op, at: Int32(i))
        }
    }

    /// The live op writing `value`, if any: the first in op order, as `Graph.producer(of:)`.
    public func producer(of value: ValueID, in graph: Graph) -> OpID? {
        guard !value.isAbsent else { return nil }
        guard value.index < writers.count else { return nil }
        for i in writers[value.index] {
            let op = graph.ops[Int(i)]
            if !op.isErased && op.outputs.contains(value) { return OpID(Int(i)) }
        }
        return nil
    }

    /// Live ops reading `value`, with the input position, in op order, as `Graph.uses(of:)`.
    public func uses(of value: ValueID, in graph: Graph) -> [(op: OpID, operand: Int)] {
        // Negative ids compare by raw value in the scan; they are not indexed.
        guard !value.isAbsent else { return graph.uses(of: value) }
        guard value.index < readers.count else { return [] }
        var result: [(op: OpID, operand: Int)] = []
        result.reserveCapacity(Int(liveReads[value.index]))
        for use in readers[value.index] {
            let op = graph.ops[Int(use.op)]
            let k = Int(use.operand)
            if !op.isErased && k < op.inputs.count && op.inputs[k] == value { result.append((OpID(Int(use.op)), k)) }
        }
        return result
    }

    /// How many (op, operand) pairs of live ops read `value`: `uses(of:).count` without the list.
    public func useCount(of value: ValueID, in graph: Graph) -> Int {
        guard !value.isAbsent else { return graph.uses(of: value).count }
        return value.index < liveReads.count ? Int(liveReads[value.index]) : 0
    }

    /// Records an op appended at index `id` (after the ops the index already knows).
    public mutating func opAppended(_ op: Op, at id: OpID) {
        record(op, at: id.raw)
    }

    /// Records that the op at `id` changed from `old` to `new` (inputs, outputs or erasure).
    public mutating func opChanged(at id: OpID, from old: Op, to new: Op) {
        let i = id.raw
        if !old.isErased {
            for v in old.inputs where !v.isAbsent { liveReads[v.index] -= 1 }
        }
        if !new.isErased {
            for v in new.inputs where !v.isAbsent {
                grow(to: v.index)
                liveReads[v.index] += 1
            }
        }
        for (k, v) in new.inputs.enumerated() where !v.isAbsent && (k >= old.inputs.count || old.inputs[k] != v) {
            grow(to: v.index)
            Self.insertSorted(&readers[v.index], Use(op: i, operand: Int32(k)))
        }
        for (k, v) in new.outputs.enumerated() where !v.isAbsent && (k >= old.outputs.count || old.outputs[k] != v) {
            grow(to: v.index)
            Self.insertSorted(&writers[v.index], i)
        }
    }

    private mutating func record(_ op: Op, at i: Int32) {
        for (k, v) in op.inputs.enumerated() where !v.isAbsent {
            grow(to: v.index)
            Self.insertSorted(&readers[v.index], Use(op: i, operand: Int32(k)))
            if !op.isErased { liveReads[v.index] += 1 }
        }
        for v in op.outputs where !v.isAbsent {
            grow(to: v.index)
            Self.insertSorted(&writers[v.index], i)
        }
    }

    private mutating func grow(to index: Int) {
        guard index >= writers.count else { return }
        let extra = index + 1 - writers.count
        writers += Array(repeating: [], count: extra)
        readers += Array(repeating: [], count: extra)
        liveReads += Array(repeating: 0, count: extra)
    }

    /// Inserts `x` keeping `list` ascending and free of duplicates; appending is the usual case.
    private static func insertSorted<T: Comparable>(_ list: inout [T], _ x: T) {
        if let last = list.last, last >= x {
            var lo = 0, hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if list[mid] < x { lo = mid + 1 } else { hi = mid }
            }
            if lo < list.count && list[lo] == x { return }
            list.insert(x, at: lo)
        } else {
            list.append(x)
        }
    }
}

extension Graph {
    /// For each value index, the ops (erased or not) listing it as an output, in op order.
    /// Values outside `values` are left out.
    public func writersByValue() -> [[Int]] {
        var writers = [[Int]](repeating: [], count: values.count)
        for (i, op) in ops.enumerated() {
            for v in op.outputs where !v.isAbsent && v.index < values.count { writers[v.index].append(i) }
        }
        return writers
    }
}
