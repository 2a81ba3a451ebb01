import IR

/// What an operator's shape function (`OperatorDefinition.shape`) sees: the op with its typed
/// options, the static shapes of its inputs and its integer constant inputs. A shape function
/// returns the output shapes the TFLite kernel's Prepare would compute, or nil when it cannot
/// tell (a dynamic or absent input, a constant it needs is not one, the kernel would reject the
/// op, or the arithmetic overflows). It never traps on a hostile file.
package struct ShapeInference {
    /// The op, its input values and its integer constant inputs.
    package let operands: ShapeOperands

    package init(_ operands: ShapeOperands) { self.operands = operands }

    package var op: Op { operands.op }

    /// Input `k`'s shape; nil when absent, dynamic (−1 in its shape signature) or of unknown
    /// rank (an empty shape with schema.fbs `has_rank` false).
    package func shape(_ k: Int) -> [Int32]? {
        guard let x = operands.value(k), ShapeInference.isStatic(x) else { return nil }
        return x.shape
    }

    package static func isStatic(_ v: Value) -> Bool { !v.isDynamic && (v.hasRank || !v.shape.isEmpty) }

    /// Input `k` as an int32/int64 constant without quantization, nil otherwise.
    package func constant(_ k: Int) -> IntTensor? { operands.constant(k) }

    /// The shapes of every input, when all are present and static.
    package var allShapes: [[Int32]]? {
        var shapes: [[Int32]] = []
        for k in op.inputs.indices {
            guard let s = shape(k) else { return nil }
            shapes.append(s)
        }
        return shapes.isEmpty ? nil : shapes
    }

    /// One output shaped like input 0 (elementwise unary ops, SOFTMAX, QUANTIZE, CAST).
    package var sameAsInput: [[Int32]]? { shape(0).map { [$0] } }

    /// Numpy broadcasting of inputs 0 and 1 (the TFLite binary kernels' `CalculateShapeForBroadcast`).
    package var broadcast: [[Int32]]? {
        guard op.inputs.count == 2, let a = shape(0), let b = shape(1), let s = ConstantEvaluator.broadcastShape(a, b) else { return nil }
        return [s]
    }

    /// Input `k` as a constant 1-D vector.
    package func vector(_ k: Int) -> [Int64]? { operands.vector(k) }
}

/// Checked shape arithmetic for the shape functions: every result is a valid dimension or nil.
package enum ShapeMath {
    /// `v` as a dimension: 0 ≤ v ≤ Int32.max.
    package static func dim<T: BinaryInteger>(_ v: T) -> Int32? {
        guard v >= 0, let d = Int32(exactly: v) else { return nil }
        return d
    }

    /// An axis in −rank..<rank made non-negative; nil when out of range.
    package static func axis<T: BinaryInteger>(_ a: T, rank: Int) -> Int? {
        guard let a = Int(exactly: a) else { return nil }
        let r = a < 0 ? a + rank : a
        return r >= 0 && r < rank ? r : nil
    }

    /// The output size of a window along one dimension (LiteRT's kernels/padding.h
    /// `ComputeOutSize`): SAME → ⌈in/stride⌉, VALID → (in + stride − effective filter)/stride with
    /// effective filter (k − 1)·dilation + 1. nil for a non-positive stride, dilation or filter,
    /// a negative result, or overflow.
    package static func windowOutput(_ input: Int32, filter: Int32, stride: Int32, dilation: Int32, _ padding: Padding) -> Int32? {
        guard stride > 0, dilation > 0, filter > 0, input >= 0 else { return nil }
        let (i, k, s, d) = (Int64(input), Int64(filter), Int64(stride), Int64(dilation))
        let effective = (k - 1) * d + 1  // < 2^62: no overflow in Int64
        let out: Int64
        switch padding {
        case .same: out = (i + s - 1) / s
        case .valid: out = (i + s - effective) / s
        }
        return out >= 0 ? dim(out) : nil
    }

    /// [batch, out_h, out_w, channels] of a 4-D NHWC input under a sliding window.
    package static func windowed(_ x: [Int32], filter: (h: Int32, w: Int32), stride: (h: Int32, w: Int32), dilation: (h: Int32, w: Int32) = (1, 1), _ padding: Padding, channels: Int32) -> [[Int32]]? {
        guard x.count == 4, let h = windowOutput(x[1], filter: filter.h, stride: stride.h, dilation: dilation.h, padding),
            let w = windowOutput(x[2], filter: filter.w, stride: stride.w, dilation: dilation.w, padding)
        else { return nil }
        return [[x[0], h, w, channels]]
    }

    /// The product of `dims`, nil on overflow of Int32.
    package static func product(_ dims: some Sequence<Int32>) -> Int32? {
        var n: Int32 = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            guard !o else { return nil }
            n = m
        }
        return n
    }

    /// A shape as written in messages: `[1,4]`.
    package static func text(_ shape: [Int32]) -> String { "[" + shape.map(String.init).joined(separator: ",") + "]" }
}

extension Verifier {
    /// Reports each static output whose shape differs from what the op's shape function infers
    /// (only when the function answers, which needs every input it reads to be static).
    package static func checkInferredShapes(_ op: Op, id: OpID, _ infer: (ShapeInference) -> [[Int32]]?, _ g: Graph, _ model: Model, _ report: (String, String) -> Void) {
        guard let inferred = infer(shapeInference(op, g, model)) else { return }
        for (k, v) in op.outputs.enumerated() where k < inferred.count && !v.isAbsent && v.index < g.values.count {
            let y = g[v]
            guard ShapeInference.isStatic(y), y.shape != inferred[k] else { continue }
            let which = op.outputs.count == 1 ? "output" : "output \(k)"
            report(op.label(id), "\(which) shape \(ShapeMath.text(y.shape)) != inferred \(ShapeMath.text(inferred[k]))")
        }
    }

    /// The op's inputs as its shape function sees them: integer constants only when their data
    /// has the size their shape needs.
    package static func shapeInference(_ op: Op, _ g: Graph, _ model: Model) -> ShapeInference {
        func value(_ k: Int) -> Value? {
            guard let v = op.input(k), v.index < g.values.count else { return nil }
            return g[v]
        }
        return ShapeInference(ShapeOperands(
            op: op,
            value: value,
            constant: { k in
                guard let x = value(k), let data = model.constantData(x), x.expectedByteCount == data.count, let c = model.constant(x) else { return nil }
                return IntTensor(c)
            }
        ))
    }
}
