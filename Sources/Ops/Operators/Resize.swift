import FlatBuffers
import IR
import Kernels

// RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR (TFLM resize_bilinear.cc,
// resize_nearest_neighbor.cc). Options (schema.fbs): ResizeBilinearOptions 2 align_corners,
// 3 half_pixel_centers (0 and 1 are the deprecated new_height/new_width);
// ResizeNearestNeighborOptions 0 align_corners, 1 half_pixel_centers.
extension OperatorTable {
    static let resizeOperators = [resizeBilinear, resizeNearestNeighbor]

    static let resizeBilinear = OperatorDefinition(
        .resizeBilinear,
        kernel: { c in
            let o = try opaqueOptions(c)
            return try ResizeBilinearKernel(c, alignCorners: (o?.int8(2, default: 0) ?? 0) != 0, halfPixelCenters: (o?.int8(3, default: 0) ?? 0) != 0)
        },
        shape: resizeShape
    )
    static let resizeNearestNeighbor = OperatorDefinition(
        .resizeNearestNeighbor,
        kernel: { c in
            let o = try opaqueOptions(c)
            return try IndexMapKernel.resizeNearest(c, alignCorners: (o?.int8(0, default: 0) ?? 0) != 0, halfPixelCenters: (o?.int8(1, default: 0) ?? 0) != 0)
        },
        shape: resizeShape
    )

    /// resize_bilinear.cc / resize_nearest_neighbor.cc ResizeOutputTensor: [batch, size[0],
    /// size[1], channels] from the 4-D input and the constant 2-element size.
    @Sendable static func resizeShape(_ s: ShapeInference) -> [[Int32]]? {
        guard let x = s.shape(0), x.count == 4, let size = s.dimensions(1), size.count == 2 else { return nil }
        return [[x[0], size[0], size[1], x[3]]]
    }
}
