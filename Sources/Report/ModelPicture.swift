import Foundation
import IR

/// `tfrewrite show`: a model's graph, or two models side by side, as a self-contained HTML page
/// (inline CSS, SVG and a little script; nothing loaded from the network) or one SVG file.
/// The bytes depend only on the models and the names given: no dates, no hash-ordered output.
public enum ModelPicture {
    /// One line of `convert --report`'s pass log.
    public struct PassLogEntry {
        public var pass: String
        public var opsAfter: Int
        public var changed: Bool
        public init(pass: String, opsAfter: Int, changed: Bool) {
            self.pass = pass
            self.opsAfter = opsAfter
            self.changed = changed
        }
    }

    /// Counts of a before/after comparison over all subgraphs.
    public struct DiffCounts: Equatable {
        public var same = 0, changed = 0, added = 0, removed = 0
        public init(same: Int = 0, changed: Int = 0, added: Int = 0, removed: Int = 0) {
            (self.same, self.changed, self.added, self.removed) = (same, changed, added, removed)
        }
    }

    /// One model's graph, every subgraph.
    public static func html(_ model: Model, name: String) -> String {
        let panels = pictures(model, side: "m", name: name)
        let ops = panels.reduce(0) { $0 + $1.opCount }
        let rows = panels.map { "<section class=\"row\">\(panelHTML($0))</section>" }
        return page(title: name, summary: "\(ops) ops in \(model.subgraphs.count) subgraph(s)", body: rows.joined(separator: "\n"), diff: false)
    }

    public static func svg(_ model: Model, name: String) -> String {
        standaloneSVG(pictures(model, side: "m", name: name).map { [$0] })
    }

    /// Before and after side by side, subgraph by subgraph, with changed ops highlighted.
    public static func diffHTML(_ a: Model, _ b: Model, nameA: String, nameB: String, passLog: [PassLogEntry]? = nil, notes: [String] = []) -> String {
        let (rows, counts) = diffPictures(a, b, nameA: nameA, nameB: nameB)
        let body = rows.map { row in "<section class=\"row\">\(row.map(panelHTML).joined())</section>" }.joined(separator: "\n")
        return page(title: "\(nameA) → \(nameB)", summary: summaryLine(a, b, counts), body: body + passLogHTML(passLog, notes: notes), diff: true)
    }

    public static func diffSVG(_ a: Model, _ b: Model, nameA: String, nameB: String) -> String {
        standaloneSVG(diffPictures(a, b, nameA: nameA, nameB: nameB).rows)
    }

    public static func diffCounts(_ a: Model, _ b: Model) -> DiffCounts {
        diffPictures(a, b, nameA: "", nameB: "").counts
    }

    // MARK: pictures

    struct Panel {
        var picture: GraphPicture
        /// Element id prefix: m (one model), a (before), b (after), then the subgraph index.
        var prefix: String
        var partnerPrefix: String?
        var opCount: Int { picture.nodes.filter { $0.kind == .op }.count }

        /// The layout's width, widened for edge labels that reach past the rightmost box.
        var width: Double {
            zip(picture.edges, picture.layout.routes).reduce(picture.layout.width) { w, pair in
                pair.0.label.isEmpty ? w : max(w, labelPosition(pair.1).x + Double(pair.0.label.count) * ModelPicture.labelCharacterWidth + LayeredLayout.margin)
            }
        }
    }

    /// Advance of one character of the 10 px edge labels.
    static let labelCharacterWidth = 6.1

    /// On the first segment, just below the source, where the fan-out edges of a tensor still agree.
    static func labelPosition(_ route: [LayeredLayout.Point]) -> LayeredLayout.Point {
        let s = route[0], t = route[1]
        return LayeredLayout.Point(x: s.x + (t.x - s.x) * 0.3 + 5, y: s.y + (t.y - s.y) * 0.3 + 4)
    }

    static func subgraphTitle(_ model: Model, _ index: Int, name: String) -> String {
        let g = model.subgraphs[index]
        let label = g.name.map { " (\($0))" } ?? ""
        return "\(name) — subgraph \(index)\(label), \(g.liveOpIDs.count) ops"
    }

    static func pictures(_ model: Model, side: String, name: String) -> [Panel] {
        model.subgraphs.indices.map { s in
            Panel(picture: GraphPicture(model: model, subgraph: s, title: subgraphTitle(model, s, name: name)), prefix: "\(side)\(s)")
        }
    }

