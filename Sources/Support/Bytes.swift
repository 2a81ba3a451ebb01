import FlatBuffers
import Foundation

/// Little-endian bytes of a scalar array.
package func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    #if _endian(little)
    // The host's bytes are the file's: one copy.
    return values.withUnsafeBytes { Array($0) }
    #else
    var out = [UInt8](repeating: 0, count: values.count * MemoryLayout<T>.size)
    out.withUnsafeMutableBytes { dst in
        for (i, v) in values.enumerated() {
            dst.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
        }
    }
    return out
    #endif
}

/// A shape as TensorFlow prints it in messages: [1,49,10].
package func shapeText<T: BinaryInteger>(_ dims: [T]) -> String {
    "[" + dims.map { "\($0)" }.joined(separator: ",") + "]"
}
