import CYaml
import Export
import FlatBuffers
import IR
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Support

/// Bounds on a YAML document, checked on libyaml's event stream before Yams composes it.
///
/// Yams builds its node tree, and `YAMLNode` converts it, by recursion, so a document nested a
/// few thousand levels deep overflows the stack; and an alias is expanded wherever it is used,
/// so eight levels of nine-fold aliases ("billion laughs") make 9⁸ nodes. libyaml's own parser
/// keeps an explicit stack, so reading its events is safe at any depth; this pass counts
/// nesting and the size each anchor expands to, and refuses the document before anything
/// recursive sees it. A document libyaml cannot parse passes through, for Yams to report the
/// syntax error with its usual message.
package enum YAMLLimits {
    /// Deepest nesting of lists and mappings (aliases count with the depth of what they name).
    /// Rules files nest fewer than ten levels.
    package static let maxDepth = 256
    /// Most nodes after expanding every alias. Rules files have a few thousand.
    package static let maxNodes = 1_000_000

    /// Throws a `RulesError` at the offending line when `text` exceeds a limit.
    package static func check(_ text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var utf8 = Array(text.utf8)
        try utf8.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var sizes = NodeSizes()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SEQUENCE_START_EVENT:
                    try sizes.open(anchor: name(event.data.sequence_start.anchor), file: file, line: line)
                case YAML_MAPPING_START_EVENT:
                    try sizes.open(anchor: name(event.data.mapping_start.anchor), file: file, line: line)
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    try sizes.close(file: file, line: line)
                case YAML_SCALAR_EVENT:
                    try sizes.leaf(anchor: name(event.data.scalar.anchor), file: file, line: line)
                case YAML_ALIAS_EVENT:
                    try sizes.alias(name(event.data.alias.anchor) ?? "", file: file, line: line)
                default:
                    break
                }
            }
        }
    }

    private static func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        anchor.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    /// Open collections with their node counts and heights so far, and what each anchor expands to.
    private struct NodeSizes {
        package struct Frame {
            package var anchor: String?
            package var nodes: Int
            package var height: Int
        }
        package var open: [Frame] = []
        package var anchors: [String: (nodes: Int, height: Int)] = [:]
        package var total = 0

        package mutating func open(anchor: String?, file: String, line: Int) throws {
            guard open.count < YAMLLimits.maxDepth else {
                throw RulesError(file: file, line: line, "YAML nested more than \(YAMLLimits.maxDepth) levels deep")
            }
            open.append(Frame(anchor: anchor, nodes: 1, height: 1))
        }

        package mutating func close(file: String, line: Int) throws {
            guard let done = open.popLast() else { return }
            if let a = done.anchor { anchors[a] = (done.nodes, done.height) }
            try add(nodes: done.nodes, height: done.height, file: file, line: line, counted: true)
        }

        package mutating func leaf(anchor: String?, file: String, line: Int) throws {
            if let anchor { anchors[anchor] = (1, 0) }
            try add(nodes: 1, height: 0, file: file, line: line, counted: false)
        }

        package mutating func alias(_ anchor: String, file: String, line: Int) throws {
            // An unknown anchor is Yams' error to report.
            let (nodes, height) = anchors[anchor] ?? (1, 0)
            guard open.count + height <= YAMLLimits.maxDepth else {
                throw RulesError(file: file, line: line, "YAML nested more than \(YAMLLimits.maxDepth) levels deep (through alias *\(anchor))")
            }
            try add(nodes: nodes, height: height, file: file, line: line, counted: false)
        }

        /// Adds a finished node to its parent. `counted`: its own nodes were already added to
        /// `total` as they were read (a collection's children), so only the collection itself is new.
        private mutating func add(nodes: Int, height: Int, file: String, line: Int, counted: Bool) throws {
            total += counted ? 1 : nodes
            guard total <= YAMLLimits.maxNodes else {
                throw RulesError(file: file, line: line, "YAML expands to more than \(YAMLLimits.maxNodes) nodes (aliases repeat what they name)")
            }
            guard !open.isEmpty else { return }
            open[open.count - 1].nodes += nodes
            open[open.count - 1].height = max(open[open.count - 1].height, height + 1)
        }
    }
}
