/// A layered top-to-bottom drawing of a directed acyclic graph, kept small and deterministic
/// (the Sugiyama scheme, as Graphviz's dot does it, without its refinements):
///
/// 1. ranks: each node one rank below its deepest predecessor (longest path from a source);
/// 2. an edge that spans several ranks gets one dummy point per rank it crosses, so it bends
///    around the nodes in between instead of cutting through them;
/// 3. crossing reduction: a few sweeps down and up, each sorting a rank by the mean position
///    of the neighbours in the rank before it (the barycenter heuristic); ties keep their order;
/// 4. x: each node as close to the mean of its predecessors as the nodes left of it allow, then
///    the whole rank shifted by the mean remaining offset.
///
/// Nodes are given in a topological order; an edge that points back (a cycle in a broken file)
/// does not affect the ranks and is drawn straight.
package struct LayeredLayout {
    package struct Point: Equatable {
        package var x: Double
        package var y: Double
    }

    /// Centre x and top y of each node.
    package var nodes: [Point]
    /// For each edge: source bottom, the dummy points, target top.
    package var routes: [[Point]]
    package var width: Double
    package var height: Double

    package static let rankGap = 56.0
    package static let nodeGap = 22.0
    package static let margin = 16.0
    static let dummyWidth = 8.0
    static let sweeps = 4

    package init(widths: [Double], nodeHeight: Double, edges: [(from: Int, to: Int)]) {
        let n = widths.count
        var rank = [Int](repeating: 0, count: n)
        var incoming = [[Int]](repeating: [], count: n)
        for (e, edge) in edges.enumerated() where edge.from < edge.to { incoming[edge.to].append(e) }
        for v in 0..<n { for e in incoming[v] { rank[v] = max(rank[v], rank[edges[e].from] + 1) } }
        let rankCount = (rank.max() ?? -1) + 1

        // Layout items: the nodes, then the dummy points. `up`/`down` are item neighbours.
        var itemRank = rank
        var itemWidth = widths
        var up = [[Int]](repeating: [], count: n)
        var down = [[Int]](repeating: [], count: n)
        var chains: [[Int]] = []
        for edge in edges {
            guard edge.from < edge.to else { chains.append([edge.from, edge.to]); continue }
            var chain = [edge.from]
            for r in (rank[edge.from] + 1)..<max(rank[edge.to], rank[edge.from] + 1) {
                itemRank.append(r)
                itemWidth.append(Self.dummyWidth)
                up.append([])
                down.append([])
                chain.append(itemRank.count - 1)
            }
            chain.append(edge.to)
            for (a, b) in zip(chain, chain.dropFirst()) {
                down[a].append(b)
                up[b].append(a)
            }
            chains.append(chain)
        }

        var layers = [[Int]](repeating: [], count: rankCount)
        for item in itemRank.indices { layers[itemRank[item]].append(item) }
        var position = [Int](repeating: 0, count: itemRank.count)
        func renumber(_ layer: [Int]) { for (i, item) in layer.enumerated() { position[item] = i } }
        layers.forEach(renumber)
        for sweep in 0..<Self.sweeps {
            let downward = sweep % 2 == 0
            let order = downward ? Array(layers.indices.dropFirst()) : Array(layers.indices.dropLast().reversed())
            for r in order {
                let keyed = layers[r].map { item -> (Double, Int, Int) in
                    let neighbours = downward ? up[item] : down[item]
                    let centre = neighbours.isEmpty
                        ? Double(position[item])
                        : neighbours.reduce(0.0) { $0 + Double(position[$1]) } / Double(neighbours.count)
                    return (centre, position[item], item)
                }
                layers[r] = keyed.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
                renumber(layers[r])
            }
        }

        // x: centres, rank by rank from the top.
        var x = [Double](repeating: 0, count: itemRank.count)
        for layer in layers {
            var right = -Double.infinity
            var offsets = 0.0
            var counted = 0
            for item in layer {
                let half = itemWidth[item] / 2
                let wanted = up[item].isEmpty ? nil : up[item].reduce(0.0) { $0 + x[$1] } / Double(up[item].count)
                let leftmost = right == -Double.infinity ? -Double.infinity : right + Self.nodeGap + half
                x[item] = max(wanted ?? leftmost, leftmost)
                if leftmost == -Double.infinity && wanted == nil { x[item] = half }
                if let wanted {
                    offsets += wanted - x[item]
                    counted += 1
                }
                right = x[item] + half
            }
            // Shift the rank toward where its nodes wanted to be; spacing is kept.
            if counted > 0 {
                let shift = offsets / Double(counted)
                for item in layer { x[item] += shift }
            }
        }
        let minLeft = itemRank.indices.map { x[$0] - itemWidth[$0] / 2 }.min() ?? 0
        let maxRight = itemRank.indices.map { x[$0] + itemWidth[$0] / 2 }.max() ?? 0
        let dx = Self.margin - minLeft
        func top(_ r: Int) -> Double { Self.margin + Double(r) * (nodeHeight + Self.rankGap) }

        nodes = (0..<n).map { Point(x: x[$0] + dx, y: top(rank[$0])) }
        routes = chains.map { chain in
            var points = [Point(x: x[chain[0]] + dx, y: top(itemRank[chain[0]]) + nodeHeight)]
            for dummy in chain.dropFirst().dropLast() {
                points.append(Point(x: x[dummy] + dx, y: top(itemRank[dummy])))
                points.append(Point(x: x[dummy] + dx, y: top(itemRank[dummy]) + nodeHeight))
            }
            let last = chain[chain.count - 1]
            points.append(Point(x: x[last] + dx, y: top(itemRank[last])))
            return points
        }
        width = n == 0 ? 2 * Self.margin : maxRight - minLeft + 2 * Self.margin
        height = rankCount == 0 ? 2 * Self.margin : top(rankCount - 1) + nodeHeight + Self.margin
    }
}
