import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

extension PassRegistry {
    /// Passes of the int8 quantizer.
    package static var quantizationPasses: [Entry] {
        [
            entry(QuantizeInt8Pass.self) { options in try QuantizeInt8Pass(options: options) },
        ]
    }
}
