import Foundation
import TFRewrite

/// What `convert` tells the user once the output is written: one line on stderr, or JSON on
/// stdout with --json (schema: Docs/cli.md, "convert").
struct ConversionSummary {
    var input: String
    var output: String
    var format: ModelOutputFormat
    var opsBefore: Int
    var opsAfter: Int
    /// Passes (and rules) that changed the model, in the order they first did.
    var changedBy: [String]
    /// The input file (or SavedModel folder) size; nil when it cannot be read.
    var bytesBefore: Int?
    /// The model FlatBuffer's size (the array's length for C forms).
    var bytesAfter: Int

    /// `in.pb -> out.tflite: 31 -> 24 ops; changed by fold-constants, cleanup; 1.2 MiB -> 310.4 KiB`
    var line: String {
        let changes = changedBy.isEmpty ? "no pass changed the model" : "changed by " + changedBy.joined(separator: ", ")
        let before = bytesBefore.map { PostTrainingQuantization.Result.bytesText($0) } ?? "?"
        return "\(input) -> \(output): \(opsBefore) -> \(opsAfter) ops; \(changes); \(before) -> \(PostTrainingQuantization.Result.bytesText(bytesAfter))"
    }

    var json: JSON {
        .object([
            ("input", .string(input)),
            ("output", .string(output)),
            ("format", .string(format.rawValue)),
            ("ops_before", .int(Int64(opsBefore))),
            ("ops_after", .int(Int64(opsAfter))),
            ("changed_by", .array(changedBy.map(JSON.string))),
            ("bytes_before", bytesBefore.map { .int(Int64($0)) } ?? .null),
            ("bytes_after", .int(Int64(bytesAfter))),
        ])
    }
}

extension Model {
    /// Ops in all subgraphs, erased ones not counted.
    var liveOpCount: Int { subgraphs.reduce(0) { $0 + $1.liveOpIDs.count } }
}
