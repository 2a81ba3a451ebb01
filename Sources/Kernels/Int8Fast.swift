import CFloatKernels
import CInt8Kernels
import IR

/// Which implementation of the int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED kernels
/// runs: the portable Swift one (ConvKernels.swift, FullyConnectedAndPoolKernels.swift), or
/// the AVX2 one in C (CInt8Kernels) on x86-64 CPUs that have AVX2. Both compute TFLM's exact
/// int32 sums and its requantization, so the choice changes the speed, never the bytes (tests
/// run both on the same models and compare).
package enum Int8Kernel: Sendable {
    case portable, avx2
    /// The fastest implementation this machine runs.
    package static let best: Int8Kernel = tfr_int8_avx2_available() != 0 ? .avx2 : .portable
    /// Set by tests to build kernels with one implementation (nil: `best`).
    @TaskLocal package static var forced: Int8Kernel?
    /// What a kernel created now uses.
    package static var current: Int8Kernel { forced ?? best }
}

/// Which matrix product the int8 CONV_2D / FULLY_CONNECTED fast path runs: AVX2 vpmaddwd on
/// int16 pairs (CInt8Kernels int8_gemm_avx2.c), or AVX-512 VNNI vpdpbusd on byte quads
/// (int8_gemm_vnni8.c: inputs fed as x + 128, the difference folded into the bias) where the
/// CPU has it; with `.vnni8` DEPTHWISE_CONV_2D uses int8_depthwise_vnni.c too. Both give TFLM's exact int32 sums and the same requantization: the same bytes
/// (tests compare).
package enum Int8Gemm: Sendable {
    case avx2, vnni8
    /// The fastest product this machine runs.
    package static let best: Int8Gemm = tfr_int8_vnni512_available() != 0 ? .vnni8 : .avx2
    /// Set by tests to build kernels with one product (nil: `best`).
    @TaskLocal package static var forced: Int8Gemm?
    /// What a kernel created now uses.
    package static var current: Int8Gemm { forced ?? best }
}

/// One int8 layer's requantization parameters in the form the AVX2 kernels read (per channel,
/// padded to whole 16-channel blocks plus one spare block so that a group's slice can be read
/// 16 wide). Nil when a parameter is outside what the vector code handles exactly — shifts
/// beyond 31 bits, the saturating multiplier INT32_MIN, an activation range wider than int8, an
/// input zero point outside int8 — then the portable kernel runs.
package final class Int8Requantization {
    private let storage: UnsafeMutablePointer<Int32>
    private let stride: Int
    private let outZp: Int32, actMin: Int32, actMax: Int32

    package init?(bias: [Int32], multipliers: [QuantizedMultiplier], inputZeroPoint: Int32, outputZeroPoint: Int32,
                  activation: (Int32, Int32)) {
        guard bias.count == multipliers.count, (-128...127).contains(inputZeroPoint),
              activation.0 >= -128, activation.1 <= 127,
              multipliers.allSatisfy({ $0.multiplier != Int32.min && (-31...31).contains($0.shift) })
        else { return nil }
        stride = (multipliers.count + 15) / 16 * 16 + 16
        storage = .allocate(capacity: 5 * stride)
        storage.initialize(repeating: 0, count: 5 * stride)
        for (c, m) in multipliers.enumerated() {
            let right = m.shift > 0 ? 0 : -m.shift
            storage[c] = bias[c]
            storage[stride + c] = m.multiplier
            storage[2 * stride + c] = Int32(m.shift > 0 ? m.shift : 0)
            storage[3 * stride + c] = Int32(right)
            storage[4 * stride + c] = Int32(truncatingIfNeeded: (Int64(1) << right) - 1)
        }
        outZp = outputZeroPoint
        (actMin, actMax) = activation
    }

    private init(copying other: Int8Requantization, biasMinus offset: Int32, times sums: [Int32]) {
        stride = other.stride
        storage = .allocate(capacity: 5 * stride)
        storage.initialize(from: other.storage, count: 5 * stride)
        for (c, sum) in sums.enumerated() { storage[c] = storage[c] &- offset &* sum }
        (outZp, actMin, actMax) = (other.outZp, other.actMin, other.actMax)
    }

    /// A copy whose bias b[c] is b[c] − offset·sums[c] (int32, wrapping, as TFLM's int32 sums
    /// wrap): how the VNNI kernels account for an input offset they do not subtract per tap.
    package func folding(_ sums: [Int32], times offset: Int32) -> Int8Requantization {
        Int8Requantization(copying: self, biasMinus: offset, times: sums)
    }

    deinit { storage.deallocate() }

    /// The parameters of channels `first` ..< (the end).
    package func parameters(from first: Int = 0) -> tfr_requant {
        let s = storage + first
        return tfr_requant(bias: s, multiplier: s + stride, left_shift: s + 2 * stride, right_shift: s + 3 * stride,
                           right_mask: s + 4 * stride, out_zp: outZp, act_min: actMin, act_max: actMax)
    }
}

