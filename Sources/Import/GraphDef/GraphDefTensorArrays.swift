import FlatBuffers
import IR
import Ops
import Support
import TFProto

// TensorArrayV3 and the ops on it, as `dynamic_rnn` uses them (TF's data_flow_ops.cc op
// definitions; tensor_array_ops.py): the input is scattered into an array read once per time
// step, the outputs are written once per step and gathered ("stacked") after the loop. The
// handle (output 0) and the flow (output 1, and what every write returns) name the same array;
// see GraphDefControlFlow.swift for how loops thread them.

extension GraphDefLowering {
    mutating func lowerTensorArray(_ node: TFNodeDef, _ refs: [TFTensorRef]) throws {
        let out = TFTensorRef(node: node.name)
        switch node.op {
        case "TensorArrayV3":
            guard let sizeRef = refs.first, let sizeValue = tensors[sizeRef], let size = constant(sizeValue)?.integers, size.count == 1,
                size[0] >= 0, size[0] <= Int64(GraphDefUnrollLimits.maxTrips)
            else {
                throw node.invalid("its size must be a constant from 0 to \(GraphDefUnrollLimits.maxTrips) (a static sequence length)")
            }
            let dynamic = try node.attrBool("dynamic_size", default: false)
            controlFlow.arrays.append(GraphDefTensorArray(node: node.name, elements: Array(repeating: nil, count: Int(size[0])), dynamicSize: dynamic))
            controlFlow.arrayRefs[out] = controlFlow.arrays.count - 1
            controlFlow.arrayRefs[TFTensorRef(node: node.name, index: 1)] = controlFlow.arrays.count - 1
        case "TensorArrayScatterV3":
            // (handle, indices, value, flow_in) → flow_out.
            let a = try arrayIndex(refs, node)
            let indices = try constantIndices(refs, 1, node)
            let x = try valueInput(refs, 2, node)
            let shape = value(x).shape
            guard shape.count >= 1, Int(shape[0]) == indices.count else {
                throw node.invalid("scatters \(shapeText(shape)) to \(indices.count) indices")
            }
            try requireFloatOrConstant(x, node: node)
            let pieces = unpack(x, axis: 0, node: node)
            for (index, piece) in zip(indices, pieces) { try setElement(a, index, piece, node) }
            controlFlow.arrayRefs[out] = a
        case "TensorArrayWriteV3":
            // (handle, index, value, flow_in) → flow_out.
            let a = try arrayIndex(refs, node)
            let indices = try constantIndices(refs, 1, node)
            guard indices.count == 1 else { throw node.invalid("the index must be a scalar") }
            try setElement(a, indices[0], try valueInput(refs, 2, node), node)
            controlFlow.arrayRefs[out] = a
        case "TensorArrayReadV3":
            // (handle, index, flow_in) → value.
            let a = try arrayIndex(refs, node)
            let indices = try constantIndices(refs, 1, node)
            guard indices.count == 1 else { throw node.invalid("the index must be a scalar") }
            tensors[out] = try element(a, indices[0], node)
        case "TensorArrayGatherV3":
            // (handle, indices, flow_in) → the elements stacked along a new first axis.
            let a = try arrayIndex(refs, node)
            let elements = try constantIndices(refs, 1, node).map { try element(a, $0, node) }
            guard let first = elements.first else { throw node.invalid("gathers no elements") }
            let shape = value(first).shape
            for e in elements where value(e).shape != shape || value(e).dtype != value(first).dtype {
                throw node.invalid("its elements have different shapes (\(shapeText(shape)), \(shapeText(value(e).shape)))")
            }
            if elements.count == 1 {
                tensors[out] = reshape(first, to: [1] + shape, node: node)
            } else {
                tensors[out] = emit(.pack(valuesCount: Int32(elements.count), axis: 0), elements, node: node, dtype: value(first).dtype, shape: [Int32(elements.count)] + shape)
            }
        case "TensorArraySizeV3":
            let a = try arrayIndex(refs, node)
            tensors[out] = int32Constant([controlFlow.arrays[a].elements.count], name: node.name, node: node, shape: [])
        default:
            throw GraphDefImportError.unsupportedOps([(node.op, node.name)], hint: "TensorArray ops belong to TF1 dynamic RNN loops")
        }
    }

    /// The TensorArray input 0 names.
    func arrayIndex(_ refs: [TFTensorRef], _ node: TFNodeDef) throws -> Int {
        guard let handle = refs.first, let a = controlFlow.arrayRefs[handle] else {
            throw node.invalid("input 0 is not a TensorArray handle")
        }
        return a
    }

    func valueInput(_ refs: [TFTensorRef], _ k: Int, _ node: TFNodeDef) throws -> ValueID {
        guard k < refs.count else { throw node.invalid("has \(refs.count) inputs, needs at least \(k + 1)") }
        guard let v = tensors[refs[k]] else {
            throw node.invalid("reads '\(refs[k])', which cannot be converted (an output of '\(refs[k].node)' that is not provided)")
        }
        return v
    }

    /// Input `k` as constant indices (in an unrolled loop the time step is a constant).
    func constantIndices(_ refs: [TFTensorRef], _ k: Int, _ node: TFNodeDef) throws -> [Int] {
        let v = try valueInput(refs, k, node)
        guard let t = constant(v), let ints = t.integers else {
            throw node.invalid("the index '\(value(v).name)' is computed at run time; only constant indices (an unrolled loop's time step) are converted")
        }
        return ints.map { Int(clamping: $0) }
    }

    mutating func setElement(_ a: Int, _ index: Int, _ v: ValueID?, _ node: TFNodeDef) throws {
        guard let v else { throw node.invalid("writes a value that cannot be converted") }
        var array = controlFlow.arrays[a]
        if index >= array.elements.count && array.dynamicSize && index < GraphDefUnrollLimits.maxTrips {
            array.elements += Array(repeating: nil, count: index + 1 - array.elements.count)
        }
        guard index >= 0, index < array.elements.count else {
            throw node.invalid("writes index \(index) of TensorArray '\(array.node)', which has \(array.elements.count) elements")
        }
        guard array.elements[index] == nil else {
            throw node.invalid("writes index \(index) of TensorArray '\(array.node)' twice")
        }
        array.elements[index] = v
        controlFlow.arrays[a] = array
    }

    func element(_ a: Int, _ index: Int, _ node: TFNodeDef) throws -> ValueID {
        let array = controlFlow.arrays[a]
        guard index >= 0, index < array.elements.count else {
            throw node.invalid("reads index \(index) of TensorArray '\(array.node)', which has \(array.elements.count) elements")
        }
        guard let v = array.elements[index] else {
            throw node.invalid("reads index \(index) of TensorArray '\(array.node)' before it is written")
        }
        return v
    }
}
