import TFRewrite

/// Puts every op's output tensors under a prefix ("kws/Identity"), so the tensors of a model
/// can be told apart from another's once both are linked into one firmware.
///
/// Given:
///
///     #0 RESHAPE v1 (%0, %1) -> %7 "tiny_conv_1/reshape_1/Reshape": i8[1,49,40,1]
///
/// Result:
///
///     #0 RESHAPE v1 (%0, %1) -> %7 "kws/tiny_conv_1/reshape_1/Reshape": i8[1,49,40,1]
///
/// Graph inputs (no op writes them) and constants keep their names. A local rewrite, so it is
/// a `Pattern` run by the same greedy driver as the built-in passes; the `hasPrefix` guard is
/// what makes it stop.
struct PrefixOutputNames: PatternPass {
    static let name = "prefix-output-names"
    static let summary = "Prefix every op output tensor's name (option prefix, default kws/)"

    var prefix: String

    init(prefix: String = "kws/") { self.prefix = prefix }

    /// For rules files: `- prefix-output-names: { prefix: "net/" }`.
    init(options: PassOptions) throws {
        self.init(prefix: try options.string("prefix", default: "kws/") ?? "kws/")
    }

    var patterns: [Pattern] {
        let prefix = self.prefix
        return [
            Pattern(name: Self.name, rootKinds: nil) { r, id in
                var changed = false
                for v in r[id].outputs where !v.isAbsent && !r[v].name.hasPrefix(prefix) {
                    r[v].name = prefix + r[v].name
                    changed = true
                }
                return changed
            }
        ]
    }
}
