import Foundation
import Export
import FlatBuffers
import IR
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Support

/// Several rules files merged in order (`--rules a --rules b`, and each file's `extends:` before
/// the file itself): target fields override, op tables merge, pass lists and custom rules
/// append. The result builds the pipeline the CLI runs.
///
/// `legalize-op-versions` runs once, last, whichever files listed it: it checks the target, so
/// it has to see the model after every rewrite a later file adds.
public struct RuleSet: Sendable {
    /// The files merged, in order (extended files first), as messages name them.
    public var files: [String] = []
    public var target: TargetProfile?
    public var passes: [PassSpec] = []
    public var rules: [CustomRule] = []

    public init() {}

    /// Loads rules by built-in name or path, in order. Relative paths are resolved against
    /// `directory` (default: the current directory).
    public static func load(_ specs: [String], directory: String? = nil) throws -> RuleSet {
        var loader = Loader(baseDirectory: directory ?? FileManager.default.currentDirectoryPath)
        for spec in specs { try loader.load(spec, from: nil) }
        return loader.set.finished()
    }

    /// Rules from text (tests, library users); `extends:` paths resolve against `directory`.
    public static func parse(_ text: String, file: String = "rules.yaml", directory: String? = nil) throws -> RuleSet {
        var loader = Loader(baseDirectory: directory ?? FileManager.default.currentDirectoryPath)
        try loader.add(text: text, file: file, key: "text:\(file)", directory: loader.baseDirectory)
        return loader.set.finished()
    }

    /// Adds one parsed file on top of what is loaded.
    public mutating func merge(_ f: RulesFile, name: String) {
        files.append(f.file)
        if let t = f.target {
            target = t.apply(to: target)
            target?.name = name
        }
        passes += f.passes
        rules += f.rules
    }

    /// Moves `legalize-op-versions` to the end, once, with the options of its last listing.
    package func finished() -> RuleSet {
        var s = self
        if let last = s.passes.last(where: { $0.name == LegalizeOpVersions.name }) {
            s.passes.removeAll { $0.name == LegalizeOpVersions.name }
            s.passes.append(last)
        }
        return s
    }

    /// The rule set's passes in order, minus `disabled` passes and rules. Custom rules, when a
    /// `RuleCompiler` is registered, run first. A conversion runs them inside the pipeline
    /// `PipelineBuilder` makes.
    public func pipeline(disabling disabled: Set<String> = []) throws -> Pipeline {
        var list: [any GraphPass] = []
        let rules = self.rules.filter { !disabled.contains($0.name) }
        if let first = rules.first, !disabled.contains(CustomRulesPass.name) {
            guard let compiler = RuleCompilers.current else {
                throw RulesError(at: first.location, "custom rules are read but this build cannot run them (no rule compiler is registered)")
            }
            list.append(try compiler.compile(rules))
        }
        for spec in passes where !disabled.contains(spec.name) {
            guard let entry = PassRegistry.entry(spec.name) else {
                throw RulesError(at: spec.location, "unknown pass '\(spec.name)'")
            }
            list.append(try spec.make(entry))
        }
        return Pipeline(list)
    }

    /// The context passes share: this rule set's target and the batch size (`--batch`).
    public func context(batch: Int? = nil, verifyAfterEachPass: Bool = false) -> PassContext {
        var c = PassContext(target: target, batch: batch)
        c.verifyAfterEachPass = verifyAfterEachPass
        return c
    }

    /// Runs the pipeline on a model, then checks that the target can load every op (also when
    /// no file listed `legalize-op-versions`). Returns the context with the passes' notes.
    @discardableResult
    public func run(on model: inout Model, batch: Int? = nil, verifyAfterEachPass: Bool = false) throws -> PassContext {
        var pipeline = try PipelineBuilder.conversion(PipelineRequest(ruleSet: self))
        var ctx = context(batch: batch, verifyAfterEachPass: verifyAfterEachPass)
        try pipeline.run(on: &model, context: &ctx)
        return ctx
    }