    static func diffPictures(_ a: Model, _ b: Model, nameA: String, nameB: String) -> (rows: [[Panel]], counts: DiffCounts) {
        var counts = DiffCounts()
        var rows: [[Panel]] = []
        for s in 0..<max(a.subgraphs.count, b.subgraphs.count) {
            guard s < a.subgraphs.count, s < b.subgraphs.count else {
                // A subgraph on one side only: all of its ops are added or removed.
                let (model, side, status) = s < a.subgraphs.count ? (a, "a", GraphPicture.Status.removed) : (b, "b", .added)
                let picture = GraphPicture(model: model, subgraph: s, title: subgraphTitle(model, s, name: side == "a" ? nameA : nameB)) { _ in (status, nil, []) }
                let n = picture.nodes.filter { $0.kind == .op }.count
                if status == .added { counts.added += n } else { counts.removed += n }
                rows.append([Panel(picture: picture, prefix: "\(side)\(s)")])
                continue
            }
            let ga = a.subgraphs[s], gb = b.subgraphs[s]
            let pairing = OpPairing(ga, gb)
            let liveA = ga.ops.filter { !$0.isErased }, liveB = gb.ops.filter { !$0.isErased }
            var changes = [Int: [String]]()
            for (i, j) in pairing.partnerOfA.enumerated() {
                guard let j else { counts.removed += 1; continue }
                let details = opChanges(liveA[i], liveB[j], ga, gb, a, b)
                changes[i] = details
                if details.isEmpty { counts.same += 1 } else { counts.changed += 1 }
            }
            counts.added += pairing.partnerOfB.filter { $0 == nil }.count
            let before = GraphPicture(model: a, subgraph: s, title: subgraphTitle(a, s, name: nameA)) { i in
                guard let j = pairing.partnerOfA[i] else { return (.removed, nil, ["removed"]) }
                let d = changes[i] ?? []
                return (d.isEmpty ? .same : .changed, j, d)
            }
            let after = GraphPicture(model: b, subgraph: s, title: subgraphTitle(b, s, name: nameB)) { j in
                guard let i = pairing.partnerOfB[j] else { return (.added, nil, ["added"]) }
                let d = changes[i] ?? []
                return (d.isEmpty ? .same : .changed, i, d)
            }
            rows.append([Panel(picture: before, prefix: "a\(s)", partnerPrefix: "b\(s)"), Panel(picture: after, prefix: "b\(s)", partnerPrefix: "a\(s)")])
        }
        return (rows, counts)
    }

    /// What differs between two paired ops: kind, version, options, activation, and the types,
    /// shapes and quantization of their operands.
    static func opChanges(_ x: Op, _ y: Op, _ ga: Graph, _ gb: Graph, _ a: Model, _ b: Model) -> [String] {
        var d = x.name == y.name ? [] : ["\(x.name) → \(y.name)"]
        d += ModelDiff.opDetails(x, y, ga, gb, a, b)
        for (title, xs, ys) in [("input", x.inputs, y.inputs), ("output", x.outputs, y.outputs)] {
            for (k, (va, vb)) in zip(xs, ys).enumerated() where !va.isAbsent && !vb.isAbsent {
                d += ModelDiff.tensorDetails(ga[va], gb[vb], a, b).map { "\(title) \(k): \($0)" }
            }
        }
        return d
    }

    static func summaryLine(_ a: Model, _ b: Model, _ c: DiffCounts) -> String {
        let opsA = a.subgraphs.reduce(0) { $0 + $1.liveOpIDs.count }, opsB = b.subgraphs.reduce(0) { $0 + $1.liveOpIDs.count }
        return "\(opsA) → \(opsB) ops: \(c.same) unchanged, \(c.changed) changed, \(c.removed) removed, \(c.added) added"
    }

    // MARK: SVG

