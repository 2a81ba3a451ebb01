// Copies protobuf-c's unpacked C structs (generated from Sources/TFProto/proto/
// tfproto.proto) into the Swift types of ProtoDecodingTypes.swift. Nothing here keeps a
// C pointer: callers free the C message right after the copy.

import FlatBuffers
import IR
import Ops
import Support
import TFProto

package enum ProtoCopy {
    // MARK: Scalars and arrays

    /// protobuf-c strings are NUL-terminated copies; invalid UTF-8 becomes U+FFFD
    /// (String(cString:) repairs it), so a bad name never traps.
    package static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    package static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    package static func array<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
        guard count > 0, let pointer else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// Element-wise conversion of a C array (for pointers to sub-messages, booleans,
    /// enums and strings).
    package static func map<T, R>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int, _ transform: (T) -> R) -> [R] {
        guard count > 0, let pointer else { return [] }
        return UnsafeBufferPointer(start: pointer, count: count).map(transform)
    }

    /// Converts a C array of sub-message pointers (protobuf-c never stores NULL in one;
    /// a NULL would be skipped).
    package static func messages<T, R>(
        _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int,
        _ transform: (UnsafeMutablePointer<T>) -> R
    ) -> [R] {
        map(pointer, count) { $0 }.compactMap { $0.map(transform) }
    }

    /// C enums import as structs whose raw type depends on the platform; proto enums
    /// are int32 on the wire.
    package static func dtype(_ value: Tfproto__DataType) -> Int32 {
        Int32(truncatingIfNeeded: value.rawValue)
    }

    // MARK: Messages

    package static func shape(_ shape: UnsafeMutablePointer<Tfproto__TensorShapeProto>) -> TFTensorShape {
        let s = shape.pointee
        if s.unknown_rank != 0 { return .unknownRank }
        return TFTensorShape(dims: messages(s.dim, s.n_dim) { $0.pointee.size })
    }

    package static func tensor(_ tensor: UnsafeMutablePointer<Tfproto__TensorProto>) -> TFTensor {
        let t = tensor.pointee
        return TFTensor(
            dtype: dtype(t.dtype),
            // An absent tensor_shape is the default message: rank 0 (a scalar).
            shape: t.tensor_shape.map { shape($0) } ?? .scalar,
            content: bytes(t.tensor_content),
            floatVal: array(t.float_val, t.n_float_val),
            doubleVal: array(t.double_val, t.n_double_val),
            intVal: array(t.int_val, t.n_int_val),
            int64Val: array(t.int64_val, t.n_int64_val),
            boolVal: map(t.bool_val, t.n_bool_val) { $0 != 0 },
            halfVal: array(t.half_val, t.n_half_val),
            stringVal: map(t.string_val, t.n_string_val) { bytes($0) },
            uint32Val: array(t.uint32_val, t.n_uint32_val),
            uint64Val: array(t.uint64_val, t.n_uint64_val)
        )
    }

    package static func attrList(_ list: UnsafeMutablePointer<Tfproto__AttrValue__ListValue>) -> TFAttrList {
        let l = list.pointee
        return TFAttrList(
            s: map(l.s, l.n_s) { bytes($0) },
            i: array(l.i, l.n_i),
            f: array(l.f, l.n_f),
            b: map(l.b, l.n_b) { $0 != 0 },
            type: map(l.type, l.n_type) { dtype($0) },
            shape: messages(l.shape, l.n_shape) { shape($0) },
            tensor: messages(l.tensor, l.n_tensor) { tensor($0) }
        )
    }

    /// nil when the oneof is not set.
    package static func attrValue(_ value: UnsafeMutablePointer<Tfproto__AttrValue>) -> TFAttrValue? {
        let v = value.pointee
        switch v.value_case {
        case TFPROTO__ATTR_VALUE__VALUE_LIST:
            return .list(v.list.map { attrList($0) } ?? TFAttrList())
        case TFPROTO__ATTR_VALUE__VALUE_S:
            return .s(bytes(v.s))
        case TFPROTO__ATTR_VALUE__VALUE_I:
            return .i(v.i)
        case TFPROTO__ATTR_VALUE__VALUE_F:
            return .f(v.f)
        case TFPROTO__ATTR_VALUE__VALUE_B:
            return .b(v.b != 0)
        case TFPROTO__ATTR_VALUE__VALUE_TYPE:
            return .type(dtype(v.type))
        case TFPROTO__ATTR_VALUE__VALUE_SHAPE:
            return .shape(v.shape.map { shape($0) } ?? .scalar)
        case TFPROTO__ATTR_VALUE__VALUE_TENSOR:
            return .tensor(v.tensor.map { tensor($0) } ?? TFTensor(dtype: 0, shape: .scalar))
        case TFPROTO__ATTR_VALUE__VALUE_PLACEHOLDER:
            return .placeholder(string(v.placeholder))
        case TFPROTO__ATTR_VALUE__VALUE_FUNC:
            return .func(v.func.map { string($0.pointee.name) } ?? "")
        default:
            return nil
        }
    }

    package static func node(_ node: UnsafeMutablePointer<Tfproto__NodeDef>) -> TFNodeDef {
        let n = node.pointee
        var attrs: [String: TFAttrValue] = [:]
        attrs.reserveCapacity(n.n_attr)
        // Map entries: a repeated key keeps the last value (protobuf map semantics).
        for entry in messages(n.attr, n.n_attr, { $0.pointee }) {
            guard let value = entry.value, let decoded = attrValue(value) else { continue }
            attrs[string(entry.key)] = decoded
        }
        return TFNodeDef(
            name: string(n.name),
            op: string(n.op),
            inputs: map(n.input, n.n_input) { string($0) },
            device: string(n.device),
            attrs: attrs
        )
    }

    package static func argDef(_ arg: UnsafeMutablePointer<Tfproto__OpDef__ArgDef>) -> TFArgDef {
        let a = arg.pointee
        return TFArgDef(
            name: string(a.name),
            type: dtype(a.type),
            typeAttr: string(a.type_attr),
            numberAttr: string(a.number_attr),
            typeListAttr: string(a.type_list_attr)
        )
    }

    package static func function(_ function: UnsafeMutablePointer<Tfproto__FunctionDef>) -> TFFunctionDef {
        let f = function.pointee
        var result = TFFunctionDef(name: "")
        if let signature = f.signature?.pointee {
            result.name = string(signature.name)
            result.inputArgs = messages(signature.input_arg, signature.n_input_arg) { argDef($0) }
            result.outputArgs = messages(signature.output_arg, signature.n_output_arg) { argDef($0) }
        }
        result.nodes = messages(f.node_def, f.n_node_def) { node($0) }
        for entry in messages(f.ret, f.n_ret, { $0.pointee }) {
            result.ret[string(entry.key)] = string(entry.value)
        }
        return result
    }

    package static func tensorInfo(_ info: UnsafeMutablePointer<Tfproto__TensorInfo>) -> TFTensorInfo {
        let i = info.pointee
        return TFTensorInfo(name: string(i.name), dtype: dtype(i.dtype), shape: i.tensor_shape.map { shape($0) })
    }

    package static func signature(_ signature: UnsafeMutablePointer<Tfproto__SignatureDef>) -> TFSignatureDef {
        let s = signature.pointee
        var result = TFSignatureDef(methodName: string(s.method_name))
        // Map entries without a value are skipped; a repeated key keeps the last value.
        for entry in messages(s.inputs, s.n_inputs, { $0.pointee }) {
            guard let value = entry.value else { continue }
            result.inputs[string(entry.key)] = tensorInfo(value)
        }
        for entry in messages(s.outputs, s.n_outputs, { $0.pointee }) {
            guard let value = entry.value else { continue }
            result.outputs[string(entry.key)] = tensorInfo(value)
        }
        return result
    }
}
