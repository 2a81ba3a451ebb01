/// The int16 sigmoid and tanh of TFLM's integer kernels (reference/integer_ops/logistic.h and
/// tanh.h), which the int8 LSTM uses for its gates and cell (and int16 LOGISTIC/TANH use).
///
/// Both interpolate one table of sigmoid(i/24) in 0.16 fixed point (tanh(x) = 2·sigmoid(2x) − 1).
/// The table's values are facts of the TFLM kernels, listed as `sigmoid_table_uint16` in
/// tensorflow/lite/kernels/internal/common.h: they are close to round(65536·sigmoid(i/24)) but
/// 44 of the 256 entries differ from it by one, so they cannot be recomputed here.
package enum Int16Nonlinearity {
    static let sigmoidTable: [UInt32] = [
        32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
        40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
        47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
        53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
        57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
        60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
        62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
        63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
        64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
        64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
        65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
        65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
        65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
        65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
        65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
        65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
        65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
        65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
        65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
        65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
        65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
        65534, 65534, 65534, 65535,
    ]

    /// Both kernels' input scaling: a multiplier of 0 means 3·2^shift and no shift; otherwise
    /// multiply, then shift right with rounding.
    @inline(__always)
    private static func scaled(_ x: Int16, multiplier: Int32, leftShift: Int32) -> Int32 {
        let (m, s) = multiplier == 0 ? (Int32(3) << leftShift, Int32(0)) : (multiplier, leftShift)
        let round: Int32 = s > 0 ? 1 << (s - 1) : 0
        return (Int32(x) &* m &+ round) >> s
    }

    /// `reference_integer_ops::Logistic(input_multiplier, input_left_shift, …)`: a multiplier of
    /// 0 means 3·2^shift with no shift (the power-of-two case the LSTM uses: Q3.12 in, Q0.15 out).
    package static func logistic(_ x: Int16, multiplier: Int32 = 0, leftShift: Int32 = 0) -> Int16 {
        let input = scaled(x, multiplier: multiplier, leftShift: leftShift)
        let magnitude = input.magnitude
        let high = magnitude >> 9
        var result: UInt32
        if high >= 255 {
            result = 0x7FFF << 10
        } else {
            let a = sigmoidTable[Int(high)], b = sigmoidTable[Int(high) + 1]
            result = (a << 9) &+ (magnitude & 0x1FF) &* (b &- a)
        }
        result = input >= 0 ? result &+ (1 << 9) : (1 << 25) &- result &+ (1 << 9) &- 1
        return Int16(truncatingIfNeeded: result >> 10)
    }

    /// `reference_integer_ops::Tanh(input_multiplier, input_left_shift, …)`, same conventions.
    package static func tanh(_ x: Int16, multiplier: Int32 = 0, leftShift: Int32 = 0) -> Int16 {
        let input = scaled(x, multiplier: multiplier, leftShift: leftShift)
        let magnitude = input.magnitude
        let high = magnitude >> 8
        var result: Int32
        if high >= 255 {
            result = 0xFFFF << 8
        } else {
            let a = sigmoidTable[Int(high)], b = sigmoidTable[Int(high) + 1]
            result = Int32(bitPattern: (a << 8) &+ (magnitude & 0xFF) &* (b &- a))
        }
        result = input >= 0 ? result &- (1 << 23) &+ (1 << 7) : (0 &- result) &+ (1 << 23) &+ (1 << 7) &- 1
        return Int16(truncatingIfNeeded: result >> 8)
    }
}
