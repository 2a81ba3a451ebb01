extension PassRegistry {
    /// Passes of the int8 quantizer.
    static var quantizationPasses: [Entry] {
        []
    }
}
