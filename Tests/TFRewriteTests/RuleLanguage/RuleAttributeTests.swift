import XCTest

@testable import TFRewrite

/// The rule language's op attributes come from the operator table: names, order and messages.
final class RuleAttributeTests: XCTestCase {
    static func message(_ error: Error) -> String? {
        (error as? RuleExprError)?.message ?? (error as? RuleEvalError)?.message
    }

    func testAnOpListsItsAttributesInDeclarationOrder() {
        XCTAssertEqual(RuleProperties.attributeNames(of: .conv2D), "attributes: padding, stride_w, stride_h, dilation_w, dilation_h, fused_activation, quantized_bias_type")
        XCTAssertEqual(RuleProperties.attributeNames(of: .maxPool2D), "attributes: padding, stride_w, stride_h, fused_activation, filter_w, filter_h")
        XCTAssertEqual(RuleProperties.attributeNames(of: .relu), "it has none")
    }

    func testAnAttributeNamesTheOpsThatHaveIt() {
        XCTAssertThrowsError(try RuleProperties.attributeType("fused_activation", kinds: [.reshape, .softmax], opName: "p")) { error in
            XCTAssertEqual(Self.message(error), "RESHAPE/SOFTMAX has no attribute 'fused_activation' (it belongs to CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MAX_POOL_2D, FULLY_CONNECTED, ADD, SUB, MUL, CONCATENATION)")
        }
        XCTAssertThrowsError(try RuleProperties.attributeType("axis", kinds: [.conv2D], opName: "p")) { error in
            XCTAssertEqual(Self.message(error), "CONV_2D has no attribute 'axis' (attributes: padding, stride_w, stride_h, dilation_w, dilation_h, fused_activation, quantized_bias_type)")
        }
        XCTAssertEqual(try RuleProperties.attributeType("new_shape", kinds: nil, opName: "p"), .list(.int))
    }

    func testReadAndWriteThroughTheTable() throws {
        var kind = RuleProperties.defaultKind(.pack)
        try RuleProperties.set("axis", .int(1), on: &kind)
        XCTAssertEqual(kind, .pack(valuesCount: 0, axis: 1))
        XCTAssertEqual(RuleProperties.get("axis", of: kind), .int(1))
        XCTAssertThrowsError(try RuleProperties.set("axis", .int(1 << 40), on: &kind)) { error in
            XCTAssertEqual(Self.message(error), "axis: expected a 32-bit int, got 1099511627776")
        }
        var fc = RuleProperties.defaultKind(.fullyConnected)
        XCTAssertThrowsError(try RuleProperties.set("weights_format", .int(300), on: &fc)) { error in
            XCTAssertEqual(Self.message(error), "weights_format: expected an int in -128...127, got 300")
        }
        // Read-only: the IR keeps LEAKY_RELU's options opaquely.
        var leaky = RuleProperties.defaultKind(.leakyRelu)
        XCTAssertEqual(RuleProperties.get("alpha", of: leaky), .float(0))
        XCTAssertThrowsError(try RuleProperties.set("alpha", .float(0.2), on: &leaky)) { error in
            XCTAssertEqual(Self.message(error), "LEAKY_RELU has no settable attribute 'alpha'")
        }
        // An op without a fused activation ignores one.
        var relu = OpKind.relu
        try RuleProperties.set("fused_activation", .symbol("RELU"), on: &relu)
        XCTAssertEqual(relu, .relu)
    }
}
