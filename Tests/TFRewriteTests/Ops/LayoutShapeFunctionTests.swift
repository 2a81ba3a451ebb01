import TestSupport
import XCTest

@testable import TFRewrite

/// Shape functions of the operators the interpreter-coverage work added (issue 17): each on a
/// graph as text, the inferred shape checked against the kernel's Prepare rule and, where the
/// graph's output is written with it, against the verifier (no problems).
extension ShapeFunctionTests {
    /// `input`s, constants, one op line and its output: the verifier must accept the graph and
    /// the shape function must give `expected` for output 0.
    private func check(_ lines: String, _ expected: [Int32]?, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = graph(lines)
        XCTAssertEqual(try inferred(text)?.first, expected, file: file, line: line)
        if expected != nil { XCTAssertEqual(try problems(text), [], file: file, line: line) }
    }

    // Opaque option tables (the op_coverage.py `options` encoding).
    private static let keepDims = "{options_type=27, vtable=1, raw=040001000000}"
    private static let block2 = "{options_type=19, vtable=1, raw=040002000000}"
    private static let depthBlock2 = "{options_type=94, vtable=1, raw=040002000000}"
    private static let adjXY = "{options_type=101, vtable=2, raw=0400050001010000}"
    private static let pool2x2Stride2Same = "{options_type=5, vtable=5, raw=1400040008000c0010000200000002000000020000000200000000000000}"
    private static let pool3x2Stride1x2Valid = "{options_type=5, vtable=5, raw=1400040008000c0010000100000002000000030000000200000001000000}"

    func testReductionAndArgShapes() throws {
        for op in ["SUM", "REDUCE_MAX", "REDUCE_MIN"] {
            try check("""
                input %0 "x": f32[2,3,4]
                const %1 "a": i32[2] = [0, -1]
                #0 \(op) v1 (%0, %1) -> %2 "y": f32[3]
                output %2
                """, [3])
            try check("""
                input %0 "x": f32[2,3,4]
                const %1 "a": i32[1] = [1]
                #0 \(op) v1 \(Self.keepDims) (%0, %1) -> %2 "y": f32[2,1,4]
                output %2
                """, [2, 1, 4])
        }
        try check("""
            input %0 "x": i1[2,3,4]
            const %1 "a": i32[1] = [2]
            #0 REDUCE_ALL v1 (%0, %1) -> %2 "y": i1[2,3]
            output %2
            """, [2, 3])
        for op in ["ARG_MAX", "ARG_MIN"] {
            try check("""
                input %0 "x": f32[2,3,4]
                const %1 "a": i32[] = [-2]
                #0 \(op) v1 (%0, %1) -> %2 "y": i32[2,4]
                output %2
                """, [2, 4])
        }
        // An axis out of range: no answer rather than a guess.
        try check("""
            input %0 "x": f32[2,3]
            const %1 "a": i32[1] = [2]
            #0 SUM v1 (%0, %1) -> %2 "y": f32[2]
            output %2
            """, nil)
    }

    func testSpaceDepthBatchShapes() throws {
        try check("""
            input %0 "x": f32[1,4,6,3]
            #0 SPACE_TO_DEPTH v1 \(Self.block2) (%0) -> %1 "y": f32[1,2,3,12]
            output %1
            """, [1, 2, 3, 12])
        try check("""
            input %0 "x": f32[1,5,6,3]
            #0 SPACE_TO_DEPTH v1 \(Self.block2) (%0) -> %1 "y": f32[1,2,3,12]
            output %1
            """, nil)
        try check("""
            input %0 "x": f32[1,2,3,8]
            #0 DEPTH_TO_SPACE v1 \(Self.depthBlock2) (%0) -> %1 "y": f32[1,4,6,2]
            output %1
            """, [1, 4, 6, 2])
        try check("""
            input %0 "x": f32[1,4,5,2]
            const %1 "block": i32[2] = [2, 2]
            const %2 "pad": i32[2,2] = [0, 0, 1, 0]
            #0 SPACE_TO_BATCH_ND v1 (%0, %1, %2) -> %3 "y": f32[4,2,3,2]
            output %3
            """, [4, 2, 3, 2])
        try check("""
            input %0 "x": f32[4,2,3,2]
            const %1 "block": i32[2] = [2, 2]
            const %2 "crop": i32[2,2] = [0, 1, 1, 0]
            #0 BATCH_TO_SPACE_ND v1 (%0, %1, %2) -> %3 "y": f32[1,3,5,2]
            output %3
            """, [1, 3, 5, 2])
    }

