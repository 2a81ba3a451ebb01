/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TensorFlow's tensor
/// bundles and of LevelDB-format tables (tensorflow/core/lib/hash/crc32c.h).
package enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC of `bytes`, continuing from `crc` (0 to start).
    package static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return ~c
    }

    package static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The stored form of a CRC: rotated right by 15 bits plus a constant, so that the CRC of a
    /// string holding CRCs stays meaningful (crc32c.h `Mask`).
    package static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }

    /// The inverse of `mask`.
    package static func unmask(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- 0xa282_ead8
        return (rotated >> 17) | (rotated << 15)
    }
}
