import ArgumentParser
import TFRewrite

/// `--max-memory`: the budget for anything whose size an input file decides (see
/// `MemoryBudget`). Applied in `validate()`, which runs after parsing and before `run()`,
/// so every command that includes the group gets it without further code.
struct MemoryFlags: ParsableArguments {
    @Option(name: .customLong("max-memory"), help: ArgumentHelp(
        "Refuse inputs that would need more memory than this for one constant, tensor set or sample set (bytes, or with K/M/G/T; default: a quarter of the physical memory).",
        valueName: "SIZE"))
    var maxMemory: String?

    func validate() throws {
        guard let maxMemory else { return }
        guard let bytes = MemoryBudget.parse(maxMemory) else {
            throw ValidationError("--max-memory must be a positive size like 512M or 4G, got '\(maxMemory)'")
        }
        MemoryBudget.bytes = bytes
    }
}
