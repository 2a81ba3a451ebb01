extension PassRegistry {
    /// Passes of the int8 quantizer.
    static var quantizationPasses: [Entry] {
        [
            entry(QuantizeInt8Pass.self) { options in try QuantizeInt8Pass(options: options) },
        ]
    }
}
