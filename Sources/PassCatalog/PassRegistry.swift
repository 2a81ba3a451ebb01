import FlatBuffers
import Passes
import Quantize
import Rewrite

/// The built-in passes, in the order of `--list-passes`, then the ones library users registered.
extension PassRegistry {
    public static var all: [Entry] {
        builtins + registered
    }

    package static var builtins: [Entry] {
        repairPasses + importPasses + quantizationPasses
    }

    public static func entry(_ name: String) -> Entry? { all.first { $0.name == name } }
}
