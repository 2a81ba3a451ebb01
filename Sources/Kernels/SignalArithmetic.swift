/// The integer helpers of TFLM's signal library (tflite-micro signal/src/*.cc), restated with
/// the same widths, shifts and wrap-arounds so the kernels built on them are bit-exact.
package enum SignalArithmetic {
    /// signal/src/msb_32.cc (the `__GNUC__` build): 32 − clz(x), and 32 for 0.
    package static func mostSignificantBit32(_ x: UInt32) -> UInt32 {
        x == 0 ? 32 : 32 - UInt32(x.leadingZeroBitCount)
    }

    /// signal/src/msb_64.cc: 64 − clzll(x), and 64 for 0.
    package static func mostSignificantBit64(_ x: UInt64) -> UInt32 {
        x == 0 ? 64 : 64 - UInt32(x.leadingZeroBitCount)
    }

    /// signal/src/max_abs.cc `MaxAbs16` (portable build): the running maximum is an int16, so a
    /// −32768 sample stores 32768 as −32768, and any later sample above that replaces it.
    package static func maxAbs16(_ input: UnsafePointer<Int16>, _ count: Int) -> Int16 {
        var maximum: Int16 = 0
        for i in 0..<count {
            let value = Int32(input[i])
            if value > Int32(maximum) {
                maximum = Int16(truncatingIfNeeded: value)
            } else if -value > Int32(maximum) {
                maximum = Int16(truncatingIfNeeded: -value)
            }
        }
        return maximum
    }

    /// signal/src/square_root_32.cc `Sqrt32`: bit-by-bit integer square root, rounded to
    /// nearest (never above 0xFFFF).
    package static func sqrt32(_ value: UInt32) -> UInt16 {
        value == 0 ? 0 : UInt16(truncatingIfNeeded: bitwiseSquareRoot(value, msb: mostSignificantBit32(value), cap: 0xFFFF))
    }

    /// signal/src/square_root_64.cc `Sqrt64` (the result is returned as uint32).
    package static func sqrt64(_ value: UInt64) -> UInt32 {
        if value >> 32 == 0 { return UInt32(sqrt32(UInt32(value))) }
        return UInt32(truncatingIfNeeded: bitwiseSquareRoot(value, msb: mostSignificantBit64(value), cap: 0xFFFF_FFFF))
    }

    /// The loop Sqrt32 and Sqrt64 share at their width: start at the highest even bit at or
    /// below the leading one, then round up when the remainder exceeds the root (unless capped).
    private static func bitwiseSquareRoot<T: FixedWidthInteger & UnsignedInteger>(_ value: T, msb: UInt32, cap: T) -> T {
        let top = T.bitWidth - 1
        var num = value
        var res: T = 0
        let maxBitNumber = (T.bitWidth - Int(msb)) | 1
        var bit: T = 1 << (top - maxBitNumber)
        var iterations = (top - maxBitNumber) / 2 + 1
        while iterations > 0 {
            iterations -= 1
            if num >= res &+ bit {
                num &-= res &+ bit
                res = (res >> 1) &+ bit
            } else {
                res >>= 1
            }
            bit >>= 2
        }
        if num > res && res != cap { res &+= 1 }
        return res
    }

    /// signal/src/log.cc `kLogLut`: log2(1 + x) − x correction, 128 segments (+1 guard).
    private static let logTable: [Int32] = [
        0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163,
        2329, 2490, 2646, 2797, 2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848,
        3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934,
        5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
        5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633,
        5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370,
        5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762,
        4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
        3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659,
        2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224,
        1094, 963, 830, 695, 559, 421, 282, 142, 0, 0,
    ]

    /// signal/src/log.cc `Log32`: ln(x) · out_scale in Q16 steps (x > 1), via a piecewise-linear
    /// log2 fraction and ln 2 = 45426 / 2^16.
    package static func log32(_ x: UInt32, outScale: UInt32) -> UInt32 {
        let integer = mostSignificantBit32(x) &- 1
        // Log2FractionPart32: the bits below the leading one, as a Q16 fraction.
        var frac = Int32(truncatingIfNeeded: Int64(x) - (Int64(1) << Int64(integer)))
        if integer < 16 {
            frac = frac << Int32(16 - integer)
        } else {
            frac = frac >> Int32(integer - 16)
        }
        let baseSegment = Int(UInt32(bitPattern: frac) >> 9)
        let c0 = logTable[baseSegment], c1 = logTable[baseSegment + 1]
        let segmentBase = Int32(512 * baseSegment)
        let relative = ((c1 - c0) &* (frac &- segmentBase)) >> 16
        let fraction = UInt32(bitPattern: frac &+ c0 &+ relative)
        let log2 = (integer << 16) &+ fraction
        let round: UInt32 = 65536 / 2
        let loge = UInt32(truncatingIfNeeded: (UInt64(45426) &* UInt64(log2) &+ UInt64(round)) >> 16)
        return (outScale &* loge &+ round) >> 16
    }

    /// signal/src/pcan_argc_fixed.h: kPcanSnrBits 12, kPcanOutputBits 6.
    private static let pcanSnrBits: UInt32 = 12, pcanOutputBits: UInt32 = 6

    /// signal/src/pcan_argc_fixed.cc `WideDynamicFunction`: the gain for a noise estimate,
    /// interpolated in `lut` (3 coefficients per octave); nil when `lut` is too short.
    package static func wideDynamicFunction(_ x: UInt32, _ lut: UnsafePointer<Int16>, count: Int) -> Int16? {
        if x <= 2 { return Int(x) < count ? lut[Int(x)] : nil }
        let interval = Int32(mostSignificantBit32(x))
        let base = Int(4 * interval - 6)
        guard base + 2 < count else { return nil }
        let shifted = interval < 11 ? x << UInt32(11 - interval) : x >> UInt32(interval - 11)
        let frac = Int32(shifted & 0x3FF)
        var result = (Int32(lut[base + 2]) &* frac) >> 5
        result &+= Int32(bitPattern: UInt32(bitPattern: Int32(lut[base + 1])) << 5)
        result &*= frac
        result = (result &+ (1 << 14)) >> 15
        result &+= Int32(lut[base])
        return Int16(truncatingIfNeeded: result)
    }

    /// signal/src/pcan_argc_fixed.cc `PcanShrink`.
    package static func pcanShrink(_ x: UInt32) -> UInt32 {
        if x < (2 << pcanSnrBits) {
            return (x &* x) >> (2 + 2 * pcanSnrBits - pcanOutputBits)
        }
        return (x >> (pcanSnrBits - pcanOutputBits)) &- (1 << pcanOutputBits)
    }
}
