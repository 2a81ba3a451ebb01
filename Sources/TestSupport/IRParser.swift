import FlatBuffers
import IR
import Ops
import Support

/// Reads the text `IRPrinter.print` writes back into a `Model`, so tests can write their input
/// graphs as text:
///
///     subgraph 0 "main"
///       input %0 "x": f32[1,4]
///       const %1 "w": f32[2,4] = [1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5]
///       #0 FULLY_CONNECTED v1 {act=RELU} (%0, %1, %none) -> %2 "y": f32[1,2]
///       output %2
///
/// `IRPrinter.print(try IRParser.parse(text)) == text` for the printer's output, with two
/// documented exceptions where the text holds less than the model did:
/// - a constant printed as a digest (`= sha256:1a2b3c4d`, more than 16 elements or a type
///   without a printed value form) comes back as zero bytes of its type and shape, so its
///   digest differs;
/// - a large sparse constant (`= sparse sha256:1a2b3c4d`) comes back the same way, with a
///   sparsity that stores every element (all dimensions DENSE, in order); a small one is exact
///   (`= sparse(order [0, 1], blocks [], dims [dense 2, csr [0, 1, 2] [2, 0]]) [5.0, 7.0]`,
///   index vectors as Int32Vector);
/// - per-channel quantization printed as `q(axis 0: 8 scales, zp 0)` comes back with every scale
///   1.0 and zero points 0 (`zp mixed`: 0, 1, 0, 1, …).
/// Lines starting with `# ` and blank lines are ignored (golden files carry such headings).
/// Op numbers (`#3`) and value numbers (`%7`) are kept: a number that is skipped becomes an
/// erased op or an unused value, so the text prints back with the same numbers. A value used
/// but never declared (no `input`, `const` or op output) is a runtime value of type f32[].
/// Model-level data the printer does not show (buffers beyond the constants, metadata,
/// signatures, custom op bytes) is left empty.
public enum IRParser {
    public static func parse(_ text: String) throws(IRParseError) -> Model {
        var model = Model()
        var current: SubgraphText?
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = n + 1
            let body = line.drop { $0 == " " }
            if body.isEmpty || (body.hasPrefix("#") && !(body.dropFirst().first?.isNumber ?? false)) { continue }
            var cursor = IRTextCursor(body)
            do throws(IRTextFailure) {
                if cursor.skip("subgraph ") {
                    if let s = current { try s.build(into: &model) }
                    current = try SubgraphText(header: &cursor, index: model.subgraphs.count, line: lineNumber)
                    continue
                }
                guard current != nil else { throw IRTextFailure("expected 'subgraph 0' before '\(body)'") }
                try current!.read(&cursor, line: lineNumber)
            } catch {
                throw IRParseError(line: error.line ?? lineNumber, error.message)
            }
        }
        guard let last = current else { throw IRParseError(line: 1, "no 'subgraph 0' line") }
        do throws(IRTextFailure) {
            try last.build(into: &model)
        } catch {
            throw IRParseError(line: error.line ?? last.line, error.message)
        }
        return model
    }
}

/// One subgraph's lines, collected before the graph is built (an op may use a value declared
/// further down).
private struct SubgraphText {
    /// The line of the `subgraph` header, for errors found when building.
    let line: Int
    var name: String?
    var values: [Int32: ValueText] = [:]
    var inputs: [ValueID] = []
    var outputs: [ValueID] = []
    var ops: [(index: Int32, op: Op)] = []

    struct ValueText {
        var value: Value
        /// The text of its declaration after the number, to accept a value declared twice
        /// (a graph input that is also a constant) only when both agree.
        var declaration: String
        var constant: [UInt8]?
        var line: Int
    }

    init(header cursor: inout IRTextCursor, index: Int, line: Int) throws(IRTextFailure) {
        self.line = line
        let number = try cursor.integer(Int.self, "a subgraph number")
        guard number == index else { throw IRTextFailure("subgraph \(number) out of order: expected subgraph \(index)") }
        if cursor.skip(" \"") {
            name = try cursor.take(until: "\"", "subgraph name")
        }
        guard cursor.atEnd else { throw IRTextFailure("unexpected '\(cursor.excerpt)' after the subgraph header") }
    }

