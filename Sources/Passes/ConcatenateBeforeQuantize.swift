import IR
import Ops
import Rewrite

/// Quantizes once after a CONCATENATION whose inputs are all QUANTIZEs of float tensors to the
/// same parameters: concatenate the floats, then quantize. QUANTIZE maps each element on its
/// own (TFLM quantize.cc: round(x / scale) + zero point, clamped), so every element becomes the
/// same integer, and CONCATENATION only copies. TFLM then holds one QUANTIZE (node, op data)
/// and one tensor per extra input less (Docs/memory.md). A streaming model with float inputs
/// quantizes its state and its new frame separately before joining them.
///
/// Given:
///
///     #0 QUANTIZE (%state: f32[1,2,8]) -> %qs: i8[1,2,8] q(0.0039, -128)
///     #1 QUANTIZE (%frame: f32[1,1,8]) -> %qf: i8[1,1,8] q(0.0039, -128)
///     #2 CONCATENATION {axis=1} (%qs, %qf) -> %y: i8[1,3,8] q(0.0039, -128)
///
/// Result:
///
///     #2 CONCATENATION {axis=1} (%state, %frame) -> %yf: f32[1,3,8]
///     #3 QUANTIZE (%yf) -> %y: i8[1,3,8] q(0.0039, -128)
///
/// Matches a CONCATENATION without activation whose inputs are at least two QUANTIZEs of
/// float32 tensors, each read by nothing else, all with the CONCATENATION's own per-tensor
/// parameters and element type.
public struct ConcatenateBeforeQuantize: PatternPass {
    public static let name = "concatenate-before-quantize"
    public static let summary = "CONCATENATION of QUANTIZEs with equal parameters → QUANTIZE of the float CONCATENATION; outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.concatenation]) { r, id in
        let concat = r[id]
        guard case .concatenation(let axis, .none) = concat.kind, concat.inputs.count >= 2, concat.outputs.count == 1,
            let y = concat.outputs.first, let q = r[y].quantization, q.scales.count == 1
        else { return false }
        var floats: [ValueID] = []
        var quantizes: [OpID] = []
        for part in concat.inputs {
            guard !part.isAbsent, let producer = r.producer(of: part), case .quantize = r[producer].kind, r.hasSingleUse(part),
                r[part].type == r[y].type, let x = r[producer].input(0), r[x].dtype == .float32
            else { return false }
            floats.append(x)
            quantizes.append(producer)
        }
        let yf = r.addValue(Value(name: "\(r[y].name)/float", type: ElementType(.float32), shape: r[y].shape, provenance: r[y].provenance))
        var floatConcat = concat
        floatConcat.inputs = floats
        floatConcat.outputs = [yf]
        floatConcat.kind = .concatenation(axis: axis, activation: .none)
        floatConcat.version = OpVersions.minimum(floatConcat, in: r.graph, model: r.model)?.version ?? 1
        var quantize = r[quantizes[0]]
        quantize.inputs = [yf]
        quantize.outputs = [y]
        for op in quantizes { r.erase(op) }
        r.erase(id)
        r.addOp(floatConcat)
        r.addOp(quantize)
        return true
    }
}
