import FlatBuffers

/// Row-major strides of a shape.
package func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var st = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        st[i] = acc
        acc *= shape[i]
    }
    return st
}

/// Walks a strided view of a row-major buffer (a slice, a transpose): calls
/// `body(o, source)` for output element o = 0, 1, … in row-major order over `counts`, where
/// `source = base + Σ index[d]·strides[d]`. Nothing is called when a count is 0; a rank-0
/// view is one element at `base`. Strided slices (interpreter and constant folding) and
/// transposes share it.
@inline(__always)
package func forEachStridedOffset(counts: [Int], base: Int, strides: [Int], _ body: (_ output: Int, _ source: Int) -> Void) {
    let rank = counts.count
    guard strides.count == rank, counts.allSatisfy({ $0 > 0 }) else { return }
    var index = [Int](repeating: 0, count: rank)
    var source = base
    var o = 0
    while true {
        body(o, source)
        o += 1
        var d = rank - 1
        while d >= 0 {
            index[d] += 1
            source += strides[d]
            if index[d] < counts[d] { break }
            source -= strides[d] * counts[d]
            index[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}
