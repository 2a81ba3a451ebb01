import XCTest

@testable import TFRewrite

final class RepairRegistryTests: XCTestCase {
    static let names = ["conv-to-depthwise", "depthwise-to-conv", "fold-shapes", "int8-io", "cleanup", "strip"]

    func testEveryRepairPassIsRegisteredAndBuildsWithDefaults() throws {
        for name in Self.names {
            let entry = try XCTUnwrap(PassRegistry.entry(name), name)
            XCTAssertFalse(entry.summary.isEmpty)
            XCTAssertFalse(entry.summary.contains("\n"), "summary of \(name) must be one line")
            let pass = try entry.make(PassOptions())
            XCTAssertEqual(pass.name, name)
            // Kebab-case names.
            XCTAssertTrue(name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, name)
        }
    }

    func testEveryRepairPassRejectsUnknownOptionsWithLocation() {
        for name in Self.names {
            guard let entry = PassRegistry.entry(name) else { return XCTFail(name) }
            XCTAssertThrowsError(try entry.make(PassOptions(["no_such_option": .bool(true)], location: "rules.yaml:42"))) { e in
                XCTAssertTrue("\(e)".hasPrefix("rules.yaml:42: pass \(name): option 'no_such_option': unknown option"), "\(e)")
            }
        }
    }

    /// Every pass leaves a model it has nothing to do for untouched and says so.
    func testPassesAreNoOpsOnModelsWithoutWork() throws {
        for name in Self.names {
            var m = tinyFullyConnectedModel()
            var ctx = PassContext()
            var pass = try PassRegistry.entry(name)!.make(PassOptions(name == "strip" ? ["description": .bool(false), "names": .string("keep")] : [:]))
            let before = m
            XCTAssertFalse(try pass.run(on: &m, context: &ctx), name)
            XCTAssertEqual(m, before, name)
        }
    }
}
