import FlatBuffers
import IR
import Ops
import Support
import TFProto

/// Why a GraphDef or SavedModel could not be turned into the IR. Every case renders as one
/// line that names the node (and its op type) or the flag at fault.
public enum GraphDefImportError: Error, Equatable, CustomStringConvertible {
    /// Op types the importer cannot lower, in graph order, each with one node that uses it.
    case unsupportedOps([(op: String, node: String)], hint: String?)
    /// A node that cannot be lowered as it is (bad attribute, wrong shape, NCHW, training mode…).
    case invalidNode(node: String, op: String, message: String)
    /// A node reads a tensor of a node that is not in the graph.
    case missingInput(node: String, op: String, input: String)
    /// The data edges between the needed nodes form a cycle.
    case cycle([String])
    /// `--input` / `--output` / a signature names something the graph does not have, or a
    /// shape given for it is unusable.
    case badArgument(flag: String, message: String)
    /// The SavedModel cannot be used (no saved_model.pb, missing tag or signature, variables).
    case savedModel(path: String, message: String)
    /// The graph as a whole cannot be converted (no outputs, constant output…).
    case graph(String)

    public static func == (a: GraphDefImportError, b: GraphDefImportError) -> Bool {
        a.description == b.description
    }

    public var description: String {
        switch self {
        case .unsupportedOps(let list, let hint):
            let ops = list.map { "\($0.op) (\($0.node))" }.joined(separator: ", ")
            return "unsupported TensorFlow ops: \(ops)" + (hint.map { "; \($0)" } ?? "")
        case .invalidNode(let node, let op, let message):
            return "\(op) node '\(node)': \(message)"
        case .missingInput(let node, let op, let input):
            return "\(op) node '\(node)' reads '\(input)', but the graph has no node of that name"
        case .cycle(let nodes):
            return "the graph has a cycle: " + nodes.map { "'\($0)'" }.joined(separator: " -> ")
        case .badArgument(let flag, let message):
            return flag.isEmpty ? message : "\(flag): \(message)"
        case .savedModel(let path, let message):
            return "SavedModel \(path): \(message)"
        case .graph(let message):
            return message
        }
    }
}
