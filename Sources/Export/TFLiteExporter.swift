import FlatBuffers
import IR
import Ops
import Support

/// Writes the IR as a .tflite FlatBuffer. Deterministic: the same model always gives the same
/// bytes. Every buffer's data starts at a 16-byte aligned file offset (TFLM reads constant
/// arrays in place and some MCUs fault on unaligned access; schema.fbs).
public enum TFLiteExporter {
    public static let bufferAlignment = 16

    public static func serialize(_ model: Model) -> FlatBufferOutput {
        FlatBufferWriter.serialize(root: modelTable(model), fileIdentifier: "TFL3")
    }

    /// Serializes and writes atomically (temporary file + rename).
    public static func write(_ model: Model, to path: String) throws {
        let outputs = OutputTransaction()
        try write(model, to: path, in: outputs)
        try outputs.commit()
    }

    /// Stages the .tflite in `outputs` (committed with the caller's other files).
    public static func write(_ model: Model, to path: String, in outputs: OutputTransaction) throws {
        let output = serialize(model)
        try outputs.stage(path) { fd in try output.write(to: fd, path: path) }
    }

    package typealias F = Schema

    package struct OpcodeKey: Hashable {
        package var code: Int32
        package var custom: String?
        package var version: Int32
    }

    package static func modelTable(_ model: Model) -> FBTableSpec {
        // Operator codes in order of first use: deterministic and free of unused entries.
        var opcodeIndex: [OpcodeKey: Int] = [:]
        var opcodes: [OpcodeKey] = []
        for g in model.subgraphs {
            for op in g.ops where !op.isErased {
                let key = OpcodeKey(code: op.builtinOperator.code, custom: op.kind.customCode, version: op.version)
                if opcodeIndex[key] == nil {
                    opcodeIndex[key] = opcodes.count
                    opcodes.append(key)
                }
            }
        }
        var root = FBTableSpec()
        root.add(F.ModelField.version, .u32(model.version))
        root.add(F.ModelField.operatorCodes, .tables(opcodes.map(operatorCodeTable)))
        root.add(F.ModelField.subgraphs, .tables(model.subgraphs.map { subgraphTable($0, opcodeIndex: opcodeIndex) }))
        if let d = model.description { root.add(F.ModelField.description, .string(d)) }
        root.add(F.ModelField.buffers, .tables(model.buffers.map(bufferTable)))
        if let mb = model.metadataBuffer { root.add(F.ModelField.metadataBuffer, .scalarVector(bytes: le(mb), elementSize: 4)) }
        if !model.metadata.isEmpty {
            root.add(F.ModelField.metadata, .tables(model.metadata.map { m in
                var t = FBTableSpec()
                t.add(F.MetadataField.name, .string(m.name))
                if m.buffer.raw != 0 { t.add(F.MetadataField.buffer, .u32(m.buffer.raw)) }
                return t
            }))
        }
        if !model.signatureDefs.isEmpty {
            root.add(F.ModelField.signatureDefs, .tables(model.signatureDefs.map(signatureTable)))
        }
        return root
    }

    package static func operatorCodeTable(_ k: OpcodeKey) -> FBTableSpec {
        var t = FBTableSpec()
        // Writers put min(code, 127) in the deprecated int8 field and the full code in builtin_code.
        let deprecated = Int8(min(k.code, 127))
        if deprecated != 0 { t.add(F.OperatorCodeField.deprecatedBuiltinCode, .i8(deprecated)) }
        if let c = k.custom { t.add(F.OperatorCodeField.customCode, .string(c)) }
        if k.version != 1 { t.add(F.OperatorCodeField.version, .i32(k.version)) }
        if k.code != 0 { t.add(F.OperatorCodeField.builtinCode, .i32(k.code)) }
        return t
    }

    package static func bufferTable(_ b: Buffer) -> FBTableSpec {
        var t = FBTableSpec()
        if let d = b.data, !d.isEmpty { t.add(F.BufferField.data, .byteVector(d, alignment: bufferAlignment)) }
        return t
    }

    package static func signatureTable(_ s: SignatureDef) -> FBTableSpec {
        func maps(_ list: [SignatureDef.TensorMap]) -> FBValue {
            .tables(list.map { m in
                var t = FBTableSpec()
                t.add(F.TensorMapField.name, .string(m.name))
                if m.tensor.raw != 0 { t.add(F.TensorMapField.tensorIndex, .u32(UInt32(m.tensor.raw))) }
                return t
            })
        }
        var t = FBTableSpec()
        t.add(F.SignatureDefField.inputs, maps(s.inputs))
        t.add(F.SignatureDefField.outputs, maps(s.outputs))
        if let k = s.key { t.add(F.SignatureDefField.signatureKey, .string(k)) }
        if s.subgraph != 0 { t.add(F.SignatureDefField.subgraphIndex, .u32(UInt32(s.subgraph))) }
        return t
    }

