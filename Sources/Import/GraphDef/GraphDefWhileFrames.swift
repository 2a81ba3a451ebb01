import TFProto

/// One TF1 while loop: the nodes that run in its frame (its Enter nodes, the condition, the
/// body, NextIteration and Exit nodes) in execution order.
struct GraphDefFrame {
    var name: String
    var members: [Int] = []
}

/// Which needed nodes run inside a TF1 while frame (TF's control_flow_ops.py builds them), and
/// an order in which to lower the rest and each frame as a unit.
///
/// A node is in frame F when it is an `Enter` with frame_name F, or when one of its data inputs
/// is in F (an `Exit` leaves the frame: what reads it is outside). Nodes without data inputs
/// (Consts, which TF ties to the frame by a control edge only) are outside: they do not change
/// between iterations. Nested loops are refused.
struct GraphDefFrames {
    enum Unit: Equatable {
        case node(Int)
        case frame(Int)
    }

    let topology: GraphDefTopology
    let order: [Int]
    let cuts: Set<Int>
    var frames: [GraphDefFrame] = []
    /// Node index → frame index, for the nodes in a frame.
    var frameOf: [Int: Int] = [:]

    init(topology: GraphDefTopology, order: [Int], cuts: Set<Int>) throws {
        self.topology = topology
        self.order = order
        self.cuts = cuts
        guard order.contains(where: { !cuts.contains($0) && topology.nodes[$0].op == "Enter" }) else { return }
        var byName: [String: Int] = [:]
        for i in order where !cuts.contains(i) {
            let node = topology.nodes[i]
            // The frames this node's inputs are in (an Exit's output is outside its frame).
            var inputFrames = Set<Int>()
            for (k, ref) in topology.dataInputs[i].enumerated() {
                guard let ref, let j = topology.index[ref.node] else { continue }
                if topology.isBackEdge(from: j, to: i) { continue }
                guard let f = frameOf[j], topology.nodes[j].op != "Exit" else { continue }
                if node.op == "Enter" {
                    throw node.invalid(
                        "input \(k) comes from inside while loop '\(frames[f].name)': nested while loops are not supported")
                }
                inputFrames.insert(f)
            }
            let frame: Int
            if node.op == "Enter" {
                let name = try node.attrString("frame_name")
                if let f = byName[name] {
                    frame = f
                } else {
                    frame = frames.count
                    byName[name] = frame
                    frames.append(GraphDefFrame(name: name))
                }
            } else if inputFrames.count > 1 {
                let names = inputFrames.sorted().map { "'\(frames[$0].name)'" }.joined(separator: " and ")
                throw node.invalid("reads tensors of two while loops (\(names)) directly, not through Exit")
            } else if let f = inputFrames.first {
                frame = f
            } else {
                if ["NextIteration", "Exit", "LoopCond"].contains(node.op) {
                    throw node.invalid("is outside any while loop (no Enter leads to it)")
                }
                continue
            }
            frameOf[i] = frame
            frames[frame].members.append(i)
        }
    }

    /// The outside nodes and the frames, each after everything it reads: frames are lowered
    /// whole, so a node that reads a frame's Exit waits for the whole frame, and a frame waits for
    /// everything its nodes read from outside. Ties keep the graph order.
    func schedule() throws -> [Unit] {
        var units: [Unit] = []
        var unitOf: [Int: Int] = [:]
        var frameUnit: [Int: Int] = [:]
        var firstPosition: [Int] = []
        for (position, i) in order.enumerated() where !cuts.contains(i) {
            if let f = frameOf[i] {
                if let u = frameUnit[f] {
                    unitOf[i] = u
                    continue
                }
                frameUnit[f] = units.count
                units.append(.frame(f))
            } else {
                units.append(.node(i))
            }
            unitOf[i] = units.count - 1
            firstPosition.append(position)
        }
        var dependencies = [Set<Int>](repeating: [], count: units.count)
        var dependents = [[Int]](repeating: [], count: units.count)
        for i in order where !cuts.contains(i) {
            guard let u = unitOf[i] else { continue }
            for ref in topology.dataInputs[i] {
                guard let ref, let j = topology.index[ref.node], !topology.isBackEdge(from: j, to: i), let w = unitOf[j], w != u else { continue }
                if dependencies[u].insert(w).inserted { dependents[w].append(u) }
            }
        }
        var remaining = dependencies.map(\.count)
        var ready = units.indices.filter { remaining[$0] == 0 }
        var result: [Unit] = []
        while !ready.isEmpty {
            // The ready unit that comes first in the graph order.
            let pick = ready.indices.min { firstPosition[ready[$0]] < firstPosition[ready[$1]] }!
            let u = ready.remove(at: pick)
            result.append(units[u])
            for d in dependents[u] {
                remaining[d] -= 1
                if remaining[d] == 0 { ready.append(d) }
            }
        }
        guard result.count == units.count else {
            let stuck = units.indices.first { remaining[$0] > 0 }.map { u -> String in
                switch units[u] {
                case .frame(let f): "while loop '\(frames[f].name)'"
                case .node(let i): "node '\(topology.nodes[i].name)'"
                }
            } ?? "?"
            throw GraphDefImportError.graph("the graph has a cycle through a while loop's outputs (at \(stuck))")
        }
        return result
    }
}
