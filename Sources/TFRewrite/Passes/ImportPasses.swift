extension PassRegistry {
    /// Passes that clean up graphs lowered from TensorFlow GraphDefs.
    static var importPasses: [Entry] {
        []
    }
}