    /// One panel's `<svg>` element. `x`/`y` place it inside a standalone SVG.
    static func panelSVG(_ panel: Panel, x: Double? = nil, y: Double? = nil) -> String {
        let p = panel.picture, l = p.layout, h = GraphPicture.nodeHeight, width = panel.width
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\""
        if let x, let y { out += " x=\"\(num(x))\" y=\"\(num(y))\"" }
        out += " width=\"\(num(width))\" height=\"\(num(l.height))\" viewBox=\"0 0 \(num(width)) \(num(l.height))\">\n"
        let arrow = "\(panel.prefix)-arrow"
        out += "<defs><marker id=\"\(arrow)\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" class=\"arrowhead\"/></marker></defs>\n"
        for (e, edge) in p.edges.enumerated() {
            let route = l.routes[e]
            var d = "M\(num(route[0].x)),\(num(route[0].y))"
            for (s, t) in zip(route, route.dropFirst()) {
                if s.x == t.x || s.y >= t.y {
                    d += " L\(num(t.x)),\(num(t.y))"
                } else {
                    let mid = (s.y + t.y) / 2
                    d += " C\(num(s.x)),\(num(mid)) \(num(t.x)),\(num(mid)) \(num(t.x)),\(num(t.y))"
                }
            }
            out += "<g class=\"edge\"><title>\(escape(edge.hover))</title><path d=\"\(d)\" marker-end=\"url(#\(arrow))\"/>"
            if !edge.label.isEmpty {
                let at = labelPosition(route)
                out += "<text x=\"\(num(at.x))\" y=\"\(num(at.y))\" class=\"edge-label\">\(escape(edge.label))</text>"
            }
            out += "</g>\n"
        }
        for (i, node) in p.nodes.enumerated() {
            let c = l.nodes[i]
            let left = c.x - node.width / 2
            var attributes = "class=\"node \(node.kind.rawValue) \(node.status.rawValue)\""
            if let index = node.opIndex, let name = node.opName {
                attributes += " id=\"\(panel.prefix)-op\(index)\" data-op=\"\(escape(name))\" data-index=\"\(index)\""
                if let partner = node.partner, let other = panel.partnerPrefix { attributes += " data-pair=\"\(other)-op\(partner)\"" }
            }
            out += "<g \(attributes)><title>\(escape(node.hover))</title>"
            out += "<rect x=\"\(num(left))\" y=\"\(num(c.y))\" width=\"\(num(node.width))\" height=\"\(num(h))\" rx=\"\(node.kind == .op ? 4 : 14)\"/>"
            out += "<text x=\"\(num(c.x))\" y=\"\(num(c.y + 16))\" class=\"l1\">\(escape(node.lines[0]))</text>"
            out += "<text x=\"\(num(c.x))\" y=\"\(num(c.y + 31))\" class=\"l2\">\(escape(node.lines[1]))</text></g>\n"
        }
        return out + "</svg>"
    }

    static let svgStyle = """
        .graph{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px}
        .graph .edge path{fill:none;stroke:#7a8594;stroke-width:1.2}
        .graph .arrowhead{fill:#7a8594}
        .graph .edge-label{fill:#3d4653;font-size:10px}
        .graph .edge:hover path{stroke:#1f5fbf;stroke-width:2.4}
        .graph .edge:hover .edge-label{fill:#1f5fbf;font-weight:bold}
        .graph .node rect{fill:#eef3fb;stroke:#4a6fa5;stroke-width:1.2}
        .graph .node.input rect,.graph .node.output rect{fill:#f4f4f4;stroke:#888}
        .graph .node text{text-anchor:middle;fill:#1d232b}
        .graph .node .l1{font-weight:bold}
        .graph .node .l2{fill:#4b5563;font-size:11px}
        .graph .node.changed rect{fill:#fff1c2;stroke:#c98a00;stroke-width:2.4}
        .graph .node.added rect{fill:#d9f2dc;stroke:#2e7d32;stroke-width:2.4}
        .graph .node.removed rect{fill:#fbdcdc;stroke:#c62828;stroke-width:2.4;stroke-dasharray:5 3}
        .graph .node:hover rect,.graph .node.hl rect{stroke:#1f5fbf;stroke-width:3}
        """

    /// Panels in rows (a row holds before and after), stacked, in one SVG file.
    static func standaloneSVG(_ rows: [[Panel]]) -> String {
        var body = "", y = 0.0, width = 0.0
        for row in rows {
            var x = 0.0, rowHeight = 0.0
            for panel in row {
                body += "<text x=\"\(num(x + LayeredLayout.margin))\" y=\"\(num(y + 18))\" class=\"panel-title\">\(escape(panel.picture.title))</text>\n"
                body += panelSVG(panel, x: x, y: y + 24) + "\n"
                x += max(panel.width, Double(panel.picture.title.count) * GraphPicture.characterWidth + 32) + 24
                rowHeight = max(rowHeight, panel.picture.layout.height + 24)
            }
            width = max(width, x)
            y += rowHeight + 16
        }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(num(width))\" height=\"\(num(y))\" viewBox=\"0 0 \(num(width)) \(num(y))\">\n"
        out += "<style>\n\(svgStyle)\n.panel-title{font-family:sans-serif;font-size:14px;font-weight:bold;fill:#1d232b}\n</style>\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        return out + body + "</svg>\n"
    }

    // MARK: HTML

    static func panelHTML(_ panel: Panel) -> String {
        "<div class=\"panel\"><h2>\(escape(panel.picture.title))</h2><div class=\"scroll\">\(panelSVG(panel))</div></div>"
    }

