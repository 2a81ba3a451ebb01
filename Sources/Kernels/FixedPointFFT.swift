#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The 16-bit fixed-point real FFT TFLM's SignalRfft runs: KISS FFT v130 compiled with
/// `FIXED_POINT 16` (tflite-micro signal/src/kiss_fft_wrappers/kiss_fft_int16.cc, which includes
/// kissfft's kiss_fft.c and tools/kiss_fftr.c; version from
/// tensorflow/lite/micro/tools/make/kissfft_download.sh), restated operation by operation so the
/// rounding and 16-bit wrap-around match:
/// - samples are int16; products are int32, rounded back by `(x + 2^14) >> 15` (`sround`);
/// - every butterfly first divides its inputs by the radix, `sround(x · (32767 / radix))`
///   (`C_FIXDIV`), so the output is the DFT divided by the length;
/// - sums are truncated to 16 bits, except in the real-FFT post-pass, where `HALF_OF` halves the
///   int-width sum before truncating;
/// - twiddles are `floor(0.5 + 32767 · cos/sin(phase))` (`kf_cexp`).
/// TFLM's patched kissfft allocates no scratch memory (kissfft.patch), so radices above 5 (which
/// need `kf_bfly_generic`'s buffer) cannot run there; `init` refuses them.
package struct FixedPointRealFFT {
    package struct Complex16: Equatable {
        package var r: Int16
        package var i: Int16
        package init(_ r: Int16, _ i: Int16) {
            self.r = r
            self.i = i
        }
    }

    /// The real signal length (even).
    package let length: Int
    /// kiss_fftr_alloc's `inverse_fft`: twiddles of the opposite sign, `kiss_fftri`.
    package let inverse: Bool
    private let half: Int
    private let twiddles: [Complex16]
    private let superTwiddles: [Complex16]
    /// (radix, remaining length) pairs from `kf_factor`.
    private let factors: [(p: Int, m: Int)]

    /// nil when TFLM's kissfft cannot run this length (odd, < 2, or a prime factor above 5).
    package init?(length: Int, inverse: Bool = false) {
        guard length >= 2, length % 2 == 0, length <= 1 << 20 else { return nil }
        let half = length / 2
        self.length = length
        self.inverse = inverse
        self.half = half
        // kiss_fft.c kf_factor: powers of 4 first, then 2, then odd numbers up to floor(sqrt(n)).
        var factors: [(p: Int, m: Int)] = []
        var n = half
        var p = 4
        let floorSqrt = Double(n).squareRoot().rounded(.down)
        repeat {
            while n % p != 0 {
                switch p {
                case 4: p = 2
                case 2: p = 3
                default: p += 2
                }
                if Double(p) > floorSqrt { p = n }
            }
            n /= p
            factors.append((p, n))
        } while n > 1
        guard factors.allSatisfy({ $0.p <= 5 }) else { return nil }
        self.factors = factors
        // kiss_fft.c kiss_fft_alloc: phase = -2·pi·i / nfft, negated for the inverse.
        let sign: Double = inverse ? -1 : 1
        twiddles = (0..<half).map { i in Self.cexp(-2 * Double.pi * Double(i) / Double(half) * sign) }
        // kiss_fftr.c kiss_fftr_alloc: phase = -pi·((i + 1) / ncfft + 0.5), negated likewise.
        superTwiddles = (0..<(half / 2)).map { i in Self.cexp(-Double.pi * (Double(i + 1) / Double(half) + 0.5) * sign) }
    }

    private static func cexp(_ phase: Double) -> Complex16 {
        Complex16(Int16(floor(0.5 + 32767 * cos(phase))), Int16(floor(0.5 + 32767 * sin(phase))))
    }

    /// `kiss_fftr`: `input` holds `length` samples; `output` receives `length / 2 + 1` bins as
    /// interleaved (real, imaginary) pairs (TFLM's `Complex<int16_t>` layout). `scratch` holds
    /// at least `length` values and is overwritten.
    package func transform(_ input: UnsafePointer<Int16>, _ output: UnsafeMutablePointer<Int16>, scratch: UnsafeMutablePointer<Complex16>) {
        let packed = scratch, spectrum = scratch + half
        for k in 0..<half { packed[k] = Complex16(input[2 * k], input[2 * k + 1]) }
        work(spectrum, UnsafePointer(packed), fstride: 1, stage: 0)
        func put(_ k: Int, _ r: Int16, _ i: Int16) {
            output[2 * k] = r
            output[2 * k + 1] = i
        }
        // kiss_fftr: split the packed transform of even/odd samples into the real spectrum.
        var dc = spectrum[0]
        Self.fixDiv(&dc, 2)
        put(0, dc.r &+ dc.i, 0)
        put(half, dc.r &- dc.i, 0)
        guard half >= 2 else { return }
        for k in 1...(half / 2) {
            var fpk = spectrum[k]
            var fpnk = Complex16(spectrum[half - k].r, 0 &- spectrum[half - k].i)
            Self.fixDiv(&fpk, 2)
            Self.fixDiv(&fpnk, 2)
            let f1k = Self.add(fpk, fpnk)
            let f2k = Self.sub(fpk, fpnk)
            let tw = Self.mul(f2k, superTwiddles[k - 1])
            put(k, Self.halfOf(Int32(f1k.r) + Int32(tw.r)), Self.halfOf(Int32(f1k.i) + Int32(tw.i)))
            put(half - k, Self.halfOf(Int32(f1k.r) - Int32(tw.r)), Self.halfOf(Int32(tw.i) - Int32(f1k.i)))
        }
    }

    /// `kiss_fftri` (an inverse instance): `input` holds `length / 2 + 1` interleaved bins,
    /// `output` receives `length` samples; `scratch` holds at least `length` values.
    package func inverseTransform(_ input: UnsafePointer<Int16>, _ output: UnsafeMutablePointer<Int16>, scratch: UnsafeMutablePointer<Complex16>) {
        let packed = scratch, signal = scratch + half
        func bin(_ k: Int) -> Complex16 { Complex16(input[2 * k], input[2 * k + 1]) }
        packed[0] = Complex16(bin(0).r &+ bin(half).r, bin(0).r &- bin(half).r)
        Self.fixDiv(&packed[0], 2)
        if half >= 2 {
            for k in 1...(half / 2) {
                var fk = bin(k)
                var fnkc = Complex16(bin(half - k).r, 0 &- bin(half - k).i)
                Self.fixDiv(&fk, 2)
                Self.fixDiv(&fnkc, 2)
                let fek = Self.add(fk, fnkc)
                let fok = Self.mul(Self.sub(fk, fnkc), superTwiddles[k - 1])
                packed[k] = Self.add(fek, fok)
                packed[half - k] = Self.sub(fek, fok)
                packed[half - k].i = 0 &- packed[half - k].i
            }
        }
        work(signal, UnsafePointer(packed), fstride: 1, stage: 0)
        for k in 0..<half {
            output[2 * k] = signal[k].r
            output[2 * k + 1] = signal[k].i
        }
    }

    // MARK: kiss_fft.c

    /// `kf_work` with in_stride 1: p decimated sub-transforms of length m, then one butterfly.
    private func work(_ out: UnsafeMutablePointer<Complex16>, _ f: UnsafePointer<Complex16>, fstride: Int, stage: Int) {
        let (p, m) = factors[stage]
        if m == 1 {
            for j in 0..<p { out[j] = f[j * fstride] }
        } else {
            for j in 0..<p { work(out + j * m, f + j * fstride, fstride: fstride * p, stage: stage + 1) }
        }
        switch p {
        case 2: butterfly2(out, fstride, m)
        case 3: butterfly3(out, fstride, m)
        case 4: butterfly4(out, fstride, m)
        default: butterfly5(out, fstride, m)
        }
    }

    @inline(__always) private static func sround(_ x: Int32) -> Int16 {
        Int16(truncatingIfNeeded: (x &+ (1 << 14)) >> 15)
    }
    @inline(__always) private static func smul(_ a: Int16, _ b: Int16) -> Int32 { Int32(a) * Int32(b) }
    @inline(__always) private static func sMul(_ a: Int16, _ b: Int16) -> Int16 { sround(smul(a, b)) }
    @inline(__always) private static func halfOf(_ x: Int32) -> Int16 { Int16(truncatingIfNeeded: x >> 1) }
    @inline(__always) private static func mul(_ a: Complex16, _ b: Complex16) -> Complex16 {
        Complex16(sround(smul(a.r, b.r) &- smul(a.i, b.i)), sround(smul(a.r, b.i) &+ smul(a.i, b.r)))
    }
    @inline(__always) private static func fixDiv(_ c: inout Complex16, _ div: Int16) {
        let k = 32767 / div
        c = Complex16(sround(smul(c.r, k)), sround(smul(c.i, k)))
    }
    @inline(__always) private static func add(_ a: Complex16, _ b: Complex16) -> Complex16 { Complex16(a.r &+ b.r, a.i &+ b.i) }
    @inline(__always) private static func sub(_ a: Complex16, _ b: Complex16) -> Complex16 { Complex16(a.r &- b.r, a.i &- b.i) }

    private func butterfly2(_ fout: UnsafeMutablePointer<Complex16>, _ fstride: Int, _ m: Int) {
        for k in 0..<m {
            Self.fixDiv(&fout[k], 2)
            Self.fixDiv(&fout[k + m], 2)
            let t = Self.mul(fout[k + m], twiddles[k * fstride])
            fout[k + m] = Self.sub(fout[k], t)
            fout[k] = Self.add(fout[k], t)
        }
    }

    private func butterfly4(_ fout: UnsafeMutablePointer<Complex16>, _ fstride: Int, _ m: Int) {
        for k in 0..<m {
            let f = fout + k
            Self.fixDiv(&f[0], 4)
            Self.fixDiv(&f[m], 4)
            Self.fixDiv(&f[2 * m], 4)
            Self.fixDiv(&f[3 * m], 4)
            let s0 = Self.mul(f[m], twiddles[k * fstride])
            let s1 = Self.mul(f[2 * m], twiddles[2 * k * fstride])
            let s2 = Self.mul(f[3 * m], twiddles[3 * k * fstride])
            let s5 = Self.sub(f[0], s1)
            f[0] = Self.add(f[0], s1)
            let s3 = Self.add(s0, s2)
            let s4 = Self.sub(s0, s2)
            f[2 * m] = Self.sub(f[0], s3)
            f[0] = Self.add(f[0], s3)
            if inverse {
                f[m] = Complex16(s5.r &- s4.i, s5.i &+ s4.r)
                f[3 * m] = Complex16(s5.r &+ s4.i, s5.i &- s4.r)
            } else {
                f[m] = Complex16(s5.r &+ s4.i, s5.i &- s4.r)
                f[3 * m] = Complex16(s5.r &- s4.i, s5.i &+ s4.r)
            }
        }
    }

    private func butterfly3(_ fout: UnsafeMutablePointer<Complex16>, _ fstride: Int, _ m: Int) {
        let epi3 = twiddles[fstride * m]
        for k in 0..<m {
            let f = fout + k
            Self.fixDiv(&f[0], 3)
            Self.fixDiv(&f[m], 3)
            Self.fixDiv(&f[2 * m], 3)
            let s1 = Self.mul(f[m], twiddles[k * fstride])
            let s2 = Self.mul(f[2 * m], twiddles[2 * k * fstride])
            let s3 = Self.add(s1, s2)
            var s0 = Self.sub(s1, s2)
            f[m] = Complex16(f[0].r &- (s3.r >> 1), f[0].i &- (s3.i >> 1))
            s0 = Complex16(Self.sMul(s0.r, epi3.i), Self.sMul(s0.i, epi3.i))
            f[0] = Self.add(f[0], s3)
            f[2 * m] = Complex16(f[m].r &+ s0.i, f[m].i &- s0.r)
            f[m] = Complex16(f[m].r &- s0.i, f[m].i &+ s0.r)
        }
    }

    private func butterfly5(_ fout: UnsafeMutablePointer<Complex16>, _ fstride: Int, _ m: Int) {
        let ya = twiddles[fstride * m], yb = twiddles[fstride * 2 * m]
        let sMul = Self.sMul
        for u in 0..<m {
            let f = fout + u
            for q in 0..<5 { Self.fixDiv(&f[q * m], 5) }
            let s0 = f[0]
            let s1 = Self.mul(f[m], twiddles[u * fstride])
            let s2 = Self.mul(f[2 * m], twiddles[2 * u * fstride])
            let s3 = Self.mul(f[3 * m], twiddles[3 * u * fstride])
            let s4 = Self.mul(f[4 * m], twiddles[4 * u * fstride])
            let s7 = Self.add(s1, s4), s10 = Self.sub(s1, s4)
            let s8 = Self.add(s2, s3), s9 = Self.sub(s2, s3)
            f[0] = Complex16(f[0].r &+ (s7.r &+ s8.r), f[0].i &+ (s7.i &+ s8.i))
            let s5 = Complex16(s0.r &+ sMul(s7.r, ya.r) &+ sMul(s8.r, yb.r), s0.i &+ sMul(s7.i, ya.r) &+ sMul(s8.i, yb.r))
            let s6 = Complex16(sMul(s10.i, ya.i) &+ sMul(s9.i, yb.i), (0 &- sMul(s10.r, ya.i)) &- sMul(s9.r, yb.i))
            f[m] = Self.sub(s5, s6)
            f[4 * m] = Self.add(s5, s6)
            let s11 = Complex16(s0.r &+ sMul(s7.r, yb.r) &+ sMul(s8.r, ya.r), s0.i &+ sMul(s7.i, yb.r) &+ sMul(s8.i, ya.r))
            let s12 = Complex16((0 &- sMul(s10.i, yb.i)) &+ sMul(s9.i, ya.i), sMul(s10.r, yb.i) &- sMul(s9.r, ya.i))
            f[2 * m] = Self.add(s11, s12)
            f[3 * m] = Self.sub(s11, s12)
        }
    }
}