    mutating func read(_ cursor: inout IRTextCursor, line: Int) throws(IRTextFailure) {
        if cursor.skip("input ") {
            let (id, _) = try declare(&cursor, line: line, constant: false)
            guard cursor.atEnd else { throw IRTextFailure("unexpected '\(cursor.excerpt)' after the input") }
            inputs.append(id)
        } else if cursor.skip("const ") {
            try declare(&cursor, line: line, constant: true)
            guard cursor.atEnd else { throw IRTextFailure("unexpected '\(cursor.excerpt)' after the constant") }
        } else if cursor.skip("output ") {
            guard case .index(let i) = try cursor.valueID() else { throw IRTextFailure("a graph output cannot be %none") }
            guard cursor.atEnd else { throw IRTextFailure("unexpected '\(cursor.excerpt)' after the output") }
            outputs.append(ValueID(i))
        } else if cursor.skip("#") {
            try readOp(&cursor, line: line)
        } else {
            throw IRTextFailure("expected input, const, output or an op (#0 …), got '\(cursor.excerpt)'")
        }
    }

    /// `%3 "name": f32[1,4] q(0.5, 0)`, and for constants ` = [1, 2]` or ` = sha256:…`.
    @discardableResult
    mutating func declare(_ cursor: inout IRTextCursor, line: Int, constant: Bool) throws(IRTextFailure) -> (ValueID, Value) {
        guard case .index(let i) = try cursor.valueID() else { throw IRTextFailure("%none cannot be declared") }
        var name = ""
        if cursor.skip(" \"") { name = try cursor.take(until: "\": ", "value name") } else { try cursor.expect(": ", "': ' and a type after %\(i)") }
        var value = try IRTypeText.value(&cursor, name: name)
        var bytes: [UInt8]?
        if constant {
            try cursor.expect(" = ", "' = ' and the constant's data")
            // A sparse constant (printed by digest) comes back stored densely in a sparse
            // encoding: every dimension DENSE, in order.
            if cursor.skip("sparse(") {
                value.sparsity = try IRTypeText.sparsity(&cursor)
                try cursor.expect(") ", "') ' and the stored values")
            } else if cursor.skip("sparse ") {
                guard cursor.excerpt.hasPrefix("sha256:") else { throw IRTextFailure("a sparse constant is written as sparse(…) [values] or sparse sha256:…") }
                value.sparsity = .allDense(value.shape)
            }
            bytes = try IRTypeText.constantData(&cursor, value)
            value.buffer = BufferID(1)  // a placeholder: `build` gives each constant its own buffer
        }
        let text = value.name + "\u{0}" + IRPrinter.typeText(value)
        if var existing = values[i] {
            guard existing.declaration == text else { throw IRTextFailure("%\(i) declared again with a different name or type (first on line \(existing.line))") }
            if let bytes {
                guard existing.constant == nil || existing.constant == bytes else { throw IRTextFailure("%\(i) given two different constant values") }
                existing.constant = bytes
                existing.value.buffer = value.buffer
                values[i] = existing
            }
        } else {
            values[i] = ValueText(value: value, declaration: text, constant: bytes, line: line)
        }
        return (ValueID(i), value)
    }

    /// `#2 CONV_2D v3 {padding=SAME, …, act=RELU} (%0, %1, %none) -> %3 "y": f32[1,4], …`
    mutating func readOp(_ cursor: inout IRTextCursor, line: Int) throws(IRTextFailure) {
        let index = try cursor.integer(Int32.self, "an op number after '#'")
        if let last = ops.last, index <= last.index { throw IRTextFailure("op #\(index) comes after #\(last.index): op numbers must increase") }
        try cursor.expect(" ", "a space after the op number")
        let name = cursor.take { $0 != " " }
        try cursor.expect(" v", "the op version (v1) after \(name)")
        let version = try cursor.integer(Int32.self, "an op version")
        var fields: [(String, String)] = []
        var activation: String?
        if cursor.skip(" {") {
            let inside = try Self.braced(&cursor)
            for item in inside {
                guard let eq = item.firstIndex(of: "=") else { throw IRTextFailure("option '\(item)' is not name=value") }
                let key = String(item[..<eq]), value = String(item[item.index(after: eq)...])
                if key == "act" { activation = value } else { fields.append((key, value)) }
            }
        }
        try cursor.expect(" (", "'(' and the op's inputs")
        var inputs: [ValueID] = []
        if !cursor.skip(")") {
            repeat {
                switch try cursor.valueID() {
                case .absent: inputs.append(.absent)
                case .index(let i): inputs.append(ValueID(i))
                }
            } while cursor.skip(", ")
            try cursor.expect(")", "')' after the op's inputs")
        }
        try cursor.expect(" ->", "'->' and the op's outputs")
        var outputs: [ValueID] = []
        cursor.skipSpaces()
        while !cursor.atEnd {
            let (id, _) = try declare(&cursor, line: line, constant: false)
            outputs.append(id)
            if cursor.atEnd { break }
            try cursor.expect(", ", "', ' between outputs")
        }
        let kind = try Self.kind(name: name, fields: fields, activation: activation)
        ops.append((index, Op(kind: kind, version: version, inputs: inputs, outputs: outputs)))
    }