    static func passLogHTML(_ log: [PassLogEntry]?, notes: [String]) -> String {
        guard let log else { return "" }
        var out = "\n<section id=\"passes\"><h2>Passes</h2><table><thead><tr><th>#</th><th>pass</th><th>ops after</th><th>changed the model</th></tr></thead><tbody>\n"
        for (i, e) in log.enumerated() {
            out += "<tr class=\"\(e.changed ? "changed" : "unchanged")\"><td>\(i + 1)</td><td>\(escape(e.pass))</td><td>\(e.opsAfter)</td><td>\(e.changed ? "yes" : "no")</td></tr>\n"
        }
        out += "</tbody></table>"
        if !notes.isEmpty { out += "<ul>" + notes.map { "<li>\(escape($0))</li>" }.joined() + "</ul>" }
        return out + "</section>"
    }

    static func page(title: String, summary: String, body: String, diff: Bool) -> String {
        let hint = "Hover an op or an arrow for its details (tensors, quantization)"
        let legend = diff
            ? "<span class=\"changed\">changed</span><span class=\"added\">added</span><span class=\"removed\">removed</span> \(hint); the op paired with it lights up."
            : hint + "."
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="generator" content="tfrewrite show">
        <title>\(escape(title))</title>
        <script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message));});</script>
        <style>
        body{font-family:sans-serif;margin:0;padding:12px 16px 140px;color:#1d232b;background:#fff}
        h1{font-size:18px;margin:0 0 4px}
        h2{font-size:14px;margin:12px 0 6px}
        .summary{margin:0 0 8px;color:#4b5563}
        .legend span{display:inline-block;padding:1px 8px;margin-right:6px;border:1px solid;border-radius:3px;font-size:12px}
        .legend .changed{background:#fff1c2;border-color:#c98a00}
        .legend .added{background:#d9f2dc;border-color:#2e7d32}
        .legend .removed{background:#fbdcdc;border-color:#c62828}
        .row{display:flex;gap:24px;align-items:flex-start}
        .panel{flex:1 1 0;min-width:0}
        .scroll{overflow:auto;border:1px solid #e2e6eb;border-radius:4px;max-height:85vh}
        #details{position:fixed;right:12px;bottom:12px;max-width:46%;max-height:40vh;overflow:auto;background:#fffffe;border:1px solid #c5ccd6;border-radius:4px;box-shadow:0 2px 8px rgba(0,0,0,.15);padding:6px 10px}
        #details pre{margin:0;font-size:12px;white-space:pre-wrap}
        #passes table{border-collapse:collapse;font-size:13px}
        #passes td,#passes th{border:1px solid #d5dae1;padding:2px 8px;text-align:left}
        #passes tr.changed td{background:#fff1c2}
        \(svgStyle)
        </style>
        </head>
        <body>
        <h1>\(escape(title))</h1>
        <p class="summary">\(escape(summary))</p>
        <p class="legend">\(legend)</p>
        \(body)
        <div id="details"><pre id="details-text">Hover an op or an arrow.</pre></div>
        <pre id="errors" hidden></pre>
        <script>
        (function () {
          var text = document.getElementById('details-text');
          function partner(node) {
            var id = node.getAttribute('data-pair');
            return id ? document.getElementById(id) : null;
          }
          var items = document.querySelectorAll('.node, .edge');
          for (var i = 0; i < items.length; i++) {
            (function (item) {
              item.addEventListener('mouseenter', function () {
                var title = item.querySelector('title');
                text.textContent = title ? title.textContent : '';
                var p = partner(item);
                if (p) { p.classList.add('hl'); }
              });
              item.addEventListener('mouseleave', function () {
                var p = partner(item);
                if (p) { p.classList.remove('hl'); }
              });
            })(items[i]);
          }
          var errors = document.getElementById('errors');
          errors.textContent = window.__errors.join('\\n');
          document.body.setAttribute('data-errors', String(window.__errors.length));
          document.body.setAttribute('data-ops', String(document.querySelectorAll('.node.op').length));
          document.body.setAttribute('data-ready', '1');
        })();
        </script>
        </body>
        </html>

        """
    }

    /// Coordinates with at most one decimal, the same text on every machine.
    static func num(_ v: Double) -> String {
        let tenths = (v * 10).rounded()
        return tenths.truncatingRemainder(dividingBy: 10) == 0 ? String(Int(tenths / 10)) : String(format: "%.1f", tenths / 10)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            // XML 1.0 has no other control characters (a name in a malformed file may hold one).
            case "\n", "\t": out.unicodeScalars.append(c)
            case _ where c.value < 0x20 || c.value == 0x7F || c.value == 0xFFFE || c.value == 0xFFFF: out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