    package static func subgraphTable(_ g: Graph, opcodeIndex: [OpcodeKey: Int]) -> FBTableSpec {
        var t = FBTableSpec()
        t.add(F.SubGraphField.tensors, .tables(g.values.map(tensorTable)))
        t.add(F.SubGraphField.inputs, .scalarVector(bytes: le(g.inputs.map(\.raw)), elementSize: 4))
        t.add(F.SubGraphField.outputs, .scalarVector(bytes: le(g.outputs.map(\.raw)), elementSize: 4))
        t.add(F.SubGraphField.operators, .tables(g.ops.filter { !$0.isErased }.map { op in
            operatorTable(op, opcode: opcodeIndex[OpcodeKey(code: op.builtinOperator.code, custom: op.kind.customCode, version: op.version)]!)
        }))
        if let n = g.name { t.add(F.SubGraphField.name, .string(n)) }
        if let d = g.debugMetadataIndex { t.add(F.SubGraphField.debugMetadataIndex, .i32(d)) }
        return t
    }

    package static func tensorTable(_ v: Value) -> FBTableSpec {
        var t = FBTableSpec()
        t.add(F.TensorField.shape, .scalarVector(bytes: le(v.shape), elementSize: 4))
        if v.dtype.code != 0 { t.add(F.TensorField.type, .i8(v.dtype.code)) }
        if v.buffer.raw != 0 { t.add(F.TensorField.buffer, .u32(v.buffer.raw)) }
        if !v.name.isEmpty { t.add(F.TensorField.name, .string(v.name)) }
        if let q = v.quantization { t.add(F.TensorField.quantization, .table(quantizationTable(q))) }
        if v.isVariable { t.add(F.TensorField.isVariable, .bool(true)) }
        if let s = v.shapeSignature { t.add(F.TensorField.shapeSignature, .scalarVector(bytes: le(s), elementSize: 4)) }
        if v.hasRank { t.add(F.TensorField.hasRank, .bool(true)) }
        if let sp = v.sparsity { t.add(F.TensorField.sparsity, .table(SparsityEncoding.table(sp))) }
        return t
    }

    package static func quantizationTable(_ q: Quantization) -> FBTableSpec {
        var t = FBTableSpec()
        if !q.min.isEmpty { t.add(F.QuantizationField.min, .scalarVector(bytes: le(q.min.map(\.bitPattern)), elementSize: 4)) }
        if !q.max.isEmpty { t.add(F.QuantizationField.max, .scalarVector(bytes: le(q.max.map(\.bitPattern)), elementSize: 4)) }
        if !q.scales.isEmpty { t.add(F.QuantizationField.scale, .scalarVector(bytes: le(q.scales.map(\.bitPattern)), elementSize: 4)) }
        if !q.zeroPoints.isEmpty { t.add(F.QuantizationField.zeroPoint, .scalarVector(bytes: le(q.zeroPoints), elementSize: 8)) }
        if let d = q.customDetails {
            t.add(F.QuantizationField.detailsType, .u8(1))
            t.add(F.QuantizationField.details, .table(FBTableSpec([(0, .byteVector(ByteSlice(d), alignment: 16))])))
        }
        if q.axis != 0 { t.add(F.QuantizationField.quantizedDimension, .i32(q.axis)) }
        return t
    }

    package static func operatorTable(_ op: Op, opcode: Int) -> FBTableSpec {
        var t = FBTableSpec()
        if opcode != 0 { t.add(F.OperatorField.opcodeIndex, .u32(UInt32(opcode))) }
        t.add(F.OperatorField.inputs, .scalarVector(bytes: le(op.inputs.map(\.raw)), elementSize: 4))
        t.add(F.OperatorField.outputs, .scalarVector(bytes: le(op.outputs.map(\.raw)), elementSize: 4))
        if let (tag, table) = OptionsEncoding.encode(op) {
            t.add(F.OperatorField.builtinOptionsType, .u8(tag))
            if let table { t.add(F.OperatorField.builtinOptions, .table(table)) }
        }
        if let c = op.customOptions { t.add(F.OperatorField.customOptions, .byteVector(c, alignment: 1)) }
        if op.customOptionsFormat != 0 { t.add(F.OperatorField.customOptionsFormat, .i8(op.customOptionsFormat)) }
        if !op.mutatingVariableInputs.isEmpty {
            t.add(F.OperatorField.mutatingVariableInputs, .scalarVector(bytes: op.mutatingVariableInputs.map { $0 ? 1 : 0 }, elementSize: 1))
        }
        if !op.intermediates.isEmpty { t.add(F.OperatorField.intermediates, .scalarVector(bytes: le(op.intermediates.map(\.raw)), elementSize: 4)) }
        if let o2 = op.options2 {
            t.add(F.OperatorField.builtinOptions2Type, .u8(o2.typeTag))
            t.add(F.OperatorField.builtinOptions2, .table(OptionsEncoding.opaqueTable(o2)))
        }
        if let d = op.debugMetadataIndex { t.add(F.OperatorField.debugMetadataIndex, .i32(d)) }
        return t
    }
}

