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

/// A value an expression evaluates to.
package enum RuleValue: Equatable, Sendable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case symbol(String)
    case list([RuleValue])
    case elementType(ElementType)
    /// `matched`: bound by the match (read from the model as matched), else made by the rewrite.
    case op(OpID, matched: Bool)
    case tensor(TensorHandle)

    package var integer: Int64? {
        switch self {
        case .int(let n): return n
        case .float(let d): return d.rounded() == d && abs(d) < 9e18 ? Int64(d) : nil
        default: return nil
        }
    }
    package var number: Double? {
        switch self {
        case .int(let n): return Double(n)
        case .float(let d): return d
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .bool(let b): "\(b)"
        case .int(let n): "\(n)"
        case .float(let d): "\(d)"
        case .string(let s): "\"\(s)\""
        case .symbol(let s): s
        case .list(let l): "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .elementType(let t): IRPrinter.typeText(Value(name: "", type: t, shape: []))
        case .op(let id, _): "op \(id)"
        case .tensor(let h): "\(h)"
        }
    }

    /// `==` of the rule language: numbers compare as float32 (the schema's precision) when either
    /// side is fractional, symbols case-insensitively, lists element by element.
    package func equals(_ other: RuleValue) -> Bool {
        switch (self, other) {
        case (.int(let a), .int(let b)): return a == b
        case (.int, .float), (.float, .int), (.float, .float):
            return Float(self.number!) == Float(other.number!)
        case (.symbol(let a), .symbol(let b)): return Self.canonicalSymbol(a) == Self.canonicalSymbol(b)
        case (.list(let a), .list(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        default: return self == other
        }
    }

    package static func canonicalSymbol(_ s: String) -> String { s.uppercased().replacingOccurrences(of: "-", with: "_") }
}

/// Where a tensor name points: a value of the subgraph, or a constant the rewrite made that is
/// not in the graph yet (it is added when an op first reads it).
package enum TensorHandle: Equatable, Sendable, CustomStringConvertible {
    case value(ValueID, matched: Bool)
    case pending(Int)

    package var description: String {
        switch self {
        case .value(let v, _): "tensor \(v)"
        case .pending(let i): "new constant #\(i)"
        }
    }
}

/// A failed evaluation: in a condition it means "no match", in a rewrite it stops the pass.
package struct RuleEvalError: Error {
    package var message: String
    package init(_ message: String) { self.message = message }
}

/// A constant made by a rewrite, materialized when an op reads it.
package struct PendingConstant: Sendable {
    package var tensor: ConstantTensor
    package var name: String
    package var materialized: ValueID?
}

/// The names a match bound and the rewrite added.
package struct RuleBindings: Sendable {
    package var values: [String: RuleValue] = [:]
    package var pending: [PendingConstant] = []
    /// Ops matched, to keep one op from matching two patterns.
    package var matchedOps: Set<OpID> = []

    package init(values: [String: RuleValue] = [:], pending: [PendingConstant] = [], matchedOps: Set<OpID> = []) {
        self.values = values
        self.pending = pending
        self.matchedOps = matchedOps
    }
}

/// Evaluates expressions. Names bound by the match read `snapshot` (the model as matched);
/// names the rewrite made read `current`.
package struct RuleEvaluator {
    package let snapshot: Rewriter
    package let current: Rewriter
    package let bindings: RuleBindings

    package init(snapshot: Rewriter, current: Rewriter, bindings: RuleBindings) {
        self.snapshot = snapshot
        self.current = current
        self.bindings = bindings
    }

    package func eval(_ e: RuleExpr) throws -> RuleValue {
        switch e {
        case .bool(let b): return .bool(b)
        case .int(let n): return .int(n)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .symbol(let s): return .symbol(s)
        case .name(let n):
            guard let v = bindings.values[n] else { throw RuleEvalError("'\(n)' is not bound here") }
            return v
        case .list(let items): return .list(try items.map(eval))
        case .property(let base, let p):
            switch try eval(base) {
            case .tensor(let h): return try tensorProperty(p, h)
            case .op(let id, let matched): return try opProperty(p, id, matched: matched)
            case let v: throw RuleEvalError("\(v) has no property '\(p)'")
            }
        case .index(let base, let i):
            guard case .list(let l) = try eval(base) else { throw RuleEvalError("indexing something that is not a list") }
            guard let k = try eval(i).integer else { throw RuleEvalError("index is not an int") }
            let j = k < 0 ? Int(k) + l.count : Int(k)
            guard j >= 0, j < l.count else { throw RuleEvalError("index \(k) is out of range for a list of \(l.count)") }
            return l[j]
        case .unary(let op, let a):
            let v = try eval(a)
            if op == "not" {
                guard case .bool(let b) = v else { throw RuleEvalError("'not' of \(v)") }
                return .bool(!b)
            }
            switch v {
            case .int(let n): return .int(0 &- n)
            case .float(let d): return .float(-d)
            default: throw RuleEvalError("cannot negate \(v)")
            }
        case .binary(let op, let a, let b):
            if op == "and" || op == "or" {
                guard case .bool(let x) = try eval(a) else { throw RuleEvalError("'\(op)' of something that is not a condition") }
                if op == "and" && !x { return .bool(false) }
                if op == "or" && x { return .bool(true) }
                guard case .bool(let y) = try eval(b) else { throw RuleEvalError("'\(op)' of something that is not a condition") }
                return .bool(y)
            }
            return try binary(op, try eval(a), try eval(b))
        case .call(let f, let args):
            if f == "if" {
                guard case .bool(let c) = try eval(args[0]) else { throw RuleEvalError("if(): the condition is not true/false") }
                return try eval(args[c ? 1 : 2])
            }
            return try call(f, try args.map(eval))
        }
    }

    package func condition(_ e: RuleExpr) throws -> Bool {
        guard case .bool(let b) = try eval(e) else { throw RuleEvalError("not a condition") }
        return b
    }

    package func binary(_ op: String, _ x: RuleValue, _ y: RuleValue) throws -> RuleValue {
        switch op {
        case "==": return .bool(x.equals(y))
        case "!=": return .bool(!x.equals(y))
        case "<", "<=", ">", ">=":
            guard let a = x.number, let b = y.number else { throw RuleEvalError("'\(op)' of \(x) and \(y)") }
            switch op {
            case "<": return .bool(a < b)
            case "<=": return .bool(a <= b)
            case ">": return .bool(a > b)
            default: return .bool(a >= b)
            }
        case "+":
            if case .string(let a) = x, case .string(let b) = y {
                guard a.utf8.count + b.utf8.count <= RuleRewrite.maxNameLength else {
                    throw RuleEvalError("a string longer than \(RuleRewrite.maxNameLength) bytes")
                }
                return .string(a + b)
            }
            if case .list(let a) = x, case .list(let b) = y { return .list(a + b) }
            fallthrough
        default:
            if case .int(let a) = x, case .int(let b) = y {
                switch op {
                case "+": return .int(a &+ b)
                case "-": return .int(a &- b)
                case "*": return .int(a &* b)
                case "/", "%":
                    guard b != 0 else { throw RuleEvalError("division by zero") }
                    let (q, o) = op == "/" ? a.dividedReportingOverflow(by: b) : a.remainderReportingOverflow(dividingBy: b)
                    guard !o else { throw RuleEvalError("integer overflow in \(a) \(op) \(b)") }
                    return .int(q)
                default: break
                }
            }
            guard let a = x.number, let b = y.number else { throw RuleEvalError("'\(op)' of \(x) and \(y)") }
            switch op {
            case "+": return .float(a + b)
            case "-": return .float(a - b)
            case "*": return .float(a * b)
            case "/": return .float(a / b)
            case "%": return .float(a.truncatingRemainder(dividingBy: b))
            default: throw RuleEvalError("unknown operator \(op)")
            }
        }
    }

    package func call(_ f: String, _ args: [RuleValue]) throws -> RuleValue {
        func list(_ v: RuleValue) throws -> [RuleValue] {
            guard case .list(let l) = v else { throw RuleEvalError("\(f)(): \(v) is not a list") }
            return l
        }
        func string(_ v: RuleValue) throws -> String {
            guard case .string(let s) = v else { throw RuleEvalError("\(f)(): \(v) is not a string") }
            return s
        }
        switch f {
        case "len":
            if case .string(let s) = args[0] { return .int(Int64(s.count)) }
            return .int(Int64(try list(args[0]).count))
        case "min", "max":
            let items = args.count == 1 ? try list(args[0]) : args
            guard var best = items.first else { throw RuleEvalError("\(f)() of an empty list") }
            for v in items.dropFirst() {
                guard let a = v.number, let b = best.number else { throw RuleEvalError("\(f)() of \(v)") }
                if f == "min" ? a < b : a > b { best = v }
            }
            return best
        case "abs":
            switch args[0] {
            case .int(let n):
                guard n != .min else { throw RuleEvalError("abs() overflows") }
                return .int(abs(n))
            case .float(let d): return .float(abs(d))
            default: throw RuleEvalError("abs() of \(args[0])")
            }
        case "product", "sum":
            var acc: RuleValue = .int(f == "product" ? 1 : 0)
            for v in try list(args[0]) { acc = try binary(f == "product" ? "*" : "+", acc, v) }
            return acc
        case "all": return .bool(try list(args[0]).allSatisfy { $0.equals(args[1]) })
        case "any": return .bool(try list(args[0]).contains { $0.equals(args[1]) })
        case "starts_with": return .bool(try string(args[0]).hasPrefix(try string(args[1])))
        case "ends_with": return .bool(try string(args[0]).hasSuffix(try string(args[1])))
        case "contains":
            if case .list(let l) = args[0] { return .bool(l.contains { $0.equals(args[1]) }) }
            return .bool(try string(args[0]).contains(try string(args[1])))
        case "replace": return .string(try string(args[0]).replacingOccurrences(of: try string(args[1]), with: try string(args[2])))
        case "str":
            if case .string(let s) = args[0] { return .string(s) }
            return .string(args[0].description)
        case "float":
            guard let d = args[0].number else { throw RuleEvalError("float() of \(args[0])") }
            return .float(d)
        default: throw RuleEvalError("unknown function \(f)")
        }
    }

    // MARK: Tensors and ops

    /// What a tensor property needs: its value record, and how to get data and uses.
    package struct TensorView {
        package var value: Value
        package var id: ValueID?
        package var constant: ConstantTensor?
        package var isConstant: Bool
        package var isGraphInput: Bool
        package var isGraphOutput: Bool
    }

    package func view(_ h: TensorHandle) throws -> TensorView? {
        switch h {
        case .pending(let i):
            guard i < bindings.pending.count else { throw RuleEvalError("no such constant") }
            let p = bindings.pending[i]
            if let id = p.materialized { return try view(.value(id, matched: false)) }
            return TensorView(value: Value(name: p.name, type: p.tensor.type, shape: p.tensor.shape), id: nil, constant: p.tensor, isConstant: true, isGraphInput: false, isGraphOutput: false)
        case .value(let id, let matched):
            if id.isAbsent { return nil }
            let r = matched ? snapshot : current
            guard id.index < r.graph.values.count else { throw RuleEvalError("tensor \(id) is out of range") }
            let v = r[id]
            return TensorView(value: v, id: id, constant: nil, isConstant: r.model.isConstant(v), isGraphInput: r.graph.isGraphInput(id), isGraphOutput: r.graph.isGraphOutput(id))
        }
    }

    /// Ops reading a tensor (counted only when asked: it scans the ops).
    package func uses(_ h: TensorHandle) throws -> Int {
        switch h {
        case .pending(let i):
            guard i < bindings.pending.count, let id = bindings.pending[i].materialized else { return 0 }
            return current.uses(of: id).count
        case .value(let id, let matched):
            return (matched ? snapshot : current).uses(of: id).count
        }
    }

    /// A constant's data (pending or in the model), nil for runtime tensors.
    package func constantData(_ h: TensorHandle) throws -> ConstantTensor? {
        switch h {
        case .pending(let i):
            guard i < bindings.pending.count else { return nil }
            return bindings.pending[i].tensor
        case .value(let id, let matched):
            if id.isAbsent { return nil }
            return (matched ? snapshot : current).constant(id)
        }
    }

    package func tensorProperty(_ p: String, _ h: TensorHandle) throws -> RuleValue {
        guard let t = try view(h) else {
            if p == "present" { return .bool(false) }
            throw RuleEvalError("the optional tensor is absent (check '.present' first)")
        }
        let v = t.value
        let q = v.quantization.flatMap { $0.hasScales ? $0 : nil }
        func ints<T: BinaryInteger>(_ a: [T]) -> RuleValue { .list(a.map { .int(Int64($0)) }) }
        switch p {
        case "present": return .bool(true)
        case "constant": return .bool(t.isConstant)
        case "name": return .string(v.name)
        case "dtype": return .symbol(v.dtype.name)
        case "type": return .elementType(v.type)
        case "rank": return .int(Int64(v.rank))
        case "shape": return ints(v.shape)
        case "signature": return ints(v.shapeSignature ?? v.shape)
        case "elements":
            guard let n = v.elementCount else { throw RuleEvalError("tensor \"\(v.name)\" has no static element count") }
            return .int(Int64(n))
        case "element_size": return .int(Int64(v.dtype.byteSize ?? 0))
        case "single_use": return .bool(try uses(h) == 1 && !t.isGraphOutput)
        case "uses": return .int(Int64(try uses(h)))
        case "graph_input": return .bool(t.isGraphInput)
        case "graph_output": return .bool(t.isGraphOutput)
        case "quantized": return .bool(q != nil)
        case "per_channel": return .bool(q?.isPerChannel ?? false)
        case "scale":
            guard let q, q.scales.count == 1 else { throw RuleEvalError("tensor \"\(v.name)\" has no per-tensor scale") }
            return .float(Double(q.scales[0]))
        case "zero_point":
            guard let q, let z = q.zeroPoints.first else { throw RuleEvalError("tensor \"\(v.name)\" has no zero point") }
            return .int(z)
        case "scales": return .list((q?.scales ?? []).map { .float(Double($0)) })
        case "zero_points": return ints(q?.zeroPoints ?? [])
        case "quant_axis":
            guard let q else { throw RuleEvalError("tensor \"\(v.name)\" is not quantized") }
            return .int(Int64(q.axis))
        case "channel_vector": return .bool(v.shape.dropLast().allSatisfy { $0 == 1 })
        case "values":
            guard let c = try t.constant ?? constantData(h) else { throw RuleEvalError("tensor \"\(v.name)\" is not a constant") }
            guard c.elementCount <= 1 << 20 else { throw RuleEvalError("tensor \"\(v.name)\" is too large to list its values") }
            if c.type.dtype == .float32 { return .list(c.floats.map { .float(Double($0)) }) }
            if let i = c.integers { return .list(i.map { .int($0) }) }
            throw RuleEvalError("values of a \(c.type.dtype.name) tensor cannot be read")
        default: throw RuleEvalError("unknown tensor property '\(p)'")
        }
    }

    package func opProperty(_ p: String, _ id: OpID, matched: Bool) throws -> RuleValue {
        let r = matched ? snapshot : current
        guard id.index < r.graph.ops.count else { throw RuleEvalError("op \(id) is out of range") }
        let op = r[id]
        switch p {
        case "op": return .symbol(op.builtinOperator.name)
        case "version": return .int(Int64(op.version))
        case "input_count": return .int(Int64(op.inputs.count))
        case "output_count": return .int(Int64(op.outputs.count))
        case "custom_code": return .string(op.kind.customCode ?? "")
        default:
            guard let v = RuleProperties.get(p, of: op.kind) else { throw RuleEvalError("\(op.name) has no attribute '\(p)'") }
            return v
        }
    }
}
