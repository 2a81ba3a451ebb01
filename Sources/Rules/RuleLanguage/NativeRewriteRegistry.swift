import Foundation
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

/// A value handed to a native function: what a rule's name is bound to, or an argument.
public enum NativeValue: Sendable, CustomStringConvertible {
    case op(OpID)
    case tensor(ValueID)
    /// A constant the rule made that no op reads yet (so it is not in the graph).
    case constant(ConstantTensor, name: String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case list([NativeValue])

    public var description: String {
        switch self {
        case .op(let id): "op \(id)"
        case .tensor(let v): "tensor \(v)"
        case .constant(_, let n): "constant \"\(n)\""
        case .bool(let b): "\(b)"
        case .int(let n): "\(n)"
        case .double(let d): "\(d)"
        case .string(let s): "\"\(s)\""
        case .list(let l): "[" + l.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// What a native function sees: every name the rule bound (ops and tensors) and the arguments of
/// its `call:` action, in order.
public struct NativeBindings: Sendable {
    public var names: [String: NativeValue]
    public var arguments: [NativeValue]
    /// The rule calling the function, for messages.
    public var rule: String

    public init(names: [String: NativeValue], arguments: [NativeValue], rule: String) {
        self.names = names
        self.arguments = arguments
        self.rule = rule
    }

    /// The op bound to `name`; throws when it is not an op.
    public func op(_ name: String) throws -> OpID {
        guard case .op(let id)? = names[name] else { throw NativeRewriteError("rule \(rule): '\(name)' is not a bound op") }
        return id
    }

    /// The graph tensor bound to `name` (absent for an omitted optional input).
    public func tensor(_ name: String) throws -> ValueID {
        guard case .tensor(let id)? = names[name] else { throw NativeRewriteError("rule \(rule): '\(name)' is not a bound tensor in the graph") }
        return id
    }

    /// Argument `k` as an op (`args: [conv]`).
    public func opArgument(_ k: Int) throws -> OpID {
        guard k < arguments.count, case .op(let id) = arguments[k] else { throw NativeRewriteError("rule \(rule): argument \(k + 1) is not an op") }
        return id
    }
}

/// Thrown by native functions that cannot do their rewrite; the rules pass stops with it.
public struct NativeRewriteError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}

/// Swift functions rules call by name (`- call: add_zero_bias`) for what YAML cannot say, like
/// MLIR DRR's NativeCodeCall. Register before loading rules files: loading checks that every
/// called function exists.
///
///     NativeRewriteRegistry.register("swap_inputs") { rewriter, bindings in
///         let op = try bindings.op("root")
///         rewriter[op].inputs.swapAt(0, 1)
///     }
public enum NativeRewriteRegistry {
    public typealias Function = @Sendable (inout Rewriter, NativeBindings) throws -> Void

    private static let lock = NSLock()
    nonisolated(unsafe) private static var functions: [String: (function: Function, summary: String)] = builtins

    /// Registers (or replaces) a function.
    public static func register(_ name: String, summary: String = "", _ function: @escaping Function) {
        lock.lock()
        defer { lock.unlock() }
        functions[name] = (function, summary)
    }

    public static func function(_ name: String) -> Function? {
        lock.lock()
        defer { lock.unlock() }
        return functions[name]?.function
    }

    public static var names: [String] {
        lock.lock()
        defer { lock.unlock() }
        return functions.keys.sorted()
    }

    public static func summary(_ name: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return functions[name]?.summary
    }

    /// Functions the library ships.
    package static let builtins: [String: (function: Function, summary: String)] = [
        "add_zero_bias": ({ r, b in
            let id = try b.arguments.isEmpty ? b.op("root") : b.opArgument(0)
            try addZeroBias(&r, id)
        }, "give a CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED without bias a zero bias (int32 with scale input×filter per channel, or float zeros), as conv-to-depthwise does; args: [op] (default: root)"),
    ]

    /// The zero bias `conv-to-depthwise` adds (`zeroBias`, `Rewriter.addZeroBias`): TFLM's
    /// depthwise kernel crashes without a bias and LiteRT's CONV_2D refuses a missing one.
    package static func addZeroBias(_ r: inout Rewriter, _ id: OpID) throws {
        guard id.index < r.graph.ops.count else { throw NativeRewriteError("add_zero_bias: no op \(id)") }
        if r[id].input(2) != nil { return }
        guard let w = r[id].input(1), let filter = r.constant(w), let x = r.operand(id, 0), let y = r.result(id), let channels = y.shape.last else {
            throw NativeRewriteError("add_zero_bias: \(r[id].label(id)) needs an input, a constant filter and an output")
        }
        guard let bias = zeroBias(input: x, filter: filter, channels: channels) else {
            throw NativeRewriteError("add_zero_bias: no zero bias fits \(r[id].label(id)) (\(x.dtype.name) input; a quantized input needs a per-tensor scale and a quantized filter)")
        }
        r.addZeroBias(to: id, bias)
    }
}
