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

/// Compiles `rules:` entries into `Pattern`s (the type the built-in passes use) and a pass that
/// runs them in one `GreedyRewriteDriver`. Rules are tried in file order at each op: earlier
/// rules get a higher benefit.
public struct DeclarativeRuleCompiler: RuleCompiler {
    public init() {}

    public func compile(_ rules: [CustomRule]) throws -> any GraphPass {
        CustomRulesPass(rules: try Self.definitions(rules))
    }

    /// Parses and validates; the first problem is a `file:line` `RulesError`.
    public func validate(_ rules: [CustomRule]) throws {
        _ = try Self.definitions(rules)
    }

    package static func definitions(_ rules: [CustomRule]) throws -> [RuleDefinition] {
        var seen: [String: SourceLocation] = [:]
        return try rules.map { rule in
            if let first = seen[rule.name] {
                throw RulesError(at: rule.location, "rule \(rule.name): a rule with this name is already defined at \(first)")
            }
            seen[rule.name] = rule.location
            return try RuleParser.parse(rule)
        }
    }
}

/// One line per rule, for `tfrewrite rules check` and `--list-passes`.
public struct RuleSummary: Sendable {
    public var name: String
    public var location: SourceLocation
    /// The rule's `description:`.
    public var about: String?
    /// "RELU6 ← CONV_2D|DEPTHWISE_CONV_2D": the matched ops, root first.
    public var shape: String
    public var conditionCount: Int
    public var actions: [String]

    public var line: String {
        "\(name) (\(location)): matches \(shape); \(conditionCount) condition\(conditionCount == 1 ? "" : "s"); \(actions.joined(separator: ", "))"
            + (about.map { " — \($0)" } ?? "")
    }
}

extension DeclarativeRuleCompiler {
    /// Summaries of valid rules (throws the first problem otherwise).
    public static func summaries(_ rules: [CustomRule]) throws -> [RuleSummary] {
        try definitions(rules).map {
            RuleSummary(name: $0.name, location: $0.location, about: $0.description, shape: $0.shapeSummary, conditionCount: $0.conditions.count, actions: $0.actions.map(\.verb))
        }
    }

    /// The patterns of valid rules, e.g. to run them with built-in patterns in one driver.
    public static func patterns(_ rules: [CustomRule]) throws -> [Pattern] {
        CustomRulesPass(rules: try definitions(rules)).patterns
    }
}

/// The pass that runs custom rules (`custom-rules` in `--list-passes`, `--print-ir-after`).
public struct CustomRulesPass: GraphPass {
    public static let name = "custom-rules"
    public static let summary = "the rules: of the rules files (declarative patterns), run to a fixed point"

    package let rules: [RuleDefinition]
    /// Rule names left out (`--disable-pass NAME`).
    public var disabled: Set<String> = []
    public var maxIterations = 64

    package init(rules: [RuleDefinition]) { self.rules = rules }

    public var ruleNames: [String] { rules.map(\.name) }

    public var patterns: [Pattern] {
        let active = rules.filter { !disabled.contains($0.name) }
        return active.enumerated().map { k, rule in
            let matcher = RuleMatcher(rule: rule)
            let rewrite = RuleRewrite(rule: rule)
            return Pattern(name: rule.name, rootKinds: rule.rootKinds, benefit: active.count - k) { r, id in
                guard let bindings = matcher.match(r, at: id) else { return false }
                let before = r.graph
                let bufferCount = r.model.buffers.count
                do {
                    try rewrite.apply(&r, bindings, root: id)
                } catch let e as RuleRewriteError {
                    throw PassError.failed(pass: Self.name, message: "rule \(rule.name) (\(rule.location)): at \(before.ops[id.index].label(id)): line \(e.location.line): \(e.message)")
                }
                // A rewrite that changes nothing does not count as firing (no endless loop).
                return r.graph != before || r.model.buffers.count != bufferCount
            }
        }
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        do {
            return try GreedyRewriteDriver(patterns: patterns, passName: Self.name, maxIterations: maxIterations).run(on: &model, context: &context)
        } catch PassError.didNotConverge(let pass, let n, let firing) {
            let located = firing.map { name in rules.first { $0.name == name }.map { "\(name) (\($0.location))" } ?? name }
            throw PassError.didNotConverge(pass: pass, iterations: n, stillFiring: located)
        } catch var e as RewriteBudgetExceeded {
            e.pattern = rules.first { $0.name == e.pattern }.map { "rule \(e.pattern) (\($0.location))" } ?? e.pattern
            throw e
        }
    }
}
