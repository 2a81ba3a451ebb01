extension PassRegistry {
    /// Passes that repair .tflite models for a target runtime (rules files, `--rules`).
    static var repairPasses: [Entry] {
        []
    }
}