/// Rows of A processed per matrix-product call: about 64 KiB, so they stay in L2 while every
/// weight panel passes over them.
private func int8BlockRows(rowBytes: Int) -> Int {
    max(6, 64 * 1024 / max(rowBytes, 1) / 6 * 6)
}

/// An int8 matrix product with weights packed once and an A buffer allocated once: what
/// CONV_2D (per group) and FULLY_CONNECTED run on AVX2 machines. A's rows are int16
/// value − zero point for `.avx2` (lda = k rounded up to 2) and the int8 values themselves for
/// `.vnni8` (lda = k rounded up to 4; the zero point is in the folded bias).
package final class Int8PackedWeights {
    package let n: Int, k: Int, lda: Int, ldb: Int
    package let blockRows: Int
    package let gemm = Int8Gemm.current
    /// Σ_k W[j][k] per column, for the vnni8 bias correction (empty for avx2).
    package let columnSums: [Int32]
    private let packed: UnsafeMutableRawPointer

    /// `weights` holds n rows of k int8, row stride `rowStride`.
    package init(_ weights: UnsafePointer<Int8>, rowStride: Int, n: Int, k: Int) {
        self.n = n; self.k = k
        let columns = (n + 15) / 16 * 16
        ldb = columns
        switch gemm {
        case .avx2:
            let rowLength = (k + 1) / 2 * 2
            let pairs = UnsafeMutablePointer<Int16>.allocate(capacity: max(rowLength * columns, 1))
            tfr_int8_pack_gemm_weights(weights, rowStride, n, k, columns, pairs)
            lda = rowLength
            packed = UnsafeMutableRawPointer(pairs)
            columnSums = []
            blockRows = int8BlockRows(rowBytes: 2 * rowLength)
        case .vnni8:
            let rowLength = (k + 3) / 4 * 4
            let quads = UnsafeMutablePointer<Int8>.allocate(capacity: max(rowLength * columns, 1))
            var sums = [Int32](repeating: 0, count: columns)
            sums.withUnsafeMutableBufferPointer { tfr_int8_pack_quads(weights, rowStride, n, k, columns, quads, $0.baseAddress!) }
            lda = rowLength
            packed = UnsafeMutableRawPointer(quads)
            columnSums = Array(sums.prefix(n))
            blockRows = int8BlockRows(rowBytes: rowLength)
        }
    }

    deinit { packed.deallocate() }

    /// Bytes of one row of A.
    package var rowBytes: Int { gemm == .avx2 ? 2 * lda : lda }

    /// `rows`: `count` rows of A, row stride `rowStride` elements (lda for a buffer this class
    /// sized; for vnni8 also the input tensor's own rows when k is a multiple of 4).
    package func multiply(rows: UnsafeRawPointer, rowStride: Int, count: Int, requant: tfr_requant, output: UnsafeMutablePointer<Int8>, ldc: Int) {
        var q = requant
        switch gemm {
        case .avx2:
            tfr_int8_gemm_avx2(rows.assumingMemoryBound(to: Int16.self), rowStride, count, packed.assumingMemoryBound(to: Int16.self),
                               ldb, n, &q, output, ldc)
        case .vnni8:
            tfr_int8_gemm_vnni8(rows.assumingMemoryBound(to: Int8.self), rowStride, count, k, packed.assumingMemoryBound(to: Int8.self),
                                ldb, n, &q, output, ldc)
        }
    }

    /// Fills `count` rows of A from `count` input rows of k int8 (row stride `inputStride`).
    package func fillRows(_ input: UnsafePointer<Int8>, inputStride: Int, zeroPoint: Int32, count: Int, into rows: UnsafeMutableRawPointer) {
        switch gemm {
        case .avx2:
            tfr_int8_widen_rows_avx2(input, inputStride, k, zeroPoint, count, rows.assumingMemoryBound(to: Int16.self), lda)
        case .vnni8:
            // A 1×1 window over `count` pixels of depth inputStride copies each row and pads it.
            var rowsAsPixels = tfr_window(batches: 1, in_h: 1, in_w: count, channels: inputStride, out_h: 1, out_w: count,
                                          k_h: 1, k_w: 1, stride_h: 1, stride_w: 1, dil_h: 1, dil_w: 1, pad_top: 0, pad_left: 0)
            tfr_int8_im2col_bytes(&rowsAsPixels, 0, k, input, zeroPoint, 0, count, rows.assumingMemoryBound(to: Int8.self), lda)
        }
    }

    /// Fills `count` im2col rows of A for output pixels first ..< first + count.
    package func fillIm2col(_ window: inout tfr_window, channelOffset: Int, filterC: Int, input: UnsafePointer<Int8>,
                            zeroPoint: Int32, first: Int, count: Int, into rows: UnsafeMutableRawPointer) {
        switch gemm {
        case .avx2:
            tfr_int8_im2col_avx2(&window, channelOffset, filterC, input, zeroPoint, first, count, rows.assumingMemoryBound(to: Int16.self), lda)
        case .vnni8:
            tfr_int8_im2col_bytes(&window, channelOffset, filterC, input, zeroPoint, first, count, rows.assumingMemoryBound(to: Int8.self), lda)
        }
    }

    /// Whether the product can read A straight from input rows of stride `inputStride` (vnni8
    /// with k a multiple of 4: it reads exactly k bytes per row).
    package var readsInputInPlace: Bool { gemm == .vnni8 && k % 4 == 0 }

    /// `requant` as this product needs it (vnni8: the column sums folded into the bias of
    /// channels first ..< first + n).
    package func requantization(_ requant: Int8Requantization, inputZeroPoint: Int32) -> Int8Requantization {
        gemm == .avx2 ? requant : requant.folding(columnSums, times: 128 &+ inputZeroPoint)
    }
}

