import FlatBuffers
import IR
import Kernels
import Support

/// The lowest OperatorCode.version an op needs, from its actual tensor types and options.
///
/// The rules restate TFLite's `op_version.cc`: for each op a list of conditions
/// checked in order, the first that holds giving the version. The converter only ever raises
/// versions; tfrewrite recomputes the minimum so runtimes that match versions exactly (old
/// TFLM, tflite-micro's micro_op_resolver.cc) accept the model.
public struct MinimumVersion: Hashable, Sendable, CustomStringConvertible {
    public var version: Int32
    /// Why this version, e.g. "int8 input, weights and output".
    public var reason: String
    public init(_ version: Int32, _ reason: String) {
        self.version = version
        self.reason = reason
    }
    public var description: String { "v\(version) (\(reason))" }
}

public enum OpVersions {
    /// The minimum version of `op`, nil for custom ops and builtins tfrewrite has no rule for
    /// (those keep the version they have). Each operator's rule is in its `OperatorDefinition`.
    public static func minimum(_ op: Op, in graph: Graph, model: Model) -> MinimumVersion? {
        OperatorTable[op.builtinOperator]?.version?(Signature(op: op, graph: graph, model: model))
    }

    /// The rule many ops share: v3 for int16 input, v2 for int8.
    package static func int8OrInt16Input(_ s: Signature) -> MinimumVersion {
        s.first([
            (s.input(0) == .int16, 3, "int16 input"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }

    /// v3 when input and output are int16, v2 for int8 input.
    package static func int8OrInt16InputAndOutput(_ s: Signature) -> MinimumVersion {
        s.first([
            (s.input(0) == .int16 && s.output(0) == .int16, 3, "int16 input and output"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }

    /// What the rules look at: the op's tensors (an absent optional input has no type).
    package struct Signature {
        package let op: Op
        package let graph: Graph
        package let model: Model

        package func value(_ i: Int) -> Value? {
            guard i < op.inputs.count, !op.inputs[i].isAbsent, op.inputs[i].index < graph.values.count else { return nil }
            return graph[op.inputs[i]]
        }
        package func outputValue(_ i: Int) -> Value? {
            guard i < op.outputs.count, !op.outputs[i].isAbsent, op.outputs[i].index < graph.values.count else { return nil }
            return graph[op.outputs[i]]
        }
        package func input(_ i: Int) -> DType? { value(i)?.dtype }
        package func output(_ i: Int) -> DType? { outputValue(i)?.dtype }
        package func rank(_ i: Int) -> Int { value(i)?.rank ?? 0 }
        package func shape(_ i: Int) -> [Int32] { value(i)?.shape ?? [] }
        package func dim(_ i: Int, _ d: Int) -> Int32 { d < shape(i).count ? shape(i)[d] : -1 }
        package func scaleCount(_ i: Int) -> Int { value(i)?.quantization?.scales.count ?? 0 }
        package func name(_ t: DType?) -> String { t?.name.lowercased() ?? "no" }

        package var perChannelInput: Bool { scaleCount(0) > 1 }
        package var perChannelOutput: Bool {
            guard let v = outputValue(0), let q = v.quantization, q.scales.count > 1 else { return false }
            return q.axis >= 0 && Int(q.axis) < v.rank && Int(v.shape[Int(q.axis)]) == q.scales.count
        }
        /// op_version.cc's NeedBroadcastForBinaryInputs && GetInputMaxDims > 4.
        package var broadcastsAbove4D: Bool {
            guard let a = value(0), let b = value(1) else { return false }
            let maxRank = op.inputs.indices.map { rank($0) }.max() ?? 0
            return a.shape != b.shape && maxRank > 4
        }

        /// A bool field of an opaque options table (false when absent or out of range).
        package func opaqueBool(field: Int) -> Bool {
            guard case .builtin(_, let options?) = op.kind, field >= 0, field < options.vtable.count else { return false }
            let offset = Int(options.vtable[field])
            // vtable offsets count from the table start; the inline bytes follow its 4-byte soffset.
            guard offset >= 4, offset - 4 < options.inline.count else { return false }
            return options.inline[offset - 4] != 0
        }

        /// The first rule that holds, else version 1.
        package func first(_ rules: [(Bool, Int32, String)]) -> MinimumVersion {
            for (holds, v, why) in rules where holds { return MinimumVersion(v, why) }
            let types = op.inputs.indices.compactMap { input($0) }.map { $0.name.lowercased() }
            let summary = types.isEmpty ? "no typed inputs" : Array(Set(types)).sorted().joined(separator: "/") + " inputs"
            return MinimumVersion(1, "\(summary): no rule needs more than v1")
        }
    }
}
