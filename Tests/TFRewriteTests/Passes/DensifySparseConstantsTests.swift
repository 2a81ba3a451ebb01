import FlatBuffers
import TestSupport
import XCTest

@testable import TFRewrite

final class DensifySparseConstantsTests: XCTestCase {
    typealias Dim = Sparsity.Dimension

    static func csr(_ segments: [Int32], _ indices: [Int32]) -> Dim {
        Dim(format: .sparseCSR, segments: .init(unionType: 1, values: segments), indices: .init(unionType: 3, values: indices))
    }

    /// `text` with constant %1 stored sparse: `stored` in the given encoding.
    func model(_ text: String, stored: [Float], _ sparsity: Sparsity) throws -> Model {
        var m = try IRParser.parse(text)
        m.subgraphs[0].values[1].sparsity = sparsity
        let buffer = m.addBuffer(ByteSlice(le(stored.map(\.bitPattern))))
        m.subgraphs[0].values[1].buffer = buffer
        return m
    }

    /// Row-wise CSR (TF's EXPERIMENTAL_SPARSITY float export), expanded by a DENSIFY.
    func testDensifyOfACSRConstantFoldsGolden() throws {
        let given = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,3]
              const %1 "w": f32[2,3] = sparse(order [0, 1], blocks [], dims [dense 2, csr [0, 1, 2] [2, 0]]) [5.0, 7.0]
              #0 DENSIFY v1 (%1) -> %2 "w_dense": f32[2,3]
              #1 FULLY_CONNECTED v1 (%0, %2, %none) -> %3 "y": f32[1,2]
              output %3

            """)
        XCTAssertEqual(given.subgraphs[0].values[1].sparsity?.dimensions[1].indices?.values, [2, 0])
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([DensifySparseConstants(), Cleanup()], on: &m, context: &ctx))
        GoldenIR.check("densify-sparse-constants", given: given, passes: "densify-sparse-constants, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["FULLY_CONNECTED"])
        XCTAssertEqual(m.constant(m.subgraphs[0].ops.first { !$0.isErased }!.inputs[1])?.floats, [0, 0, 5, 7, 0, 0])
    }

    static let blockSparsity = Sparsity(traversalOrder: [0, 1, 2], blockMap: [1],
                                        dimensions: [Dim(format: .dense, denseSize: 4), csr([0, 1, 2, 2, 4], [0, 1, 0, 1]), Dim(format: .dense, denseSize: 2)])

    func blockSparseModel() throws -> Model {
        try model("""
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "w": f32[4,4] = sparse sha256:00000000
              #0 FULLY_CONNECTED v1 (%0, %1, %none) -> %2 "y": f32[1,4]
              output %2

            """, stored: [1, 2, 3, 4, 5, 0, 0, 6], Self.blockSparsity)
    }

    /// schema.fbs's block example: a 4×4 matrix in 1×2 blocks (block_map [1]), rows dense,
    /// block columns CSR, each block dense. A sparse constant read directly is densified in place.
    func testBlockSparseConstantReadDirectly() throws {
        var m = try blockSparseModel()
        XCTAssertNil(m.constant(ValueID(1)), "a sparse constant is not readable as dense")
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([DensifySparseConstants()], on: &m, context: &ctx))
        XCTAssertNil(m.subgraphs[0].values[1].sparsity)
        XCTAssertEqual(m.constant(ValueID(1))?.floats, [1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0, 5, 0, 0, 6])
    }

    /// traversal_order [1, 0]: columns first, then the rows present in each column.
    func testColumnMajorTraversal() throws {
        let sparsity = Sparsity(traversalOrder: [1, 0], dimensions: [Dim(format: .dense, denseSize: 2), Self.csr([0, 1, 2], [1, 0])])
        XCTAssertEqual(try SparseLayout(shape: [2, 2], sparsity: sparsity).densify(le([Float(8), 9].map(\.bitPattern)), elementSize: 4),
                       le([Float(0), 9, 8, 0].map(\.bitPattern)))
    }

    func testMetadataThatDoesNotFitTheValuesIsAnErrorNamingTheTensor() throws {
        let text = """
            subgraph 0 "main"
              input %0 "x": f32[1,3]
              const %1 "w": f32[2,3] = sparse sha256:00000000
              #0 FULLY_CONNECTED v1 (%0, %1, %none) -> %2 "y": f32[1,2]
              output %2

            """
        let cases: [(Sparsity, [Float], String)] = [
            (Sparsity(traversalOrder: [0, 1], dimensions: [Dim(format: .dense, denseSize: 2), Self.csr([0, 1, 2], [3, 0])]), [1, 2], "index 3 outside 0..<3"),
            (Sparsity(traversalOrder: [0, 1], dimensions: [Dim(format: .dense, denseSize: 2), Self.csr([0, 1, 2], [2, 0])]), [1, 2, 3], "3 values are stored, the metadata addresses 2"),
            (Sparsity(traversalOrder: [0, 1], dimensions: [Dim(format: .dense, denseSize: 2), Self.csr([0, 3], [2, 0])]), [1, 2], "segment 0 is 0..<3, array_indices has 2"),
            (Sparsity(traversalOrder: [0, 1], dimensions: [Dim(format: .dense, denseSize: 5), Self.csr([0, 1, 2], [2, 0])]), [1, 2], "DENSE with dense_size 5, expected 2"),
        ]
        for (sparsity, stored, reason) in cases {
            var m = try model(text, stored: stored, sparsity)
            var ctx = PassContext()
            var pass = DensifySparseConstants()
            XCTAssertThrowsError(try pass.run(on: &m, context: &ctx)) { e in
                XCTAssertTrue("\(e)".contains("tensor \"w\": ") && "\(e)".contains(reason), "\(e)")
            }
        }
    }

    func testSparsityRoundTripsThroughTheFile() throws {
        let m = try blockSparseModel()
        let back = try exportAndImport(m)
        XCTAssertEqual(back.subgraphs[0].values[1].sparsity, Self.blockSparsity)
        XCTAssertEqual(back.constantData(back.subgraphs[0].values[1])?.array, le([Float(1), 2, 3, 4, 5, 0, 0, 6].map(\.bitPattern)))
    }
}