/// int8 CONV_2D on AVX2: per block of output pixels, im2col (or, for 1×1 stride-1 filters
/// without padding, the input rows themselves) in the product's A form, then one packed
/// product per group.
package final class Int8ConvFast {
    private let groups: [Int8PackedWeights]
    private let requant: Int8Requantization
    private let filterC: Int
    private let rows: UnsafeMutableRawPointer
    private let zeroPoint: Int32

    /// `filter` is [outC][kH][kW][filterC]; `groups` groups of outC / groups channels.
    package init(filter: UnsafePointer<Int8>, outC: Int, kH: Int, kW: Int, filterC: Int, groups: Int,
                 requant: Int8Requantization, inputZeroPoint: Int32) {
        let k = kH * kW * filterC, perGroup = outC / groups
        self.groups = (0..<groups).map { g in Int8PackedWeights(filter + g * perGroup * k, rowStride: k, n: perGroup, k: k) }
        let first = self.groups[0]
        self.requant = first.gemm == .avx2 ? requant
            : requant.folding(self.groups.flatMap(\.columnSums), times: 128 &+ inputZeroPoint)
        self.filterC = filterC
        zeroPoint = inputZeroPoint
        rows = .allocate(byteCount: first.blockRows * first.rowBytes, alignment: 64)
    }

    deinit { rows.deallocate() }

    package func run(_ geo: WindowGeometry, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        var window = tfr_window(geo)
        let pixels = geo.batches * geo.outH * geo.outW
        let outC = groups.count * groups[0].n
        let inPlace = geo.kH == 1 && geo.kW == 1 && geo.strideH == 1 && geo.strideW == 1 && geo.padTop == 0 && geo.padLeft == 0
            && geo.outH == geo.inH && geo.outW == geo.inW
        let block = groups[0].blockRows
        var first = 0
        while first < pixels {
            let count = min(block, pixels - first)
            for (g, weights) in groups.enumerated() {
                let q = requant.parameters(from: g * weights.n), out = output + first * outC + g * weights.n
                let source = input + first * geo.inC + g * filterC
                if inPlace && weights.readsInputInPlace {
                    weights.multiply(rows: source, rowStride: geo.inC, count: count, requant: q, output: out, ldc: outC)
                    continue
                }
                if inPlace {
                    weights.fillRows(source, inputStride: geo.inC, zeroPoint: zeroPoint, count: count, into: rows)
                } else {
                    weights.fillIm2col(&window, channelOffset: g * filterC, filterC: filterC, input: input, zeroPoint: zeroPoint,
                                       first: first, count: count, into: rows)
                }
                weights.multiply(rows: rows, rowStride: weights.lda, count: count, requant: q, output: out, ldc: outC)
            }
            first += count
        }
    }
}

