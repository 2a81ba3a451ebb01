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

/// Which AVX matrix product the int8 CONV_2D / FULLY_CONNECTED fast path runs: 256-bit
/// vpmaddwd + vpaddd, or 512-bit AVX-512 VNNI vpdpwssd where the CPU has it. Same packed
/// weights, same exact int32 sums, same requantization: the same bytes (tests compare).
package enum Int8Gemm: Sendable {
    case avx2, vnni512
    /// The fastest product this machine runs.
    package static let best: Int8Gemm = tfr_int8_vnni512_available() != 0 ? .vnni512 : .avx2
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

    deinit { storage.deallocate() }

    /// The parameters of channels `first` ..< (the end).
    package func parameters(from first: Int = 0) -> tfr_requant {
        let s = storage + first
        return tfr_requant(bias: s, multiplier: s + stride, left_shift: s + 2 * stride, right_shift: s + 3 * stride,
                           right_mask: s + 4 * stride, out_zp: outZp, act_min: actMin, act_max: actMax)
    }
}

/// Rows of A (int16 value − zero point) processed per matrix-product call: about 64 KiB, so
/// they stay in L2 while every 16-column weight panel passes over them.
private func int8BlockRows(lda: Int) -> Int {
    max(6, (64 * 1024 / 2) / max(lda, 1) / 6 * 6)
}

/// An int8 matrix product with weights packed once (tfr_int8_pack_gemm_weights) and an A
/// buffer allocated once: what CONV_2D (per group) and FULLY_CONNECTED run on AVX2 machines.
package final class Int8PackedWeights {
    package let n: Int, k: Int, lda: Int, ldb: Int
    package let blockRows: Int
    private let packed: UnsafeMutablePointer<Int16>
    private let gemm = Int8Gemm.current

    /// `weights` holds n rows of k int8, row stride `rowStride`.
    package init(_ weights: UnsafePointer<Int8>, rowStride: Int, n: Int, k: Int) {
        self.n = n; self.k = k
        lda = (k + 1) / 2 * 2
        ldb = (n + 15) / 16 * 16
        blockRows = int8BlockRows(lda: lda)
        packed = .allocate(capacity: max(lda * ldb, 1))
        tfr_int8_pack_gemm_weights(weights, rowStride, n, k, ldb, packed)
    }

    deinit { packed.deallocate() }

    package func multiply(rows: UnsafePointer<Int16>, count: Int, requant: tfr_requant, output: UnsafeMutablePointer<Int8>, ldc: Int) {
        var q = requant
        switch gemm {
        case .avx2: tfr_int8_gemm_avx2(rows, lda, count, packed, ldb, n, &q, output, ldc)
        case .vnni512: tfr_int8_gemm_vnni512(rows, lda, count, packed, ldb, n, &q, output, ldc)
        }
    }
}

/// int8 CONV_2D on AVX2: per block of output pixels, im2col (or, for 1×1 stride-1 filters
/// without padding, the input rows themselves) widened to int16, then one packed product per
/// group.
package final class Int8ConvFast {
    private let groups: [Int8PackedWeights]
    private let requant: Int8Requantization
    private let filterC: Int
    private let rows: UnsafeMutablePointer<Int16>
    private let zeroPoint: Int32

    /// `filter` is [outC][kH][kW][filterC]; `groups` groups of outC / groups channels.
    package init(filter: UnsafePointer<Int8>, outC: Int, kH: Int, kW: Int, filterC: Int, groups: Int,
                 requant: Int8Requantization, inputZeroPoint: Int32) {
        let k = kH * kW * filterC, perGroup = outC / groups
        self.groups = (0..<groups).map { g in Int8PackedWeights(filter + g * perGroup * k, rowStride: k, n: perGroup, k: k) }
        self.requant = requant
        self.filterC = filterC
        zeroPoint = inputZeroPoint
        let first = self.groups[0]
        rows = .allocate(capacity: first.blockRows * first.lda)
    }

    deinit { rows.deallocate() }

    package func run(_ geo: WindowGeometry, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        var window = tfr_window(geo)
        let pixels = geo.batches * geo.outH * geo.outW
        let outC = groups.count * groups[0].n
        let inPlace = geo.kH == 1 && geo.kW == 1 && geo.strideH == 1 && geo.strideW == 1 && geo.padTop == 0 && geo.padLeft == 0
            && geo.outH == geo.inH && geo.outW == geo.inW
        let block = groups[0].blockRows, lda = groups[0].lda
        var first = 0
        while first < pixels {
            let count = min(block, pixels - first)
            for (g, weights) in groups.enumerated() {
                if inPlace {
                    tfr_int8_widen_rows_avx2(input + first * geo.inC + g * filterC, geo.inC, filterC, zeroPoint, count, rows, lda)
                } else {
                    tfr_int8_im2col_avx2(&window, g * filterC, filterC, input, zeroPoint, first, count, rows, lda)
                }
                weights.multiply(rows: rows, count: count, requant: requant.parameters(from: g * weights.n),
                                 output: output + first * outC + g * weights.n, ldc: outC)
            }
            first += count
        }
    }
}

/// int8 FULLY_CONNECTED on AVX2: input rows widened to int16 a block at a time, then the packed
/// product.
package final class Int8FullyConnectedFast {
    private let weights: Int8PackedWeights
    private let requant: Int8Requantization
    private let rows: UnsafeMutablePointer<Int16>
    private let zeroPoint: Int32

    package init(weights w: UnsafePointer<Int8>, units: Int, depth: Int, requant: Int8Requantization, inputZeroPoint: Int32) {
        weights = Int8PackedWeights(w, rowStride: depth, n: units, k: depth)
        self.requant = requant
        zeroPoint = inputZeroPoint
        rows = .allocate(capacity: weights.blockRows * weights.lda)
    }

    deinit { rows.deallocate() }

    package func run(batches: Int, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        let depth = weights.k, units = weights.n
        var first = 0
        while first < batches {
            let count = min(weights.blockRows, batches - first)
            tfr_int8_widen_rows_avx2(input + first * depth, depth, depth, zeroPoint, count, rows, weights.lda)
            weights.multiply(rows: rows, count: count, requant: requant.parameters(), output: output + first * units, ldc: units)
            first += count
        }
    }
}

/// int8 DEPTHWISE_CONV_2D with one output channel per input channel on AVX2: tap pairs summed
/// with vpmaddwd, 16 channels at a time.
package final class Int8DepthwiseFast {
    private let packed: UnsafeMutablePointer<Int16>
    private let requant: Int8Requantization
    private let zeroRow: UnsafeMutablePointer<Int8>
    private let taps: UnsafeMutablePointer<UnsafePointer<Int8>?>
    private let channels: Int, zeroPoint: Int32

    /// `filter` is [kH·kW][channels].
    package init(filter: UnsafePointer<Int8>, taps tapCount: Int, channels: Int, requant: Int8Requantization, inputZeroPoint: Int32) {
        let size = (tapCount + 1) / 2 * ((channels + 15) / 16) * 32
        packed = .allocate(capacity: max(size, 1))
        tfr_int8_pack_depthwise_weights(filter, tapCount, channels, packed)
        self.requant = requant
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
        tfr_int8_depthwise_avx2(&window, input, zeroPoint, packed, &q, zeroRow, taps, output)
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
