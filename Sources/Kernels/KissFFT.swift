#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real FFTs TFLM's SignalRfft and SignalIrfft run: KISS FFT v130 (version from
/// tflite-micro tensorflow/lite/micro/tools/make/kissfft_download.sh) compiled three times by
/// signal/src/kiss_fft_wrappers/kiss_fft_{int16,int32,float}.cc — `FIXED_POINT 16`,
/// `FIXED_POINT 32` and float — restated operation by operation (kissfft's kiss_fft.c,
/// tools/kiss_fftr.c and the macros of _kiss_fft_guts.h) so the results are bit-exact:
/// - fixed point: products are taken in the double-width type and rounded back by
///   `(x + 2^(F−1)) >> F` (`sround`, F = 15 or 31); every butterfly first divides its inputs by
///   the radix, `sround(x · (MAX / radix))` (`C_FIXDIV`), so the output is the DFT divided by
///   the length; sums wrap to the sample width, except int16's `HALF_OF(a + b)` in the real-FFT
///   passes, which halves the int-width sum before truncating; twiddles are
///   `floor(0.5 + MAX · cos/sin(phase))`;
/// - float: plain float arithmetic, `HALF_OF(x) = x · 0.5f` (TFLM's kissfft.patch), twiddles
///   `(float)cos/sin(phase)`.
/// TFLM's patched kissfft allocates no scratch memory (kissfft.patch), so radices above 5 (which
/// need `kf_bfly_generic`'s buffer) cannot run there; `init` refuses them.
package struct KissRealFFT<A: KissArithmetic> {
    package typealias Scalar = A.Scalar
    package typealias Complex = KissComplex<Scalar>

    /// The real signal length (even).
    package let length: Int
    /// kiss_fftr_alloc's `inverse_fft`: twiddles of the opposite sign, `kiss_fftri`.
    package let inverse: Bool
    private let half: Int
    private let twiddles: [Complex]
    private let superTwiddles: [Complex]
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
        twiddles = (0..<half).map { i in A.cexp(-2 * Double.pi * Double(i) / Double(half) * sign) }
        // kiss_fftr.c kiss_fftr_alloc: phase = -pi·((i + 1) / ncfft + 0.5), negated likewise.
        superTwiddles = (0..<(half / 2)).map { i in A.cexp(-Double.pi * (Double(i + 1) / Double(half) + 0.5) * sign) }
    }

    @inline(__always) private static func add(_ a: Complex, _ b: Complex) -> Complex { Complex(A.add(a.r, b.r), A.add(a.i, b.i)) }
    @inline(__always) private static func sub(_ a: Complex, _ b: Complex) -> Complex { Complex(A.sub(a.r, b.r), A.sub(a.i, b.i)) }
    @inline(__always) private static func fixDiv(_ c: inout Complex, _ radix: Int) {
        c = Complex(A.fixDiv(c.r, radix), A.fixDiv(c.i, radix))
    }

    /// `kiss_fftr` (a forward instance): `input` holds `length` samples; `output` receives
    /// `length / 2 + 1` bins as interleaved (real, imaginary) pairs (TFLM's `Complex<T>` layout).
    /// `scratch` holds at least `length` values and is overwritten.
    package func transform(_ input: UnsafePointer<Scalar>, _ output: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Complex>) {
        let packed = scratch, spectrum = scratch + half
        for k in 0..<half { packed[k] = Complex(input[2 * k], input[2 * k + 1]) }
        work(spectrum, UnsafePointer(packed), fstride: 1, stage: 0)
        func put(_ k: Int, _ r: Scalar, _ i: Scalar) {
            output[2 * k] = r
            output[2 * k + 1] = i
        }
        // Split the packed transform of even/odd samples into the real spectrum.
        var dc = spectrum[0]
        Self.fixDiv(&dc, 2)
        put(0, A.add(dc.r, dc.i), A.zero)
        put(half, A.sub(dc.r, dc.i), A.zero)
        guard half >= 2 else { return }
        for k in 1...(half / 2) {
            var fpk = spectrum[k]
            var fpnk = Complex(spectrum[half - k].r, A.negate(spectrum[half - k].i))
            Self.fixDiv(&fpk, 2)
            Self.fixDiv(&fpnk, 2)
            let f1k = Self.add(fpk, fpnk)
            let f2k = Self.sub(fpk, fpnk)
            let tw = A.multiply(f2k, superTwiddles[k - 1])
            put(k, A.halfOfSum(f1k.r, tw.r), A.halfOfSum(f1k.i, tw.i))
            put(half - k, A.halfOfDifference(f1k.r, tw.r), A.halfOfDifference(tw.i, f1k.i))
        }
    }

    /// `kiss_fftri` (an inverse instance): `input` holds `length / 2 + 1` interleaved bins,
    /// `output` receives `length` samples; `scratch` holds at least `length` values.
    package func inverseTransform(_ input: UnsafePointer<Scalar>, _ output: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Complex>) {
        let packed = scratch, signal = scratch + half
        func bin(_ k: Int) -> Complex { Complex(input[2 * k], input[2 * k + 1]) }
        packed[0] = Complex(A.add(bin(0).r, bin(half).r), A.sub(bin(0).r, bin(half).r))
        Self.fixDiv(&packed[0], 2)
        if half >= 2 {
            for k in 1...(half / 2) {
                var fk = bin(k)
                var fnkc = Complex(bin(half - k).r, A.negate(bin(half - k).i))
                Self.fixDiv(&fk, 2)
                Self.fixDiv(&fnkc, 2)
                let fek = Self.add(fk, fnkc)
                let fok = A.multiply(Self.sub(fk, fnkc), superTwiddles[k - 1])
                packed[k] = Self.add(fek, fok)
                packed[half - k] = Self.sub(fek, fok)
                packed[half - k].i = A.negate(packed[half - k].i)
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
    private func work(_ out: UnsafeMutablePointer<Complex>, _ f: UnsafePointer<Complex>, fstride: Int, stage: Int) {
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

    private func butterfly2(_ fout: UnsafeMutablePointer<Complex>, _ fstride: Int, _ m: Int) {
        for k in 0..<m {
            Self.fixDiv(&fout[k], 2)
            Self.fixDiv(&fout[k + m], 2)
            let t = A.multiply(fout[k + m], twiddles[k * fstride])
            fout[k + m] = Self.sub(fout[k], t)
            fout[k] = Self.add(fout[k], t)
        }
    }

    private func butterfly4(_ fout: UnsafeMutablePointer<Complex>, _ fstride: Int, _ m: Int) {
        for k in 0..<m {
            let f = fout + k
            for q in 0..<4 { Self.fixDiv(&f[q * m], 4) }
            let s0 = A.multiply(f[m], twiddles[k * fstride])
            let s1 = A.multiply(f[2 * m], twiddles[2 * k * fstride])
            let s2 = A.multiply(f[3 * m], twiddles[3 * k * fstride])
            let s5 = Self.sub(f[0], s1)
            f[0] = Self.add(f[0], s1)
            let s3 = Self.add(s0, s2)
            let s4 = Self.sub(s0, s2)
            f[2 * m] = Self.sub(f[0], s3)
            f[0] = Self.add(f[0], s3)
            if inverse {
                f[m] = Complex(A.sub(s5.r, s4.i), A.add(s5.i, s4.r))
                f[3 * m] = Complex(A.add(s5.r, s4.i), A.sub(s5.i, s4.r))
            } else {
                f[m] = Complex(A.add(s5.r, s4.i), A.sub(s5.i, s4.r))
                f[3 * m] = Complex(A.sub(s5.r, s4.i), A.add(s5.i, s4.r))
            }
        }
    }

    private func butterfly3(_ fout: UnsafeMutablePointer<Complex>, _ fstride: Int, _ m: Int) {
        let epi3 = twiddles[fstride * m]
        for k in 0..<m {
            let f = fout + k
            for q in 0..<3 { Self.fixDiv(&f[q * m], 3) }
            let s1 = A.multiply(f[m], twiddles[k * fstride])
            let s2 = A.multiply(f[2 * m], twiddles[2 * k * fstride])
            let s3 = Self.add(s1, s2)
            var s0 = Self.sub(s1, s2)
            f[m] = Complex(A.sub(f[0].r, A.half(s3.r)), A.sub(f[0].i, A.half(s3.i)))
            s0 = Complex(A.multiply(s0.r, epi3.i), A.multiply(s0.i, epi3.i))
            f[0] = Self.add(f[0], s3)
            f[2 * m] = Complex(A.add(f[m].r, s0.i), A.sub(f[m].i, s0.r))
            f[m] = Complex(A.sub(f[m].r, s0.i), A.add(f[m].i, s0.r))
        }
    }

    private func butterfly5(_ fout: UnsafeMutablePointer<Complex>, _ fstride: Int, _ m: Int) {
        let ya = twiddles[fstride * m], yb = twiddles[fstride * 2 * m]
        func mul(_ a: Scalar, _ b: Scalar) -> Scalar { A.multiply(a, b) }
        func add(_ a: Scalar, _ b: Scalar) -> Scalar { A.add(a, b) }
        func sub(_ a: Scalar, _ b: Scalar) -> Scalar { A.sub(a, b) }
        for u in 0..<m {
            let f = fout + u
            for q in 0..<5 { Self.fixDiv(&f[q * m], 5) }
            let s0 = f[0]
            let s1 = A.multiply(f[m], twiddles[u * fstride])
            let s2 = A.multiply(f[2 * m], twiddles[2 * u * fstride])
            let s3 = A.multiply(f[3 * m], twiddles[3 * u * fstride])
            let s4 = A.multiply(f[4 * m], twiddles[4 * u * fstride])
            let s7 = Self.add(s1, s4), s10 = Self.sub(s1, s4)
            let s8 = Self.add(s2, s3), s9 = Self.sub(s2, s3)
            f[0] = Complex(add(f[0].r, add(s7.r, s8.r)), add(f[0].i, add(s7.i, s8.i)))
            let s5 = Complex(add(add(s0.r, mul(s7.r, ya.r)), mul(s8.r, yb.r)), add(add(s0.i, mul(s7.i, ya.r)), mul(s8.i, yb.r)))
            let s6 = Complex(add(mul(s10.i, ya.i), mul(s9.i, yb.i)), sub(A.negate(mul(s10.r, ya.i)), mul(s9.r, yb.i)))
            f[m] = Self.sub(s5, s6)
            f[4 * m] = Self.add(s5, s6)
            let s11 = Complex(add(add(s0.r, mul(s7.r, yb.r)), mul(s8.r, ya.r)), add(add(s0.i, mul(s7.i, yb.r)), mul(s8.i, ya.r)))
            let s12 = Complex(add(A.negate(mul(s10.i, yb.i)), mul(s9.i, ya.i)), sub(mul(s10.r, yb.i), mul(s9.r, ya.i)))
            f[2 * m] = Self.add(s11, s12)
            f[3 * m] = Self.sub(s11, s12)
        }
    }
}

package struct KissComplex<Scalar> {
    package var r: Scalar
    package var i: Scalar
    package init(_ r: Scalar, _ i: Scalar) {
        self.r = r
        self.i = i
    }
}

/// The scalar macros of kissfft's _kiss_fft_guts.h for one build.
package protocol KissArithmetic {
    associatedtype Scalar
    static var zero: Scalar { get }
    static func add(_ a: Scalar, _ b: Scalar) -> Scalar
    static func sub(_ a: Scalar, _ b: Scalar) -> Scalar
    static func negate(_ a: Scalar) -> Scalar
    /// `S_MUL` (and `C_MULBYSCALAR`'s product).
    static func multiply(_ a: Scalar, _ b: Scalar) -> Scalar
    /// `C_MUL`: the real and imaginary parts each rounded once.
    static func multiply(_ a: KissComplex<Scalar>, _ b: KissComplex<Scalar>) -> KissComplex<Scalar>
    /// `DIVSCALAR` (a no-op in float).
    static func fixDiv(_ a: Scalar, _ radix: Int) -> Scalar
    /// `HALF_OF(x)` of a scalar.
    static func half(_ a: Scalar) -> Scalar
    /// `HALF_OF(a + b)` and `HALF_OF(a − b)` with the sum in C's arithmetic type.
    static func halfOfSum(_ a: Scalar, _ b: Scalar) -> Scalar
    static func halfOfDifference(_ a: Scalar, _ b: Scalar) -> Scalar
    /// One component of `kf_cexp`.
    static func cexp(_ phase: Double) -> KissComplex<Scalar>
}

/// `FIXED_POINT 16`: int16 samples, int32 products, FRACBITS 15, SAMP_MAX 32767. Sums of two
/// int16 in `HALF_OF` are taken in int (no wrap).
package enum KissInt16: KissArithmetic {
    package static var zero: Int16 { 0 }
    @inline(__always) package static func add(_ a: Int16, _ b: Int16) -> Int16 { a &+ b }
    @inline(__always) package static func sub(_ a: Int16, _ b: Int16) -> Int16 { a &- b }
    @inline(__always) package static func negate(_ a: Int16) -> Int16 { 0 &- a }
    @inline(__always) private static func sround(_ x: Int32) -> Int16 { Int16(truncatingIfNeeded: (x &+ (1 << 14)) >> 15) }
    @inline(__always) private static func smul(_ a: Int16, _ b: Int16) -> Int32 { Int32(a) * Int32(b) }
    @inline(__always) package static func multiply(_ a: Int16, _ b: Int16) -> Int16 { sround(smul(a, b)) }
    @inline(__always) package static func multiply(_ a: KissComplex<Int16>, _ b: KissComplex<Int16>) -> KissComplex<Int16> {
        KissComplex(sround(smul(a.r, b.r) &- smul(a.i, b.i)), sround(smul(a.r, b.i) &+ smul(a.i, b.r)))
    }
    @inline(__always) package static func fixDiv(_ a: Int16, _ radix: Int) -> Int16 { sround(smul(a, Int16(32767 / radix))) }
    @inline(__always) package static func half(_ a: Int16) -> Int16 { a >> 1 }
    @inline(__always) package static func halfOfSum(_ a: Int16, _ b: Int16) -> Int16 { Int16(truncatingIfNeeded: (Int32(a) + Int32(b)) >> 1) }
    @inline(__always) package static func halfOfDifference(_ a: Int16, _ b: Int16) -> Int16 { Int16(truncatingIfNeeded: (Int32(a) - Int32(b)) >> 1) }
    package static func cexp(_ phase: Double) -> KissComplex<Int16> {
        KissComplex(Int16(floor(0.5 + 32767 * cos(phase))), Int16(floor(0.5 + 32767 * sin(phase))))
    }
}

/// `FIXED_POINT 32`: int32 samples, int64 products, FRACBITS 31, SAMP_MAX 2147483647. Sums of
/// two int32 wrap in C's int, `HALF_OF` included.
package enum KissInt32: KissArithmetic {
    package static var zero: Int32 { 0 }
    @inline(__always) package static func add(_ a: Int32, _ b: Int32) -> Int32 { a &+ b }
    @inline(__always) package static func sub(_ a: Int32, _ b: Int32) -> Int32 { a &- b }
    @inline(__always) package static func negate(_ a: Int32) -> Int32 { 0 &- a }
    @inline(__always) private static func sround(_ x: Int64) -> Int32 { Int32(truncatingIfNeeded: (x &+ (1 << 30)) >> 31) }
    @inline(__always) private static func smul(_ a: Int32, _ b: Int32) -> Int64 { Int64(a) * Int64(b) }
    @inline(__always) package static func multiply(_ a: Int32, _ b: Int32) -> Int32 { sround(smul(a, b)) }
    @inline(__always) package static func multiply(_ a: KissComplex<Int32>, _ b: KissComplex<Int32>) -> KissComplex<Int32> {
        KissComplex(sround(smul(a.r, b.r) &- smul(a.i, b.i)), sround(smul(a.r, b.i) &+ smul(a.i, b.r)))
    }
    @inline(__always) package static func fixDiv(_ a: Int32, _ radix: Int) -> Int32 { sround(smul(a, Int32(2147483647 / radix))) }
    @inline(__always) package static func half(_ a: Int32) -> Int32 { a >> 1 }
    @inline(__always) package static func halfOfSum(_ a: Int32, _ b: Int32) -> Int32 { (a &+ b) >> 1 }
    @inline(__always) package static func halfOfDifference(_ a: Int32, _ b: Int32) -> Int32 { (a &- b) >> 1 }
    package static func cexp(_ phase: Double) -> KissComplex<Int32> {
        KissComplex(Int32(floor(0.5 + 2147483647 * cos(phase))), Int32(floor(0.5 + 2147483647 * sin(phase))))
    }
}

/// The float build: float arithmetic throughout, `HALF_OF(x) = x · 0.5f`, no divisions.
package enum KissFloat: KissArithmetic {
    package static var zero: Float { 0 }
    @inline(__always) package static func add(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) package static func sub(_ a: Float, _ b: Float) -> Float { a - b }
    @inline(__always) package static func negate(_ a: Float) -> Float { -a }
    @inline(__always) package static func multiply(_ a: Float, _ b: Float) -> Float { a * b }
    @inline(__always) package static func multiply(_ a: KissComplex<Float>, _ b: KissComplex<Float>) -> KissComplex<Float> {
        KissComplex(a.r * b.r - a.i * b.i, a.r * b.i + a.i * b.r)
    }
    @inline(__always) package static func fixDiv(_ a: Float, _ radix: Int) -> Float { a }
    @inline(__always) package static func half(_ a: Float) -> Float { a * 0.5 }
    @inline(__always) package static func halfOfSum(_ a: Float, _ b: Float) -> Float { (a + b) * 0.5 }
    @inline(__always) package static func halfOfDifference(_ a: Float, _ b: Float) -> Float { (a - b) * 0.5 }
    package static func cexp(_ phase: Double) -> KissComplex<Float> { KissComplex(Float(cos(phase)), Float(sin(phase))) }
}
