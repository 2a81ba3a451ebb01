import FlatBuffers
import IR
import Kernels

// Operators tfrewrite keeps opaquely and knows only the version rule of (LiteRT's
// op_version.cc), so `legalize-op-versions` and the target check treat them right.
extension OperatorTable {
    static let versionedOperators: [OperatorDefinition] = [
        OperatorDefinition(.reduceProd, version: int8Or16InputV2),
    ]

    static let argVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([
            (s.input(0) == .bool, 3, "bool input"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }
    static let int8InputVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([(s.input(0) == .int8, 2, "int8 input")])
    }
    static let spaceBatchVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([
            (s.input(0) == .int16, 4, "int16 input"),
            (s.rank(0) != 4, 3, "input rank \(s.rank(0)) is not 4"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }
    static let int8Or16InputV2: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([(s.input(0) == .int8 || s.input(0) == .int16, 2, "\(s.name(s.input(0))) input")])
    }
}
