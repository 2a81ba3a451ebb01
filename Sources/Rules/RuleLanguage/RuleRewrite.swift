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

/// A rewrite that could not be carried out; the rules pass reports it with the rule and line.
package struct RuleRewriteError: Error {
    package var location: SourceLocation
    package var message: String
}

/// Runs a rule's actions on a match, in order. Expressions read names bound by the match from
/// the model as it was matched (`snapshot`), and names the rewrite made from the model as it is.
package struct RuleRewrite {
    package let rule: RuleDefinition
    /// Longest tensor name a rule may make: far above real names (TF's fused names run to a few
    /// hundred bytes), far below what a template doubling the name on each application reaches.
    package static let maxNameLength = 1 << 16

    package func apply(_ r: inout Rewriter, _ matched: RuleBindings, root: OpID) throws {
        let snapshot = r
        var b = matched
        var versions: [(OpID, VersionSpec)] = []
        for action in rule.actions {
            do {
                if let w = action.when {
                    guard try RuleEvaluator(snapshot: snapshot, current: r, bindings: b).condition(w.expr) else { continue }
                }
                try run(action, &r, &b, snapshot: snapshot, root: root, versions: &versions)
            } catch let e as RuleEvalError {
                throw RuleRewriteError(location: action.location, message: "\(action.verb): \(e.message)")
            } catch let e as NativeRewriteError {
                throw RuleRewriteError(location: action.location, message: e.description)
            }
        }
        // An erased op's outputs must be written by another op now, or read by nobody.
        for case .erase(let names) in rule.actions.map(\.kind) {
            for n in names {
                guard case .op(let id, _)? = b.values[n], id.index < snapshot.graph.ops.count else { continue }
                for v in snapshot[id].outputs where !v.isAbsent && r.producer(of: v) == nil {
                    if let reader = r.uses(of: v).first {
                        throw RuleRewriteError(location: rule.location, message: "erase \(n): tensor \"\(r[v].name)\" is still read by \(r[reader.op].label(reader.op)) and nothing writes it; insert an op that writes it or use replace_uses")
                    }
                    if r.graph.isGraphOutput(v) {
                        throw RuleRewriteError(location: rule.location, message: "erase \(n): graph output \"\(r[v].name)\" is no longer written; insert an op that writes it")
                    }
                }
            }
        }
        for (id, spec) in versions {
            switch spec {
            case .minimum:
                if let m = OpVersions.minimum(r[id], in: r.graph, model: r.model) { r[id].version = m.version }
            case .keep, .fixed: break
            }
        }
    }

    private func run(_ action: RuleAction, _ r: inout Rewriter, _ b: inout RuleBindings, snapshot: Rewriter, root: OpID, versions: inout [(OpID, VersionSpec)]) throws {
        func evaluator() -> RuleEvaluator { RuleEvaluator(snapshot: snapshot, current: r, bindings: b) }
        func eval(_ e: LocatedExpr) throws -> RuleValue { try evaluator().eval(e.expr) }
        func int(_ e: LocatedExpr) throws -> Int64 {
            guard let n = try eval(e).integer else { throw RuleEvalError("'\(e.text)' is not an int") }
            return n
        }
        func ints(_ e: LocatedExpr) throws -> [Int64] {
            guard case .list(let l) = try eval(e) else { throw RuleEvalError("'\(e.text)' is not a list") }
            return try l.map {
                guard let n = $0.integer else { throw RuleEvalError("'\(e.text)' holds \($0), not an int") }
                return n
            }
        }
        func numbers(_ e: LocatedExpr) throws -> [Double] {
            switch try eval(e) {
            case .list(let l):
                return try l.map {
                    guard let d = $0.number else { throw RuleEvalError("'\(e.text)' holds \($0), not a number") }
                    return d
                }
            case let v:
                guard let d = v.number else { throw RuleEvalError("'\(e.text)' is not a number") }
                return [d]
            }
        }
        func op(_ name: String) throws -> OpID {
            guard case .op(let id, _)? = b.values[name], id.index < r.graph.ops.count else { throw RuleEvalError("'\(name)' is not an op here") }
            return id
        }
        /// The graph value for a tensor name, adding a pending constant to the graph first.
        func tensor(_ name: String) throws -> ValueID {
            switch b.values[name] {
            case .tensor(.value(let id, _))?: return id
            case .tensor(.pending(let i))?:
                if let id = b.pending[i].materialized { return id }
                let id = r.addConstant(b.pending[i].tensor, name: b.pending[i].name)
                b.pending[i].materialized = id
                return id
            default: throw RuleEvalError("'\(name)' is not a tensor here")
            }
        }
        func constantData(_ name: String) throws -> (ConstantTensor, String) {
            guard case .tensor(let h)? = b.values[name] else { throw RuleEvalError("'\(name)' is not a tensor here") }
            let ev = evaluator()
            guard let t = try ev.constantData(h) else { throw RuleEvalError("tensor '\(name)' is not a constant") }
            let n = try ev.view(h)?.value.name ?? name
            return (t, n)
        }
        func render(_ t: NameTemplate) throws -> String {
            var s = ""
            for part in t.parts {
                switch part {
                case .text(let x): s += x
                case .expr(let e):
                    switch try evaluator().eval(e) {
                    case .string(let x): s += x
                    case let v: s += v.description
                    }
                }
                guard s.utf8.count <= RuleRewrite.maxNameLength else {
                    throw RuleEvalError("the name template \"\(RuleExprParser.excerpt(t.text))\" gives a name longer than \(RuleRewrite.maxNameLength) bytes (does it repeat a name on every application?)")
                }
            }
            return s
        }
        func kind(_ op: BuiltinOperator, customCode: String?, from old: OpKind?, _ attributes: [AttributeSetting]) throws -> OpKind {
            var k = RuleProperties.defaultKind(op, customCode: customCode)
            if let old {
                // Attributes the old and new kinds share (padding, strides, activation, …) carry over.
                for a in RuleProperties.attributes(of: op) where a.settable {
                    if let v = RuleProperties.get(a.name, of: old) { try RuleProperties.set(a.name, v, on: &k) }
                }
            }
            for a in attributes { try RuleProperties.set(a.name, try eval(a.value), on: &k) }
            return k
        }

        switch action.kind {
        case .set(let targets):
            for t in targets {
                if t.isOp {
                    let id = try op(t.name)
                    guard case .expr(let e) = t.value else { continue }
                    let v = try eval(e)
                    if t.field == "version" {
                        guard let n = v.integer, let v32 = Int32(exactly: n), v32 >= 1 else { throw RuleEvalError("version must be a positive int, got \(v)") }
                        r[id].version = v32
                    } else {
                        try RuleProperties.set(t.field, v, on: &r[id].kind)
                    }
                    continue
                }
                let newValue: RuleValue
                switch t.value {
                case .template(let tpl): newValue = .string(try render(tpl))
                case .expr(let e): newValue = try eval(e)
                }
                switch b.values[t.name] {
                case .tensor(.pending(let i))? where b.pending[i].materialized == nil:
                    if t.field == "name" {
                        if case .string(let s) = newValue { b.pending[i].name = s }
                    } else if t.field == "shape" || t.field == "dtype" {
                        throw RuleEvalError("set \(t.name).\(t.field): a constant's shape and dtype come from its data")
                    } else {
                        try Self.setQuantization(t.field, newValue, on: &b.pending[i].tensor.type)
                    }
                default:
                    let id = try tensor(t.name)
                    guard !id.isAbsent else { throw RuleEvalError("'\(t.name)' is an absent optional input") }
                    try Self.setField(t.field, newValue, on: &r[id], isConstant: r.isConstant(id))
                }
            }
        case .convert(let name, let to, let customCode, let attributes, let version):
            let id = try op(name)
            r[id].kind = try kind(to, customCode: customCode, from: r[id].kind, attributes)
            r[id].options2 = nil
            switch version {
            case .keep: break
            case .minimum: versions.append((id, .minimum))
            case .fixed(let e): r[id].version = try Self.version(try int(e))
            }
        case .insert(let bind, let opKind, let customCode, let inputs, let outputs, let attributes, let version):
            let ins = try inputs.map { try $0.map(tensor) ?? .absent }
            let outs = try outputs.map { name -> ValueID in
                guard case .tensor(.value(let id, _))? = b.values[name], !id.isAbsent else { throw RuleEvalError("an op cannot write '\(name)'") }
                return id
            }
            var k = try kind(opKind, customCode: customCode, from: nil, attributes)
            if case .pack(let n, let axis) = k, n == 0 { k = .pack(valuesCount: Int32(ins.count), axis: axis) }
            let provenance = root.index < snapshot.graph.ops.count ? snapshot[root].provenance : []
            let id = r.addOp(Op(kind: k, version: 1, inputs: ins, outputs: outs, provenance: provenance))
            switch version {
            case .keep, .minimum: versions.append((id, .minimum))
            case .fixed(let e): r[id].version = try Self.version(try int(e))
            }
            if let bind { b.values[bind] = .op(id, matched: false) }
        case .erase(let names):
            for n in names { r.erase(try op(n)) }
        case .fuse(let consumer, let producer):
            let c = try op(consumer), p = try op(producer)
            ImportPassSupport.absorb(&r, consumer: c, into: p)
        case .replaceUses(let of, let with):
            let old = try tensor(of), new = try tensor(with)
            r.replaceAllUses(of: old, with: new)
        case .setInput(let name, let indexExpr, let tensorName, let inPlace):
            let id = try op(name)
            let k64 = try int(indexExpr)
            guard k64 >= 0, k64 < 1024 else { throw RuleEvalError("input index \(k64) is out of range") }
            let k = Int(k64)
            if inPlace, let tn = tensorName, case .tensor(.pending(let i))? = b.values[tn], b.pending[i].materialized == nil,
                let old = r[id].input(k), old.index < r.graph.values.count, r.isConstant(old),
                r.uses(of: old).count == 1, !r.graph.isGraphOutput(old), !r.graph.isGraphInput(old)
            {
                // Only this op reads the old constant: give it the new data (fresh buffer, same tensor).
                r.setConstant(old, b.pending[i].tensor)
                b.pending[i].materialized = old
                return
            }
            let v = try tensorName.map(tensor) ?? .absent
            while r[id].inputs.count <= k { r[id].inputs.append(.absent) }
            r[id].inputs[k] = v
        case .constant(let bind, let source, let transform, let nameTemplate, let quantization):
            var data: ConstantTensor
            var name: String
            switch source {
            case .from(let n): (data, name) = try constantData(n)
            case .fill(let v, let dtype, let shape):
                let s = try ints(shape)
                let count = ConstantTransforms.int32s(s).flatMap { Value.elementCount($0) } ?? -1
                guard count >= 0 else { throw RuleEvalError("fill: shape \(s) is not a list of sizes") }
                guard count <= ConstantTransforms.maximumElements else { throw RuleEvalError("fill: \(count) elements is more than a rule may make (\(ConstantTransforms.maximumElements))") }
                data = try ConstantTransforms.make(dtype, shape: s, values: Array(repeating: try numbers(v)[0], count: count))
                name = ""
            case .values(let v, let dtype, let shape):
                let values = try numbers(v)
                data = try ConstantTransforms.make(dtype, shape: try shape.map(ints) ?? [Int64(values.count)], values: values)
                name = ""
            }
            switch transform {
            case nil: break
            case .transpose(let e): data = try ConstantTransforms.transpose(data, try ints(e).map { Int($0) })
            case .reshape(let e): data = try ConstantTransforms.reshape(data, try ints(e))
            case .slice(let axis, let start, let end): data = try ConstantTransforms.slice(data, axis: try int(axis), start: try int(start), end: try int(end))
            case .arithmetic(let op, let by, let axis):
                let operand: [Float]
                switch by {
                case .tensor(let n): operand = try ConstantTransforms.floats(try constantData(n).0, what: op)
                case .scalar(let e): operand = try numbers(e).map(Float.init)
                }
                data = try ConstantTransforms.arithmetic(op, data, operand, axis: try axis.map(int))
            }
            if let nameTemplate { name = try render(nameTemplate) }
            for q in quantization { try Self.setQuantization(q.field, try eval(q.value), on: &data.type) }
            b.pending.append(PendingConstant(tensor: data, name: name, materialized: nil))
            b.values[bind] = .tensor(.pending(b.pending.count - 1))
        case .tensor(let bind, let like, let dtype, let shape, let nameTemplate, let quantization):
            var v = Value(name: "", type: ElementType(dtype ?? .float32), shape: [])
            if let like {
                guard case .tensor(let h)? = b.values[like], let view = try evaluator().view(h) else { throw RuleEvalError("'\(like)' is absent") }
                v = view.value
                v.buffer = .none
                v.isVariable = false
            }
            if let dtype { v.type.dtype = dtype }
            if let shape {
                guard let s = ConstantTransforms.int32s(try ints(shape)), s.allSatisfy({ $0 >= -1 }) else { throw RuleEvalError("tensor.shape is not a list of sizes") }
                v.shape = s.map { max($0, 1) }
                v.shapeSignature = s.contains(-1) ? s : (v.shapeSignature == nil ? nil : s)
            }
            v.name = try nameTemplate.map(render) ?? (v.name.isEmpty ? bind : "\(v.name)/\(bind)")
            for q in quantization { try Self.setQuantization(q.field, try eval(q.value), on: &v.type) }
            b.values[bind] = .tensor(.value(r.addValue(v), matched: false))
        case .call(let function, let arguments):
            guard let f = NativeRewriteRegistry.function(function) else { throw RuleEvalError("native function '\(function)' is not registered") }
            var names: [String: NativeValue] = [:]
            for (n, v) in b.values { names[n] = try native(v, b) }
            let args = try arguments.map { try native(try eval($0), b) }
            try f(&r, NativeBindings(names: names, arguments: args, rule: rule.name))
        }
    }

    private func native(_ v: RuleValue, _ b: RuleBindings) throws -> NativeValue {
        switch v {
        case .bool(let x): return .bool(x)
        case .int(let x): return .int(x)
        case .float(let x): return .double(x)
        case .string(let x), .symbol(let x): return .string(x)
        case .list(let l): return .list(try l.map { try native($0, b) })
        case .elementType(let t): return .string(t.description)
        case .op(let id, _): return .op(id)
        case .tensor(.value(let id, _)): return .tensor(id)
        case .tensor(.pending(let i)):
            let p = b.pending[i]
            if let id = p.materialized { return .tensor(id) }
            return .constant(p.tensor, name: p.name)
        }
    }

    package static func version(_ n: Int64) throws -> Int32 {
        guard let v = Int32(exactly: n), v >= 1 else { throw RuleEvalError("version must be a positive int, got \(n)") }
        return v
    }

    /// Writes one tensor field of `set:` to a graph value.
    package static func setField(_ field: String, _ value: RuleValue, on v: inout Value, isConstant: Bool) throws {
        switch field {
        case "name":
            guard case .string(let s) = value else { throw RuleEvalError("name must be a string") }
            v.name = s
        case "shape":
            guard !isConstant else { throw RuleEvalError("a constant's shape comes from its data (make a new constant with reshape)") }
            guard case .list(let l) = value, let s = ConstantTransforms.int32s(l.compactMap(\.integer)), s.count == l.count, s.allSatisfy({ $0 >= 0 }) else {
                throw RuleEvalError("shape must be a list of sizes, got \(value)")
            }
            v.shape = s
            if v.shapeSignature != nil { v.shapeSignature = s }
        case "dtype":
            guard !isConstant else { throw RuleEvalError("a constant's dtype comes from its data") }
            guard case .symbol(let s) = value, let t = DType(name: s) else { throw RuleEvalError("dtype must be a tensor type, got \(value)") }
            v.type.dtype = t
        default:
            try setQuantization(field, value, on: &v.type)
        }
    }

    /// scale, zero_point, scales, zero_points, quant_axis, quantized (false drops it).
    package static func setQuantization(_ field: String, _ value: RuleValue, on type: inout ElementType) throws {
        var q = type.quantization ?? Quantization(scales: [], zeroPoints: [])
        func floats() throws -> [Float] {
            guard case .list(let l) = value else { throw RuleEvalError("\(field) must be a list of numbers") }
            return try l.map {
                guard let d = $0.number, d.isFinite, d > 0 else { throw RuleEvalError("\(field): \($0) is not a positive scale") }
                return Float(d)
            }
        }
        func int64s() throws -> [Int64] {
            guard case .list(let l) = value else { throw RuleEvalError("\(field) must be a list of ints") }
            return try l.map {
                guard let n = $0.integer else { throw RuleEvalError("\(field): \($0) is not an int") }
                return n
            }
        }
        switch field {
        case "scale":
            guard let d = value.number, d.isFinite, d > 0 else { throw RuleEvalError("scale must be a positive number, got \(value)") }
            q.scales = [Float(d)]
            if q.zeroPoints.count != 1 { q.zeroPoints = [q.zeroPoints.first ?? 0] }
        case "zero_point":
            guard let n = value.integer else { throw RuleEvalError("zero_point must be an int, got \(value)") }
            q.zeroPoints = [n]
        case "scales": q.scales = try floats()
        case "zero_points": q.zeroPoints = try int64s()
        case "quant_axis":
            guard let n = value.integer, let a = Int32(exactly: n), a >= 0 else { throw RuleEvalError("quant_axis must be an int ≥ 0, got \(value)") }
            q.axis = a
        case "quantized":
            guard case .bool(let keep) = value else { throw RuleEvalError("quantized must be true or false") }
            if !keep { type.quantization = nil }
            return
        default:
            throw RuleEvalError("unknown tensor field '\(field)'")
        }
        type.quantization = q
    }
}
