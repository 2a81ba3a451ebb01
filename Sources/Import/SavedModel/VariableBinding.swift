import Support

/// Turns the resource variables of a (function-inlined) TF2 SavedModel graph into constants.
///
/// Which checkpoint entry a variable holds comes first from the SavedObjectGraph, as TF2's Python
/// loader does it (saved_model/load.py): a call to a concrete function passes its captured
/// variables as its last inputs, `bound_inputs` names their objects, and an object's checkpoint
/// key is its path from the root (`TFObjectGraph.objectPaths`) + "/.ATTRIBUTES/VARIABLE_VALUE".
/// `objectGraphKeys` does that for every call in the top-level graph.
///
/// A variable the object graph does not place is looked up the way TensorFlow's
/// C++ loader restores a SavedModel (cc/saved_model/loader.cc `RunRestore`: feed the variables
/// prefix to `saver_def.filename_tensor_name`, run `saver_def.restore_op_name`). In a TF2
/// SavedModel that op calls the traced restore function, whose body is
///
///     RestoreV2(prefix, tensor_names = Const["layer/kernel/.ATTRIBUTES/VARIABLE_VALUE", …], …)
///     AssignVariableOp(<handle parameter k>, Identity(RestoreV2:tensors:k))
///
/// and the call passes the graph's VarHandleOp nodes as the handle parameters. After inlining,
/// every AssignVariableOp the restore op depends on names a VarHandleOp and a RestoreV2 output,
/// hence a checkpoint key. Each ReadVariableOp of such a handle then becomes a Const node holding
/// the bundle's tensor (checksum verified), and the graph is lowered like a frozen one.
package enum VariableBinding {
    /// Variable handle node name → checkpoint key, from the calls of the top-level `graph` (before
    /// inlining) to functions whose captures the object graph lists.
    package static func objectGraphKeys(_ graph: TFGraphDef, objectGraph: TFObjectGraph, path: String) throws -> [String: String] {
        let nodes = Dictionary(graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let paths = objectGraph.objectPaths()
        var keys: [String: String] = [:]
        for call in graph.nodes where FunctionInliner.callOps.contains(call.op) {
            guard case .func(let function)? = call.attrs["f"], let bound = objectGraph.boundInputs[function], !bound.isEmpty else { continue }
            let data = call.inputs.filter { !$0.hasPrefix("^") }
            guard data.count >= bound.count else {
                throw GraphDefImportError.savedModel(
                    path: path, message: "\(call.op) node '\(call.name)' has \(data.count) inputs, fewer than the \(bound.count) captures the object graph lists for '\(function)'")
            }
            for (input, object) in zip(data.suffix(bound.count), bound) {
                guard let handle = source(of: input, in: nodes), nodes[handle.node]?.op == "VarHandleOp" else { continue }
                guard object >= 0, object < objectGraph.nodes.count, objectGraph.nodes[object].variableName != nil else {
                    throw GraphDefImportError.savedModel(
                        path: path, message: "'\(call.name)' passes variable '\(handle.node)' where the object graph has object \(object), which is not a variable")
                }
                guard let objectPath = paths[object] else {
                    throw GraphDefImportError.savedModel(path: path, message: "variable object \(object) ('\(handle.node)') cannot be reached from the object graph's root")
                }
                let key = objectPath + TFObjectGraph.variableValueSuffix
                if let previous = keys[handle.node], previous != key {
                    throw GraphDefImportError.savedModel(path: path, message: "variable '\(handle.node)' is bound to both '\(previous)' and '\(key)'")
                }
                keys[handle.node] = key
            }
        }
        return keys
    }

    /// Variable handle node name → checkpoint key.
    package static func restoredKeys(_ graph: TFGraphDef, restoreOp: String, path: String) throws -> [String: String] {
        let nodes = Dictionary(graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func fail(_ message: String) -> GraphDefImportError { .savedModel(path: path, message: message) }
        let restoreName = restoreOp.hasPrefix("^") ? String(restoreOp.dropFirst()) : (TFTensorRef(parsing: restoreOp)?.node ?? restoreOp)
        guard nodes[restoreName] != nil else {
            throw fail("the saver's restore op '\(restoreOp)' is not in the graph, so it is unknown which checkpoint entry each variable holds")
        }
        // Every node the restore op depends on (data and control edges).
        var seen: Set<String> = [restoreName]
        var stack = [restoreName]
        var assigns: [TFNodeDef] = []
        while let name = stack.popLast() {
            guard let node = nodes[name] else { continue }
            if node.op == "AssignVariableOp" { assigns.append(node) }
            for input in node.inputs {
                let target = input.hasPrefix("^") ? String(input.dropFirst()) : (TFTensorRef(parsing: input)?.node ?? input)
                if seen.insert(target).inserted { stack.append(target) }
            }
        }
        var keys: [String: String] = [:]
        for assign in assigns.sorted(by: { $0.name < $1.name }) {
            let data = assign.inputs.filter { !$0.hasPrefix("^") }
            guard data.count == 2 else { throw fail("AssignVariableOp node '\(assign.name)' has \(data.count) data inputs, expected 2") }
            guard let handle = source(of: data[0], in: nodes), let handleNode = nodes[handle.node], handleNode.op == "VarHandleOp" else {
                continue  // assigns something other than a graph variable (not a restore)
            }
            guard let value = source(of: data[1], in: nodes), let restore = nodes[value.node], restore.op == "RestoreV2" || restore.op == "Restore" else {
                continue
            }
            let key = try checkpointKey(restore, output: value.index, nodes: nodes, fail)
            if let previous = keys[handle.node], previous != key {
                throw fail("variable '\(handle.node)' is restored from both '\(previous)' and '\(key)'")
            }
            keys[handle.node] = key
        }
        return keys
    }

    /// The tensor_names[k] of a RestoreV2 node (its input 1, a constant string vector), checking
    /// that the matching shape_and_slices entry asks for the whole tensor.
    private static func checkpointKey(
        _ restore: TFNodeDef, output k: Int, nodes: [String: TFNodeDef], _ fail: (String) -> GraphDefImportError
    ) throws -> String {
        let data = restore.inputs.filter { !$0.hasPrefix("^") }
        guard data.count >= 2, let namesRef = source(of: data[1], in: nodes), let namesNode = nodes[namesRef.node], namesNode.op == "Const",
            case .tensor(let names)? = namesNode.attrs["value"], names.dataType == .string
        else {
            throw fail("\(restore.op) node '\(restore.name)' does not read its tensor names from a string constant")
        }
        guard k < names.stringVal.count else {
            throw fail("\(restore.op) node '\(restore.name)' output \(k) has no tensor name (it lists \(names.stringVal.count))")
        }
        if data.count >= 3, let slicesRef = source(of: data[2], in: nodes), let slicesNode = nodes[slicesRef.node],
            case .tensor(let slices)? = slicesNode.attrs["value"], k < slices.stringVal.count, !slices.stringVal[k].isEmpty
        {
            throw fail("checkpoint entry '\(String(decoding: names.stringVal[k], as: UTF8.self))' is restored as a slice (\(String(decoding: slices.stringVal[k], as: UTF8.self))), a partitioned variable, which is not supported")
        }
        return String(decoding: names.stringVal[k], as: UTF8.self)
    }

    /// Follows Identity nodes back from a tensor name to the tensor that produces it.
    package static func source(of text: String, in nodes: [String: TFNodeDef]) -> TFTensorRef? {
        guard var ref = TFTensorRef(parsing: text) else { return nil }
        for _ in 0..<10_000 {
            guard let node = nodes[ref.node] else { return ref }
            let data = node.inputs.filter { !$0.hasPrefix("^") }
            switch node.op {
            case "Identity" where ref.index == 0:
                guard let first = data.first, let next = TFTensorRef(parsing: first) else { return ref }
                ref = next
            case "IdentityN" where ref.index < data.count:
                guard let next = TFTensorRef(parsing: data[ref.index]) else { return ref }
                ref = next
            default:
                return ref
            }
        }
        return nil  // an Identity cycle
    }

    /// Replaces each ReadVariableOp of a restored variable with a Const node of its value.
    /// ReadVariableOps of variables the restore op does not set are left for the lowering to
    /// report, should an output need them.
    package static func bind(_ graph: inout TFGraphDef, keys: [String: String], bundle: TensorBundle) throws {
        let nodes = Dictionary(graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var values: [String: TFTensor] = [:]
        for i in graph.nodes.indices where graph.nodes[i].op == "ReadVariableOp" {
            let node = graph.nodes[i]
            guard let handleInput = node.inputs.first(where: { !$0.hasPrefix("^") }), let handle = source(of: handleInput, in: nodes),
                let key = keys[handle.node]
            else { continue }
            let tensor: TFTensor
            if let cached = values[key] {
                tensor = cached
            } else {
                tensor = try bundle.tensor(key)
                values[key] = tensor
            }
            if case .type(let declared)? = node.attrs["dtype"], declared != tensor.dtype {
                throw GraphDefImportError.savedModel(
                    path: bundle.indexPath,
                    message: "ReadVariableOp '\(node.name)' reads \(TFDataType.describe(raw: declared)), but checkpoint entry '\(key)' is \(TFDataType.describe(raw: tensor.dtype))")
            }
            graph.nodes[i] = TFNodeDef(
                name: node.name, op: "Const", inputs: node.inputs.filter { $0.hasPrefix("^") }, device: node.device,
                attrs: ["dtype": .type(tensor.dtype), "value": .tensor(tensor)])
        }
    }
}