    func testSelectionShapes() throws {
        try check("""
            input %0 "x": f32[3,1]
            const %1 "s": i32[3] = [2, 3, 4]
            #0 BROADCAST_TO v1 (%0, %1) -> %2 "y": f32[2,3,4]
            output %2
            """, [2, 3, 4])
        try check("""
            input %0 "x": f32[3,2]
            const %1 "s": i32[2] = [3, 4]
            #0 BROADCAST_TO v1 (%0, %1) -> %2 "y": f32[3,4]
            output %2
            """, nil)
        try check("""
            input %0 "x": f32[2,3,4]
            const %1 "a": i32[1] = [1]
            #0 REVERSE_V2 v1 (%0, %1) -> %2 "y": f32[2,3,4]
            output %2
            """, [2, 3, 4])
        try check("""
            input %0 "x": f32[3,4,2]
            input %1 "i": i32[5,2]
            #0 GATHER_ND v1 (%0, %1) -> %2 "y": f32[5,2]
            output %2
            """, [5, 2])
        try check("""
            input %0 "ids": i32[3]
            input %1 "v": f32[5,4,2]
            #0 EMBEDDING_LOOKUP v1 (%0, %1) -> %2 "y": f32[3,4,2]
            output %2
            """, [3, 4, 2])
        try check("""
            input %0 "v": f32[]
            const %1 "dims": i32[2] = [2, 3]
            #0 FILL v1 (%1, %0) -> %2 "y": f32[2,3]
            output %2
            """, [2, 3])
        try check("""
            input %0 "c": i1[2,1]
            input %1 "a": f32[2,3]
            input %2 "b": f32[3]
            #0 SELECT_V2 v1 (%0, %1, %2) -> %3 "y": f32[2,3]
            output %3
            """, [2, 3])
        try check("""
            input %0 "a": i32[3]
            input %1 "b": i32[2]
            #0 BROADCAST_ARGS v1 (%0, %1) -> %2 "y": i32[3]
            output %2
            """, [3])
    }

    func testResizePoolMatMulTransposeConvShapes() throws {
        for op in ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"] {
            try check("""
                input %0 "x": f32[1,3,4,2]
                const %1 "size": i32[2] = [5, 7]
                #0 \(op) v1 (%0, %1) -> %2 "y": f32[1,5,7,2]
                output %2
                """, [1, 5, 7, 2])
        }
        try check("""
            input %0 "x": f32[1,5,6,3]
            #0 L2_POOL_2D v1 \(Self.pool2x2Stride2Same) (%0) -> %1 "y": f32[1,3,3,3]
            output %1
            """, [1, 3, 3, 3])
        // VALID, filter 3 wide × 2 high, stride 1 across and 2 down: (5 − 2)/2 + 1 = 2 rows, 6 − 3 + 1 = 4 columns.
        try check("""
            input %0 "x": f32[1,5,6,3]
            #0 L2_POOL_2D v1 \(Self.pool3x2Stride1x2Valid) (%0) -> %1 "y": f32[1,2,4,3]
            output %1
            """, [1, 2, 4, 3])
        try check("""
            input %0 "a": f32[2,3,4]
            input %1 "b": f32[1,4,5]
            #0 BATCH_MATMUL v1 (%0, %1) -> %2 "y": f32[2,3,5]
            output %2
            """, [2, 3, 5])
        try check("""
            input %0 "a": f32[2,1,4,3]
            input %1 "b": f32[3,5,4]
            #0 BATCH_MATMUL v1 \(Self.adjXY) (%0, %1) -> %2 "y": f32[2,3,3,5]
            output %2
            """, [2, 3, 3, 5])
        try check("""
            input %0 "a": f32[2,3,4]
            input %1 "b": f32[2,5,6]
            #0 BATCH_MATMUL v1 (%0, %1) -> %2 "y": f32[2,3,6]
            output %2
            """, nil)
        try check("""
            input %0 "x": f32[1,3,4,2]
            const %1 "shape": i32[4] = [1, 6, 8, 3]
            const %2 "w": f32[3,1,1,2] = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
            #0 TRANSPOSE_CONV v1 {options_type=49, vtable=3, raw=0c0004000800020000000200000000000000} (%1, %2, %0) -> %3 "y": f32[1,6,8,3]
            output %3
            """, [1, 6, 8, 3])
    }
}