    static func kind(name: String, fields: [(String, String)], activation: String?) throws(IRTextFailure) -> OpKind {
        if let op = BuiltinOperator(name: name), op.name == name, op != .custom {
            return try OpOptionsText.kind(op, fields: fields, activation: activation)
        }
        // The printer shows a custom op by its custom code. A name spelled like a builtin
        // (capitals, digits, '_') that is none is a typo, not a custom op.
        if name.isEmpty || name.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "_") }) {
            throw IRTextFailure("unknown op '\(name)'")
        }
        guard fields.isEmpty, activation == nil else { throw IRTextFailure("custom op \(name) prints no options") }
        return .custom(code: name)
    }

    /// The comma-separated items of `{…}`, up to the closing brace; commas inside (), [] or
    /// quotes (an opaque field `int32s([1, 2])`) do not split.
    static func braced(_ cursor: inout IRTextCursor) throws(IRTextFailure) -> [String] {
        var items: [String] = []
        var item = ""
        var depth = 0
        var quoted = false
        var escaped = false
        while let c = cursor.next() {
            if quoted {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quoted = false }
                item.append(c)
                continue
            }
            switch c {
            case "\"": quoted = true
            case "(", "[": depth += 1
            case ")", "]": depth -= 1
            case "}" where depth == 0:
                items.append(item)
                return items
            case "," where depth == 0:
                items.append(item)
                item = ""
                guard cursor.skip(" ") else { throw IRTextFailure("expected ', ' between options") }
                continue
            default: break
            }
            item.append(c)
        }
        throw IRTextFailure("options have no closing '}'")
    }

    /// Failures carry the line of the subgraph header.
    func build(into model: inout Model) throws(IRTextFailure) {
        do throws(IRTextFailure) { try buildGraph(into: &model) } catch { throw IRTextFailure(error.message, line: line) }
    }

    private func buildGraph(into model: inout Model) throws(IRTextFailure) {
        var graph = Graph(name: name)
        let count = max(values.keys.max().map { Int($0) + 1 } ?? 0, referencedCount)
        graph.values = (0..<count).map { _ in Value(name: "", type: ElementType(.float32), shape: []) }
        for (i, v) in values.sorted(by: { $0.key < $1.key }) {
            guard i >= 0 else { throw IRTextFailure("negative value number %\(i)") }
            var value = v.value
            if let bytes = v.constant {
                value.buffer = model.addBuffer(ByteSlice(bytes))
            }
            graph.values[Int(i)] = value
        }
        var opList: [Op] = []
        for (index, op) in ops {
            while opList.count < Int(index) {
                var erased = Op(kind: .custom(code: "erased"), inputs: [], outputs: [])
                erased.isErased = true
                opList.append(erased)
            }
            opList.append(op)
        }
        graph.ops = opList
        graph.inputs = inputs
        graph.outputs = outputs
        model.subgraphs.append(graph)
    }

    /// One past the highest value number any op or graph output uses.
    var referencedCount: Int {
        let ids = ops.flatMap { $0.op.inputs + $0.op.outputs } + inputs + outputs
        return ids.filter { !$0.isAbsent }.map { $0.index + 1 }.max() ?? 0
    }
}
