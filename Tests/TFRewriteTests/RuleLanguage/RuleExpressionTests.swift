import Foundation
import XCTest

@testable import TFRewrite

/// The expression language on its own: parsing, precedence, types, evaluation.
final class RuleExpressionTests: XCTestCase {
    func parse(_ s: String, bound: Set<String> = []) throws -> RuleExpr {
        try RuleExprParser.parse(s, isBound: { bound.contains($0) })
    }

    func eval(_ s: String) throws -> RuleValue {
        let r = Rewriter(model: Model(subgraphs: [Graph()]), subgraph: 0, context: PassContext())
        return try RuleEvaluator(snapshot: r, current: r, bindings: RuleBindings()).eval(try parse(s))
    }

    func testPrecedence() throws {
        XCTAssertEqual(try parse("not a == 1 and b or c", bound: ["a", "b", "c"]),
                       .binary("or", .binary("and", .unary("not", .binary("==", .name("a"), .int(1))), .name("b")), .name("c")))
        XCTAssertEqual(try eval("1 + 2 * 3 - 4 / 2"), .int(5))
        XCTAssertEqual(try eval("-7 / 2"), .int(-3))
        XCTAssertEqual(try eval("7 % 3 + 0.5"), .float(1.5))
    }

    func testEqualityIsFloat32ForFractions() throws {
        // 0.1 as float32 is 0.100000001490116…; the schema stores scales as float32.
        XCTAssertEqual(try eval("float(0.100000001490116) == 0.1"), .bool(true))
        XCTAssertEqual(try eval("3 == 3.0"), .bool(true))
        XCTAssertEqual(try eval("int8 == INT8"), .bool(true))
        XCTAssertEqual(try eval("[1, 2] == [1, 2.0]"), .bool(true))
    }

    func testFunctionsAndLaziness() throws {
        XCTAssertEqual(try eval("if(1 > 2, [][5], 9)"), .int(9), "only the chosen branch is evaluated")
        XCTAssertEqual(try eval("len([1, 2, 3]) + max(4, 7) + min([5, 2]) + product([2, 3]) + sum([1, 1])"), .int(20))
        XCTAssertEqual(try eval("starts_with(\"kws/x\", 'kws/') and not ends_with('a', 'b')"), .bool(true))
        XCTAssertEqual(try eval("replace('a/b', '/', '_')"), .string("a_b"))
        XCTAssertEqual(try eval("all([1, 1], 1) and any([1, 2], 2) and contains([3], 3)"), .bool(true))
        XCTAssertEqual(try eval("false and [][0] == 1"), .bool(false), "and short-circuits")
    }

    func testRuntimeErrorsAreErrorsNotTraps() {
        for s in ["[1][3]", "1 / 0", "(-9223372036854775807 - 1) / -1 == 0", "abs(-9223372036854775807 - 1)", "[1] + 1"] {
            XCTAssertThrowsError(try eval(s), s)
        }
    }

    func testSyntaxErrors() {
        for (s, m) in [("a ==", "expected a value, found the end"), ("(1", "expected ')'"), ("1 2", "unexpected '2'"), ("'x", "unterminated string"), ("a $ b", "unexpected character '$'")] {
            XCTAssertThrowsError(try parse(s)) { e in
                XCTAssertTrue((e as? RuleExprError)?.message.contains(m) ?? false, "\(s): \(e)")
            }
        }
    }

    func testTypeChecking() throws {
        var scope = RuleScope()
        scope.entries = ["x": .tensor, "p": .op(kinds: [.conv2D])]
        func type(_ s: String) throws -> RuleType { try RuleTypeChecker.check(try parse(s, bound: ["x", "p"]), scope) }
        XCTAssertEqual(try type("x.shape[0] * 2"), .int)
        XCTAssertEqual(try type("x.scale * 2"), .float)
        XCTAssertEqual(try type("p.padding == SAME"), .bool)
        for (s, m) in [("x.rank == 'four'", "cannot compare an int with a string"), ("p.padding == MIDDLE", "'MIDDLE' is not a padding"),
                       ("p.depth_multiplier", "CONV_2D has no attribute 'depth_multiplier'"), ("x.rank and true", "'and' needs conditions"),
                       ("lenn(x.shape)", "unknown function 'lenn'; did you mean 'len'?"), ("x.shape[0.5]", "an index must be an int")] {
            XCTAssertThrowsError(try type(s)) { e in
                XCTAssertTrue((e as? RuleExprError)?.message.contains(m) ?? false, "\(s): \(e)")
            }
        }
    }
}
