import FlatBuffers
import IR
import Kernels
import Support

/// Which elements a strided slice reads, with every mask (begin, end, ellipsis, new_axis,
/// shrink_axis) and TFLite's `offset` flag (end counts from begin): per input dimension the
/// indices kept (start, stride, count), and the output shape after new axes are added and shrunk axes dropped.
/// One rule for the GraphDef importer, constant folding and shape folding.
///
/// Index rules follow TF's dense-spec construction and TFLite's strided_slice_logic.h:
/// negative indices count from the end; begin and end clamp to [0, D] (stride > 0) or
/// [−1, D−1] (stride < 0); a mask overrides its index; an ellipsis stands for the dimensions
/// the other entries do not consume; a shrunk axis keeps the single element at begin (TF's
/// reading: its begin_mask is ignored, the stride must be positive, out of range is an error).
public struct StridedSliceGeometry: Equatable, Sendable {
    /// The indices one input dimension keeps: start, start + stride, … (`count` of them).
    /// Kept as arithmetic, not a list: an empty tensor may have a dimension of 2^31.
    public struct Dimension: Equatable, Sendable {
        public var start: Int
        public var stride: Int
        public var count: Int
    }

    /// Per input dimension.
    public var dimensions: [Dimension]
    public var outputShape: [Int]

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public init(shape: [Int], begin: [Int64], end: [Int64], strides: [Int64], attributes a: StridedSliceAttributes) throws {
        let n = begin.count
        guard end.count == n, strides.count == n else {
            throw Problem(description: "begin, end and strides have \(begin.count), \(end.count) and \(strides.count) entries")
        }
        guard n <= 32 else { throw Problem(description: "\(n) slice entries (the masks have 32 bits)") }
        func bit(_ mask: Int32, _ i: Int) -> Bool { (UInt32(bitPattern: mask) >> UInt32(i)) & 1 == 1 }
        guard a.ellipsisMask.nonzeroBitCount <= 1 else { throw Problem(description: "more than one ellipsis") }
        let rank = shape.count
        let consuming = (0..<n).filter { !bit(a.ellipsisMask, $0) && !bit(a.newAxisMask, $0) }.count
        guard consuming <= rank else { throw Problem(description: "\(consuming) slice entries for an input of rank \(rank)") }

        var dims: [Dimension] = []
        var out: [Int] = []
        func full(_ size: Int) {
            dims.append(Dimension(start: 0, stride: 1, count: size))
            out.append(size)
        }
        for i in 0..<n {
            if bit(a.ellipsisMask, i) {
                for _ in 0..<(rank - consuming) { full(shape[dims.count]) }
                continue
            }
            if bit(a.newAxisMask, i) {
                out.append(1)
                continue
            }
            let dim = dims.count
            let size = Int64(shape[dim])
            let s = strides[i]
            guard s != 0 else { throw Problem(description: "stride 0 in dimension \(dim)") }
            if bit(a.shrinkAxisMask, i) {
                guard s > 0 else { throw Problem(description: "a shrunk dimension (\(dim)) needs a positive stride") }
                let index = begin[i] < 0 ? begin[i] + size : begin[i]
                guard index >= 0, index < size else {
                    throw Problem(description: "index \(begin[i]) is out of range for dimension \(dim) of size \(size)")
                }
                dims.append(Dimension(start: Int(index), stride: 1, count: 1))
                continue
            }
            func clamp(_ v: Int64) -> Int64 { s > 0 ? min(max(v, 0), size) : min(max(v, -1), size - 1) }
            let start: Int64 = bit(a.beginMask, i) ? (s > 0 ? 0 : size - 1) : clamp(begin[i] < 0 ? begin[i] + size : begin[i])
            var stop: Int64
            if bit(a.endMask, i) {
                stop = s > 0 ? size : -1
            } else {
                stop = end[i]
                if a.offset {
                    let (e, overflow) = stop.addingReportingOverflow(start)
                    guard !overflow else { throw Problem(description: "end \(end[i]) + begin overflows") }
                    stop = e
                }
                stop = clamp(stop < 0 ? stop + size : stop)
            }
            let span = s > 0 ? stop - start : start - stop  // at most D + 1
            let step = s == .min ? Int64.max : abs(s)
            let count = span <= 0 ? 0 : Int((span - 1) / step + 1)
            dims.append(Dimension(start: Int(start), stride: count > 1 ? Int(s) : 1, count: count))
            out.append(count)
        }
        while dims.count < rank { full(shape[dims.count]) }
        self.dimensions = dims
        self.outputShape = out
    }

    /// Why TF and TFLite would compute different results for these attributes (nil: they
    /// agree). Folding a TFLite op refuses such slices rather than pick one reading; the
    /// GraphDef importer follows TF.
    /// - TF ignores begin_mask on a shrunk axis, TFLite's kernel honours it.
    /// - LiteRT 2.3's kernel disagrees with TF (wrong sizes, or a crash) when `offset` meets
    ///   an ellipsis or a new axis (found by the fold conformance test).
    public static func runtimesDisagree(_ a: StridedSliceAttributes) -> String? {
        if a.beginMask & a.shrinkAxisMask & ~a.ellipsisMask & ~a.newAxisMask != 0 { return "begin_mask on a shrunk axis" }
        if a.offset && (a.ellipsisMask != 0 || a.newAxisMask != 0) { return "offset with an ellipsis or a new axis" }
        return nil
    }

    /// Row-major element offsets into an input of `shape` of the selected elements, in output
    /// order.
    public func sourceOffsets(inputShape shape: [Int]) -> [Int] {
        guard dimensions.count == shape.count else { return [] }
        let strides = rowMajorStrides(shape)
        var offsets: [Int] = []
        let base = zip(dimensions, strides).reduce(0) { $0 + $1.0.start * $1.1 }
        forEachStridedOffset(counts: dimensions.map(\.count), base: base, strides: zip(dimensions, strides).map { $0.stride * $1 }) { _, source in
            offsets.append(source)
        }
        return offsets
    }

    /// The selected elements of `x`, row-major, with `outputShape`.
    public func apply(to x: ConstantTensor) -> ConstantTensor {
        let size = x.elementSize
        var bytes = [UInt8]()
        let offsets = sourceOffsets(inputShape: x.shape.map(Int.init))
        bytes.reserveCapacity(offsets.count * size)
        for offset in offsets { bytes += x.bytes[(offset * size)..<((offset + 1) * size)] }
        return ConstantTensor(type: x.type, shape: outputShape.map { Int32($0) }, bytes: bytes)
    }
}
