import FlatBuffers
import Support

/// One subgraph: values addressed by `ValueID`, ops in execution order addressed by `OpID`.
/// A value type, so "before" and "after" a pass can be kept and compared.
public struct Graph: Hashable, Sendable {
    public var name: String?
    public var values: [Value]
    public var ops: [Op]
    public var inputs: [ValueID]
    public var outputs: [ValueID]
    public var debugMetadataIndex: Int32?

    public init(name: String? = nil, values: [Value] = [], ops: [Op] = [], inputs: [ValueID] = [], outputs: [ValueID] = [], debugMetadataIndex: Int32? = nil) {
        self.name = name
        self.values = values
        self.ops = ops
        self.inputs = inputs
        self.outputs = outputs
        self.debugMetadataIndex = debugMetadataIndex
    }

    public subscript(_ id: ValueID) -> Value {
        get { values[id.index] }
        set { values[id.index] = newValue }
    }
    public subscript(_ id: OpID) -> Op {
        get { ops[id.index] }
        set { ops[id.index] = newValue }
    }

    /// Ids of the ops that are not erased, in order.
    public var liveOpIDs: [OpID] {
        ops.indices.compactMap { ops[$0].isErased ? nil : OpID($0) }
    }

    @discardableResult
    public mutating func addValue(_ value: Value) -> ValueID {
        values.append(value)
        return ValueID(values.count - 1)
    }

    /// Appends an op; `compact()` later puts it in a valid execution order.
    @discardableResult
    public mutating func addOp(_ op: Op) -> OpID {
        ops.append(op)
        return OpID(ops.count - 1)
    }

    public mutating func eraseOp(_ id: OpID) { ops[id.index].isErased = true }

    /// The live op writing `value`, if any. Scans every op: passes ask `Rewriter.producer(of:)`,
    /// which answers from a `UseDefIndex`.
    public func producer(of value: ValueID) -> OpID? {
        guard !value.isAbsent else { return nil }
        for (i, op) in ops.enumerated() where !op.isErased && op.outputs.contains(value) { return OpID(i) }
        return nil
    }

    /// Live ops reading `value`, with the input position, in op order. Scans every op (see
    /// `UseDefIndex` for repeated questions).
    public func uses(of value: ValueID) -> [(op: OpID, operand: Int)] {
        var result: [(OpID, Int)] = []
        for (i, op) in ops.enumerated() where !op.isErased {
            for (k, v) in op.inputs.enumerated() where v == value { result.append((OpID(i), k)) }
        }
        return result
    }

    public func isGraphOutput(_ value: ValueID) -> Bool { outputs.contains(value) }
    public func isGraphInput(_ value: ValueID) -> Bool { inputs.contains(value) }

    /// Replaces every read of `old` by live ops (and graph outputs) with `new`.
    public mutating func replaceAllUses(of old: ValueID, with new: ValueID) {
        for i in ops.indices where !ops[i].isErased {
            for k in ops[i].inputs.indices where ops[i].inputs[k] == old { ops[i].inputs[k] = new }
        }
        for k in outputs.indices where outputs[k] == old { outputs[k] = new }
    }

    /// Drops erased ops and restores a valid execution order (stable: original order wins ties).
    /// Returns false if the ops contain a cycle (the order is then left as is).
    @discardableResult
    public mutating func compact() -> Bool {
        ops.removeAll { $0.isErased }
        guard let order = topologicalOrder() else { return false }
        if order != Array(ops.indices) { ops = order.map { ops[$0] } }
        return true
    }

    /// A stable topological order of the op indices, or nil if there is a cycle.
    public func topologicalOrder() -> [Int]? {
        var producerOf: [Int32: Int] = [:]
        for (i, op) in ops.enumerated() where !op.isErased {
            for v in op.outputs where !v.isAbsent { producerOf[v.raw] = i }
        }
        var indegree = [Int](repeating: 0, count: ops.count)
        var consumers = [[Int]](repeating: [], count: ops.count)
        for (i, op) in ops.enumerated() where !op.isErased {
            var seen = Set<Int>()
            for v in op.inputs where !v.isAbsent {
                if let p = producerOf[v.raw], p != i, seen.insert(p).inserted {
                    indegree[i] += 1
                    consumers[p].append(i)
                }
            }
        }
        // Min-heap by index keeps the original order wherever dependencies allow.
        var ready = Heap()
        for i in ops.indices where !ops[i].isErased && indegree[i] == 0 { ready.push(i) }
        var order: [Int] = []
        order.reserveCapacity(ops.count)
        while let i = ready.pop() {
            order.append(i)
            for c in consumers[i] {
                indegree[c] -= 1
                if indegree[c] == 0 { ready.push(c) }
            }
        }
        let live = ops.lazy.filter { !$0.isErased }.count
        return order.count == live ? order : nil
    }

    /// Number of live ops reading each value (graph outputs count as a use).
    public func useCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: values.count)
        for op in ops where !op.isErased {
            for v in op.inputs where !v.isAbsent && v.index < counts.count { counts[v.index] += 1 }
        }
        for v in outputs where !v.isAbsent && v.index < counts.count { counts[v.index] += 1 }
        return counts
    }

    /// Map from value to the live op producing it.
    public func producers() -> [Int32: OpID] {
        var d: [Int32: OpID] = [:]
        for (i, op) in ops.enumerated() where !op.isErased {
            for v in op.outputs where !v.isAbsent { d[v.raw] = OpID(i) }
        }
        return d
    }
}

/// A small binary min-heap of Ints.
package struct Heap {
    private var items: [Int] = []
    package mutating func push(_ x: Int) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[p] <= items[i] { break }
            items.swapAt(p, i)
            i = p
        }
    }
    package mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