    /// Reads files in order, each file's `extends:` first; a file already merged is skipped, so
    /// two files extending the same base merge it once.
    package struct Loader {
        package var baseDirectory: String
        package var set = RuleSet()
        package var loaded: Set<String> = []
        package var inProgress: [String] = []

        package init(baseDirectory: String) { self.baseDirectory = baseDirectory }

        /// `spec` is a built-in name, or a path (relative to the including file's folder, or to
        /// the base directory for command-line specs).
        package mutating func load(_ spec: String, from includer: (file: String, directory: String?, location: SourceLocation)?) throws {
            func fail(_ m: String) -> RulesError {
                if let includer { return RulesError(at: includer.location, m) }
                return RulesError(file: "", line: nil, m)
            }
            let looksLikePath = spec.contains("/") || spec.hasSuffix(".yaml") || spec.hasSuffix(".yml")
            if !looksLikePath {
                guard let (text, display) = BuiltinRules.text(spec) else {
                    throw fail("unknown rules '\(spec)': not a built-in (\(BuiltinRules.names.joined(separator: ", "))) nor a .yaml path")
                }
                try add(text: text, file: display, key: "builtin:\(spec)", directory: nil, name: spec, includer: includer?.location)
                return
            }
            let dir = includer.map { $0.directory } ?? baseDirectory
            guard let dir else {
                throw fail("cannot resolve '\(spec)' relative to the built-in \(includer?.file ?? "rules"); built-ins can only extend built-ins")
            }
            let path = spec.hasPrefix("/") ? spec : (dir as NSString).appendingPathComponent(spec)
            let absolute = (path as NSString).standardizingPath
            // Messages name the file as the user (or the including file) wrote it.
            let display = includer == nil ? spec : (path as NSString).standardizingPath
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir), !isDir.boolValue else {
                throw fail("rules file '\(spec)' not found" + (includer == nil ? "" : " (looked for \(absolute))"))
            }
            guard let data = FileManager.default.contents(atPath: absolute) else { throw fail("cannot read rules file '\(spec)'") }
            guard let text = String(data: data, encoding: .utf8) else {
                throw RulesError(file: display, line: nil, "not UTF-8 text")
            }
            let name = ((spec as NSString).lastPathComponent as NSString).deletingPathExtension
            try add(text: text, file: display, key: "file:\(absolute)", directory: (absolute as NSString).deletingLastPathComponent, name: name, includer: includer?.location)
        }

        package mutating func add(text: String, file: String, key: String, directory: String?, name: String? = nil, includer: SourceLocation? = nil) throws {
            if loaded.contains(key) { return }
            if inProgress.contains(key) {
                let loc = includer ?? SourceLocation(file: file, line: 1)
                throw RulesError(at: loc, "rules extend each other in a cycle: \((inProgress + [key]).map(Self.shortName).joined(separator: " -> "))")
            }
            inProgress.append(key)
            defer { inProgress.removeLast() }
            let parsed = try RulesFile.parse(text, file: file)
            if let (base, at) = parsed.extends {
                try load(base, from: (file, directory, at))
            }
            set.merge(parsed, name: name ?? ((file as NSString).lastPathComponent as NSString).deletingPathExtension)
            loaded.insert(key)
        }

        package static func shortName(_ key: String) -> String {
            if key.hasPrefix("builtin:") { return String(key.dropFirst(8)) }
            if key.hasPrefix("file:") { return (String(key.dropFirst(5)) as NSString).lastPathComponent }
            return key
        }
    }
}

/// Turns custom rules (`rules:` in rules files) into a pass. Their language is defined later;
/// until a compiler is registered, rules files that contain rules fail with the first rule's
/// `file:line`.
public protocol RuleCompiler: Sendable {
    func compile(_ rules: [CustomRule]) throws -> any GraphPass
    /// Checks rules when a file is loaded (`file:line` errors); defaults to compiling them.
    func validate(_ rules: [CustomRule]) throws
}

extension RuleCompiler {
    public func validate(_ rules: [CustomRule]) throws { _ = try compile(rules) }
}

public enum RuleCompilers {
    /// The rule language of Rules/RuleLanguage (Docs/writing-passes.md).
    nonisolated(unsafe) public static var current: (any RuleCompiler)? = DeclarativeRuleCompiler()
}