/// int8 FULLY_CONNECTED on AVX2: input rows in the product's A form a block at a time (or read
/// in place), then the packed product.
package final class Int8FullyConnectedFast {
    private let weights: Int8PackedWeights
    private let requant: Int8Requantization
    private let rows: UnsafeMutableRawPointer
    private let zeroPoint: Int32

    package init(weights w: UnsafePointer<Int8>, units: Int, depth: Int, requant: Int8Requantization, inputZeroPoint: Int32) {
        weights = Int8PackedWeights(w, rowStride: depth, n: units, k: depth)
        self.requant = weights.requantization(requant, inputZeroPoint: inputZeroPoint)
        zeroPoint = inputZeroPoint
        rows = .allocate(byteCount: weights.blockRows * weights.rowBytes, alignment: 64)
    }

    deinit { rows.deallocate() }

    package func run(batches: Int, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        let depth = weights.k, units = weights.n
        var first = 0
        while first < batches {
            let count = min(weights.blockRows, batches - first)
            let source = input + first * depth
            if weights.readsInputInPlace {
                weights.multiply(rows: source, rowStride: depth, count: count, requant: requant.parameters(), output: output + first * units, ldc: units)
            } else {
                weights.fillRows(source, inputStride: depth, zeroPoint: zeroPoint, count: count, into: rows)
                weights.multiply(rows: rows, rowStride: weights.lda, count: count, requant: requant.parameters(), output: output + first * units, ldc: units)
            }
            first += count
        }
    }
}

/// int8 DEPTHWISE_CONV_2D with one output channel per input channel on AVX2: tap pairs summed
/// with vpmaddwd, 16 channels at a time; with AVX-512 VNNI (Int8Gemm.vnni8) vpdpwssd and the
/// zero point folded into the bias instead of subtracted per tap (same bytes).
package final class Int8DepthwiseFast {
    private let packed: UnsafeMutablePointer<Int16>
    private let requant: Int8Requantization
    private let zeroRow: UnsafeMutablePointer<Int8>
    private let taps: UnsafeMutablePointer<UnsafePointer<Int8>?>
    private let channels: Int, zeroPoint: Int32
    private let vnni: Bool

    /// `filter` is [kH·kW][channels].
    package init(filter: UnsafePointer<Int8>, taps tapCount: Int, channels: Int, requant: Int8Requantization, inputZeroPoint: Int32) {
        let size = (tapCount + 1) / 2 * ((channels + 15) / 16) * 32
        packed = .allocate(capacity: max(size, 1))
        tfr_int8_pack_depthwise_weights(filter, tapCount, channels, packed)
        vnni = Int8Gemm.current == .vnni8
        if vnni {
            let tapSums = (0..<channels).map { c in (0..<tapCount).reduce(Int32(0)) { $0 &+ Int32(filter[$1 * channels + c]) } }
            self.requant = requant.folding(tapSums, times: inputZeroPoint)
        } else {
            self.requant = requant
        }
        self.channels = channels
        zeroPoint = inputZeroPoint
        zeroRow = .allocate(capacity: max(channels, 1))
        zeroRow.initialize(repeating: Int8(truncatingIfNeeded: inputZeroPoint), count: max(channels, 1))
        taps = .allocate(capacity: tapCount + 1)
        taps.initialize(repeating: nil, count: tapCount + 1)
    }

    deinit {
        packed.deallocate()
        zeroRow.deallocate()
        taps.deallocate()
    }

    /// geo.inC must equal the filter's channel count.
    package func run(_ geo: WindowGeometry, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        var window = tfr_window(geo)
        var q = requant.parameters()
        if vnni {
            tfr_int8_depthwise_vnni(&window, input, packed, &q, zeroRow, taps, output)
        } else {
            tfr_int8_depthwise_avx2(&window, input, zeroPoint, packed, &q, zeroRow, taps, output)
        }
    }
}

extension tfr_window {
    init(_ geo: WindowGeometry) {
        self.init(batches: geo.batches, in_h: geo.inH, in_w: geo.inW, channels: geo.inC,
                  out_h: geo.outH, out_w: geo.outW, k_h: geo.kH, k_w: geo.kW,
                  stride_h: geo.strideH, stride_w: geo.strideW, dil_h: geo.dilH, dil_w: geo.dilW,
                  pad_top: geo.padTop, pad_left: geo.padLeft)
    }
}
