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

/// What rules can read and write: tensor properties, op properties, and the typed attributes of
/// the ops the IR models, by their schema option names (schema.fbs).
package enum RuleProperties {
    /// Tensor properties and their types.
    package static let tensor: [String: RuleType] = [
        "present": .bool,  // false for an omitted optional input (`b?`)
        "constant": .bool,  // has data in a buffer
        "name": .string,
        "dtype": .enumeration(.dtype),
        "type": .elementType,  // dtype + quantization, for `a.type == b.type`
        "rank": .int,
        "shape": .list(.int),
        "signature": .list(.int),  // shape_signature (−1 = dynamic), the shape when the file has none
        "elements": .int,
        "element_size": .int,  // bytes per element, 0 for strings and sub-byte types
        "single_use": .bool,  // exactly one op reads it and it is not a graph output
        "uses": .int,  // ops reading it
        "graph_input": .bool,
        "graph_output": .bool,
        "quantized": .bool,
        "per_channel": .bool,
        "scale": .float,  // per-tensor scale
        "zero_point": .int,
        "scales": .list(.float),
        "zero_points": .list(.int),
        "quant_axis": .int,
        "values": .list(.unknown),  // a constant's elements
        "channel_vector": .bool,  // shape [], [n] or [1,…,1,n]: varies only along its last axis
    ]

    /// Properties every op has.
    package static let op: [String: RuleType] = [
        "op": .enumeration(.opKind),
        "version": .int,
        "input_count": .int,
        "output_count": .int,
        "custom_code": .string,
    ]

    /// Tensor fields `set:` may write.
    package static let settableTensorFields: [String: RuleType] = [
        "name": .string, "scale": .float, "zero_point": .int, "scales": .list(.float), "zero_points": .list(.int),
        "quant_axis": .int, "quantized": .bool, "shape": .list(.int), "dtype": .enumeration(.dtype),
    ]

    package static let functions = ["abs", "all", "any", "contains", "ends_with", "float", "if", "len", "max", "min", "product", "replace", "starts_with", "str", "sum"]

    /// An attribute name as rules see it: its type, the ops that have it (in `OperatorTable.all`
    /// order), and whether rules may write it. Each operator declares its attributes in the table.
    package struct Attribute: Sendable {
        package var name: String
        package var type: RuleType
        package var kinds: [BuiltinOperator]
        /// False for attributes read from options the IR keeps opaquely.
        package var settable: Bool = true
    }

    /// Every attribute of the operator table, by first declaration. An attribute name has one
    /// type and settability on every op that declares it (`OperatorTableTests` checks).
    package static let attributes: [Attribute] = {
        var list: [Attribute] = []
        var index: [String: Int] = [:]
        for def in OperatorTable.all {
            for a in def.attributes {
                if let i = index[a.name] {
                    list[i].kinds.append(def.op)
                } else {
                    index[a.name] = list.count
                    list.append(Attribute(name: a.name, type: ruleType(a.type), kinds: [def.op], settable: a.settable))
                }
            }
        }
        return list
    }()

    private static let attributesByName: [String: Attribute] = Dictionary(attributes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    /// The op's attributes in the order its definition declares them.
    package static func attributes(of op: BuiltinOperator) -> [Attribute] {
        (OperatorTable[op]?.attributes ?? []).compactMap { attributesByName[$0.name] }
    }

    package static func attributeNames(of op: BuiltinOperator) -> String {
        let names = attributes(of: op).map(\.name)
        return names.isEmpty ? "it has none" : "attributes: " + names.joined(separator: ", ")
    }

    /// The type of attribute `name` on an op that may be any of `kinds` (nil: any op). It must
    /// exist on at least one of them; on the others reading it makes the condition false.
    package static func attributeType(_ name: String, kinds: [BuiltinOperator]?, opName: String) throws -> RuleType {
        guard let a = attributes.first(where: { $0.name == name }) else {
            var m = "ops have no property or attribute '\(name)'"
            let all = Array(op.keys) + attributes.map(\.name)
            if let c = RulesFile.closest(name, in: all) { m += "; did you mean '\(c)'?" }
            throw RuleExprError(m + " (op properties: \(op.keys.sorted().joined(separator: ", ")); attributes depend on the op)")
        }
        if let kinds, !kinds.contains(where: { a.kinds.contains($0) }) {
            let k = kinds.map(\.name).joined(separator: "/")
            throw RuleExprError("\(k) has no attribute '\(name)' (\(kinds.count == 1 ? attributeNames(of: kinds[0]) : "it belongs to " + a.kinds.map(\.name).joined(separator: ", ")))")
        }
        return a.type
    }

    // MARK: Reading and writing attributes

    /// The declaration of attribute `name` on the op of `kind`.
    private static func declaration(_ name: String, of kind: OpKind) -> OperatorAttribute? {
        OperatorTable[kind.builtinOperator]?.attributes.first { $0.name == name }
    }

    /// The attribute's value on an op kind, nil when the kind has no such attribute.
    package static func get(_ name: String, of kind: OpKind) -> RuleValue? {
        declaration(name, of: kind)?.read(kind).map(ruleValue)
    }

    /// Sets an attribute; throws when the kind has no such attribute or the value does not fit.
    package static func set(_ name: String, _ value: RuleValue, on kind: inout OpKind) throws {
        guard let a = declaration(name, of: kind), let write = a.write, a.read(kind) != nil else {
            // Setting fused_activation on an op that has none leaves the op as it is.
            if name == OperatorAttribute.fusedActivation.name { return }
            throw RuleEvalError("\(kind.name) has no settable attribute '\(name)'")
        }
        guard let k = write(kind, try attributeValue(value, as: a.type, name: name)) else {
            throw RuleEvalError("\(kind.name) has no settable attribute '\(name)'")
        }
        kind = k
    }

    /// A new op kind with default attributes (those a converter writes for the plain op).
    package static func defaultKind(_ op: BuiltinOperator, customCode: String? = nil) -> OpKind {
        if op == .custom { return .custom(code: customCode ?? "") }
        return OperatorTable[op]?.options?.defaultKind ?? .builtin(op, options: nil)
    }

    // MARK: The table's attribute types in the rule language

    package static func ruleType(_ type: AttributeType) -> RuleType {
        switch type {
        case .int32, .int8: .int
        case .bool: .bool
        case .float32: .float
        case .padding: .enumeration(.padding)
        case .activation: .enumeration(.activation)
        case .dtype: .enumeration(.dtype)
        case .int32List: .list(.int)
        }
    }

    package static func ruleValue(_ value: AttributeValue) -> RuleValue {
        switch value {
        case .int32(let v): .int(Int64(v))
        case .int8(let v): .int(Int64(v))
        case .bool(let b): .bool(b)
        case .float32(let f): .float(Double(f))
        case .padding(let p): .symbol(p.description)
        case .activation(let a): .symbol(a.description)
        case .dtype(let t): .symbol(t.name)
        case .int32List(let l): .list(l.map { .int(Int64($0)) })
        }
    }

    /// `value` as an attribute value of `type`; throws when it does not fit the options field.
    package static func attributeValue(_ value: RuleValue, as type: AttributeType, name: String) throws -> AttributeValue {
        switch type {
        case .int32:
            guard let n = value.integer, let v = Int32(exactly: n) else { throw RuleEvalError("\(name): expected a 32-bit int, got \(value)") }
            return .int32(v)
        case .int8:
            guard let n = value.integer, let v = Int8(exactly: n) else { throw RuleEvalError("\(name): expected an int in -128...127, got \(value)") }
            return .int8(v)
        case .bool:
            guard case .bool(let b) = value else { throw RuleEvalError("\(name): expected true or false, got \(value)") }
            return .bool(b)
        case .float32:
            guard let d = value.number else { throw RuleEvalError("\(name): expected a number, got \(value)") }
            return .float32(Float(d))
        case .padding:
            guard case .symbol(let s) = value, let p = RuleEnum.padding.canonical(s) else { throw RuleEvalError("\(name): expected SAME or VALID, got \(value)") }
            return .padding(p == "SAME" ? .same : .valid)
        case .activation:
            guard case .symbol(let s) = value, let a = ActivationFunction(name: s) else {
                throw RuleEvalError("\(name): expected an activation (\(RuleEnum.activation.examples)), got \(value)")
            }
            return .activation(a)
        case .dtype:
            guard case .symbol(let s) = value, let t = DType(name: s) else { throw RuleEvalError("\(name): expected a dtype, got \(value)") }
            return .dtype(t)
        case .int32List:
            guard case .list(let l) = value else { throw RuleEvalError("\(name): expected a list of ints, got \(value)") }
            return .int32List(try l.map {
                guard let n = $0.integer, let v = Int32(exactly: n) else { throw RuleEvalError("\(name): expected 32-bit ints, got \($0)") }
                return v
            })
        }
    }
}
