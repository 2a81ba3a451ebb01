/// IEEE 754 binary16 (sign, 5-bit exponent, 10-bit fraction) ↔ binary32, exactly: every
/// binary16 value is a binary32 value.
package enum Float16Bits {
    /// The binary16 bits of `f` when `f` is exactly a binary16 value (NaN: the quiet NaN).
    package static func bits(exactly f: Float) -> UInt16? {
        if f.isNaN { return 0x7e00 }
        let b = f.bitPattern
        let sign = UInt16(b >> 31) << 15
        if f.isInfinite { return sign | 0x7c00 }
        if f == 0 { return sign }
        let exponent = Int(f.exponent)
        var bits: UInt16
        if exponent >= -14 {
            // Normal: 10 fraction bits must hold the significand.
            guard exponent <= 15, b & 0x1fff == 0 else { return nil }
            bits = sign | UInt16(exponent + 15) << 10 | UInt16((b >> 13) & 0x3ff)
        } else {
            // Subnormal: a multiple of 2⁻²⁴ below 2⁻¹⁴.
            let units = f.magnitude * 0x1p24
            guard units == units.rounded(), units >= 1 else { return nil }
            bits = sign | UInt16(units)
        }
        return float(bits) == f ? bits : nil
    }

    package static func float(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int(h >> 10) & 0x1f
        let fraction = UInt32(h & 0x3ff)
        switch exponent {
        case 0:
            // Zero or subnormal: fraction · 2⁻²⁴, exact in binary32.
            let magnitude = Float(fraction) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? magnitude : -magnitude
        case 0x1f:
            // Infinity or NaN; the payload moves to the top of the binary32 fraction.
            return Float(bitPattern: sign | 0x7f80_0000 | (fraction << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (fraction << 13))
        }
    }
}
