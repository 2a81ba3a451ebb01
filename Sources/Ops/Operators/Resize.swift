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
        }
    )
    static let resizeNearestNeighbor = OperatorDefinition(
        .resizeNearestNeighbor,
        kernel: { c in
            let o = try opaqueOptions(c)
            return try IndexMapKernel.resizeNearest(c, alignCorners: (o?.int8(0, default: 0) ?? 0) != 0, halfPixelCenters: (o?.int8(1, default: 0) ?? 0) != 0)
        }
    )
}
