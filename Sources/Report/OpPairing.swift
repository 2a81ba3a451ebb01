import IR
import Ops

/// Which op of one subgraph (after) is which op of another (before), for the before/after
/// picture. Ops are numbered by their index among the live ops, as `inspect` numbers them.
/// Three steps, strongest evidence first (Docs/pictures.md explains them for users):
///
/// 1. **Identity.** Ops with the same provenance (the TensorFlow nodes they were made from),
///    else with the same output tensor names, pair when that key is unique on both sides: a
///    rewrite such as conv-to-depthwise keeps the tensor it writes, so each of several
///    DEPTHWISE_CONV_2D ops finds the CONV_2D it replaced even when they look alike.
/// 2. **Neighbours.** From each pair (and from the subgraph inputs and outputs), unpaired
///    consumers of corresponding outputs pair up by kind when one of that kind is left on each
///    side, or when exactly one consumer is left on each side; unpaired producers of
///    corresponding operands pair up. Repeated until nothing changes.
/// 3. **Order.** What is left pairs by kind along the topological order (longest common
///    subsequence); the rest are ops added or removed.
package struct OpPairing {
    package var partnerOfA: [Int?]
    package var partnerOfB: [Int?]

    package init(_ ga: Graph, _ gb: Graph) {
        let a = Side(ga), b = Side(gb)
        partnerOfA = Array(repeating: nil, count: a.ops.count)
        partnerOfB = Array(repeating: nil, count: b.ops.count)
        var queue: [(Int, Int)] = []
        func pair(_ i: Int, _ j: Int) {
            guard partnerOfA[i] == nil, partnerOfB[j] == nil else { return }
            partnerOfA[i] = j
            partnerOfB[j] = i
            queue.append((i, j))
        }

        // 1. Identity keys, each kind of key on its own.
        let keys: [(Op, Graph) -> String?] = [
            { op, _ in op.provenance.isEmpty ? nil : op.provenance.joined(separator: "\u{1f}") },
            { op, g in
                let names = op.outputs.filter { !$0.isAbsent }.map { g[$0].name }
                return names.isEmpty || names.allSatisfy(\.isEmpty) ? nil : names.joined(separator: "\u{1f}")
            },
        ]
        for key in keys {
            let ka = Self.uniqueKeys(a, key, unpaired: partnerOfA), kb = Self.uniqueKeys(b, key, unpaired: partnerOfB)
            var indexInB = [String: Int]()
            for (j, k) in kb.enumerated() { if let k { indexInB[k] = j } }
            for (i, k) in ka.enumerated() { if let k, let j = indexInB[k] { pair(i, j) } }
        }

        // 2. Neighbours, seeded by the pairs so far and the subgraph's inputs and outputs.
        func pairConsumers(_ ca: [Int], _ cb: [Int]) {
            let la = ca.filter { partnerOfA[$0] == nil }, lb = cb.filter { partnerOfB[$0] == nil }
            for i in la {
                let sameA = la.filter { a.ops[$0].name == a.ops[i].name }
                let sameB = lb.filter { b.ops[$0].name == a.ops[i].name }
                if sameA.count == 1 && sameB.count == 1 { pair(i, sameB[0]) }
            }
            let restA = la.filter { partnerOfA[$0] == nil }, restB = lb.filter { partnerOfB[$0] == nil }
            if restA.count == 1 && restB.count == 1 { pair(restA[0], restB[0]) }
        }
        func pairProducers(_ va: ValueID, _ vb: ValueID) {
            if let i = a.producer[va.raw], let j = b.producer[vb.raw] { pair(i, j) }
        }
        var seeded = queue
        queue = []
        for (va, vb) in zip(ga.inputs, gb.inputs) { pairConsumers(a.consumers[va.raw] ?? [], b.consumers[vb.raw] ?? []) }
        for (va, vb) in zip(ga.outputs, gb.outputs) { pairProducers(va, vb) }
        seeded += queue
        queue = seeded
        var next = 0
        while next < queue.count {
            let (i, j) = queue[next]
            next += 1
            let x = a.ops[i], y = b.ops[j]
            for (va, vb) in zip(x.outputs, y.outputs) where !va.isAbsent && !vb.isAbsent {
                pairConsumers(a.consumers[va.raw] ?? [], b.consumers[vb.raw] ?? [])
            }
            for (va, vb) in zip(x.inputs, y.inputs) where !va.isAbsent && !vb.isAbsent { pairProducers(va, vb) }
        }

        // 3. Order: the rest by kind along the topological order.
        let restA = a.order.filter { partnerOfA[$0] == nil }, restB = b.order.filter { partnerOfB[$0] == nil }
        for step in lcsAlign(restA.map { a.ops[$0].name }, restB.map { b.ops[$0].name }) {
            if case .match(let i, let j) = step { pair(restA[i], restB[j]) }
        }
    }

    /// Each unpaired op's key, or nil where the key is missing or not unique.
    static func uniqueKeys(_ side: Side, _ key: (Op, Graph) -> String?, unpaired partner: [Int?]) -> [String?] {
        let all = side.ops.indices.map { partner[$0] == nil ? key(side.ops[$0], side.graph) : nil }
        var count = [String: Int]()
        for k in all { if let k { count[k, default: 0] += 1 } }
        return all.map { k in k.flatMap { count[$0] == 1 ? $0 : nil } }
    }

    /// One subgraph's live ops and who writes and reads each tensor.
    struct Side {
        let graph: Graph
        let ops: [Op]
        /// Live indices in topological order.
        let order: [Int]
        var producer: [Int32: Int] = [:]
        var consumers: [Int32: [Int]] = [:]

        init(_ graph: Graph) {
            self.graph = graph
            let live = graph.ops.indices.filter { !graph.ops[$0].isErased }
            ops = live.map { graph.ops[$0] }
            var liveIndex = [Int: Int]()
            for (i, o) in live.enumerated() { liveIndex[o] = i }
            order = (graph.topologicalOrder() ?? live).compactMap { liveIndex[$0] }
            for (i, op) in ops.enumerated() {
                for v in op.outputs where !v.isAbsent { producer[v.raw] = i }
                for v in op.inputs where !v.isAbsent && consumers[v.raw]?.last != i { consumers[v.raw, default: []].append(i) }
            }
        }
    }
}
