import FlatBuffers
import IR
import Ops
import Support
import TFProto

/// Reads a whole .tflite FlatBuffer into the IR. Every offset is verified by the FlatBuffers
/// reader; indices between tables (tensor, buffer, opcode, subgraph) are checked here.
/// Constant data stays a zero-copy slice of the input storage.
public enum TFLiteImporter {
    public static func load(path: String) throws -> Model {
        let storage = try ByteStorage.map(path: path)
        return try decode(storage)
    }

    public static func decode(_ storage: ByteStorage) throws -> Model {
        guard storage.count >= 8 else { throw TFLiteImportError.tooSmall(size: storage.count) }
        let reader = FlatBufferReader(storage.bytes)
        if let id = reader.fileIdentifier, id != "TFL3" {
            throw TFLiteImportError.notTFLite(identifier: id.unicodeScalars.map { $0.isASCII && $0.value >= 32 && $0.value < 127 ? String($0) : "\\x" + String($0.value, radix: 16) }.joined())
        }
        do {
            return try Decoder(storage: storage, reader: reader).decodeModel()
        } catch let e as FlatBufferError {
            throw TFLiteImportError.malformed(e)
        }
    }
}

private struct Decoder {
    package let storage: ByteStorage
    package let reader: FlatBufferReader

    package typealias F = Schema

    package func decodeModel() throws -> Model {
        let root = try reader.root(fileIdentifier: "TFL3")
        let version: UInt32 = try root.scalar(F.ModelField.version, default: 0)
        guard version == 3 else { throw TFLiteImportError.unsupportedVersion(version) }
        if root.has(F.ModelField.externalBuffers) || root.has(F.ModelField.externalBufferGroups) {
            throw TFLiteImportError.unsupported("external buffers (Model.external_buffers)", at: "model")
        }

        // Buffers first: tensors and metadata refer to them by index.
        let bufferTables = try ctx("Model.buffers") { try root.tables(F.ModelField.buffers) } ?? []
        var buffers: [Buffer] = []
        buffers.reserveCapacity(bufferTables.count)
        for (i, t) in bufferTables.enumerated() {
            let offset: UInt64 = try t.scalar(F.BufferField.offset, default: 0)
            if offset > 1 {
                throw TFLiteImportError.unsupported("buffer data stored outside the FlatBuffer (Buffer.offset, >2 GB models)", at: "buffer \(i)")
            }
            if let (range, _) = try ctx("Model.buffers[\(i)].data", { try t.vectorPayload(F.BufferField.data, elementSize: 1) }), !range.isEmpty {
                buffers.append(Buffer(data: ByteSlice(storage: storage, range: range)))
            } else {
                buffers.append(.empty)
            }
        }

        let codeTables = try ctx("Model.operator_codes") { try root.tables(F.ModelField.operatorCodes) } ?? []
        var opcodes: [(op: BuiltinOperator, custom: String?, version: Int32)] = []
        for (i, t) in codeTables.enumerated() {
            let deprecated: Int8 = try t.scalar(F.OperatorCodeField.deprecatedBuiltinCode, default: 0)
            let builtin: Int32 = try t.scalar(F.OperatorCodeField.builtinCode, default: 0)
            // schema_utils GetBuiltinCode: max of the two fields (old files only have the deprecated one).
            let code = max(Int32(deprecated), builtin)
            guard code >= 0 else { throw TFLiteImportError.invalid("negative builtin code \(code)", at: "operator code \(i)") }
            let custom = try ctx("Model.operator_codes[\(i)].custom_code") { try t.string(F.OperatorCodeField.customCode) }
            let version: Int32 = try t.scalar(F.OperatorCodeField.version, default: 1)
            opcodes.append((BuiltinOperator(code), custom, version))
        }

        let subgraphTables = try ctx("Model.subgraphs") { try root.tables(F.ModelField.subgraphs) } ?? []
        guard !subgraphTables.isEmpty else { throw TFLiteImportError.invalid("the model has no subgraphs", at: "model") }
        var subgraphs: [Graph] = []
        for (s, t) in subgraphTables.enumerated() {
            subgraphs.append(try decodeSubgraph(t, index: s, opcodes: opcodes, bufferCount: buffers.count, buffers: buffers))
        }

        let description = try ctx("Model.description") { try root.string(F.ModelField.description) }
        let metadataBuffer = try ctx("Model.metadata_buffer") { try root.scalars(F.ModelField.metadataBuffer, as: Int32.self) }

        var metadata: [Metadata] = []
        let metadataTables: [FBTable] = try ctx("Model.metadata") { try root.tables(F.ModelField.metadata) } ?? []
        for (i, t) in metadataTables.enumerated() {
            let name = try ctx("Model.metadata[\(i)].name") { try t.string(F.MetadataField.name) } ?? ""
            let b: UInt32 = try t.scalar(F.MetadataField.buffer, default: 0)
            guard Int(b) < buffers.count else {
                throw TFLiteImportError.invalid("refers to buffer \(b) but the model has \(buffers.count) buffers", at: "metadata \"\(name)\"")
            }
            metadata.append(Metadata(name: name, buffer: BufferID(b)))
        }

        var signatures: [SignatureDef] = []
        let signatureTables: [FBTable] = try ctx("Model.signature_defs") { try root.tables(F.ModelField.signatureDefs) } ?? []
        for (i, t) in signatureTables.enumerated() {
            let key = try ctx("Model.signature_defs[\(i)].signature_key") { try t.string(F.SignatureDefField.signatureKey) }
            let sub: UInt32 = try t.scalar(F.SignatureDefField.subgraphIndex, default: 0)
            guard Int(sub) < subgraphs.count else {
                throw TFLiteImportError.invalid("refers to subgraph \(sub) but the model has \(subgraphs.count)", at: "signature \"\(key ?? "")\"")
            }
            let tensorCount = subgraphs[Int(sub)].values.count
            func maps(_ field: Int, _ what: String) throws -> [SignatureDef.TensorMap] {
                let tables: [FBTable] = try ctx("Model.signature_defs[\(i)].\(what)") { try t.tables(field) } ?? []
                return try tables.map { m in
                    let name = try m.string(F.TensorMapField.name) ?? ""
                    let idx: UInt32 = try m.scalar(F.TensorMapField.tensorIndex, default: 0)
                    guard Int(idx) < tensorCount else {
                        throw TFLiteImportError.invalid("\(what) \"\(name)\" refers to tensor \(idx) but subgraph \(sub) has \(tensorCount) tensors", at: "signature \"\(key ?? "")\"")
                    }
                    return SignatureDef.TensorMap(name: name, tensor: ValueID(Int32(idx)))
                }
            }
            signatures.append(SignatureDef(key: key, inputs: try maps(F.SignatureDefField.inputs, "input"), outputs: try maps(F.SignatureDefField.outputs, "output"), subgraph: Int(sub)))
        }

        return Model(version: version, description: description, subgraphs: subgraphs, buffers: buffers, metadata: metadata, metadataBuffer: metadataBuffer, signatureDefs: signatures)
    }

    package func decodeSubgraph(_ t: FBTable, index s: Int, opcodes: [(op: BuiltinOperator, custom: String?, version: Int32)], bufferCount: Int, buffers: [Buffer]) throws -> Graph {
        let path = "Model.subgraphs[\(s)]"
        let tensorTables = try ctx("\(path).tensors") { try t.tables(F.SubGraphField.tensors) } ?? []
        var values: [Value] = []
        values.reserveCapacity(tensorTables.count)
        for (i, tt) in tensorTables.enumerated() {
            values.append(try decodeTensor(tt, path: "\(path).tensors[\(i)]", label: s == 0 ? "tensor \(i)" : "subgraph \(s) tensor \(i)", bufferCount: bufferCount, buffers: buffers))
        }
        let count = values.count
        func checkIndices(_ list: [Int32], allowAbsent: Bool, at: String) throws -> [ValueID] {
            try list.map { i in
                if i == -1 && allowAbsent { return .absent }
                guard i >= 0 && Int(i) < count else {
                    throw TFLiteImportError.invalid("tensor index \(i) is out of range (the subgraph has \(count) tensors)", at: at)
                }
                return ValueID(i)
            }
        }
        let sgLabel = s == 0 ? "" : "subgraph \(s) "
        let inputs = try checkIndices(try ctx("\(path).inputs") { try t.scalars(F.SubGraphField.inputs, as: Int32.self) } ?? [], allowAbsent: false, at: "\(sgLabel)inputs")
        let outputs = try checkIndices(try ctx("\(path).outputs") { try t.scalars(F.SubGraphField.outputs, as: Int32.self) } ?? [], allowAbsent: false, at: "\(sgLabel)outputs")
        let name = try ctx("\(path).name") { try t.string(F.SubGraphField.name) }
        let debugIndex: Int32? = t.has(F.SubGraphField.debugMetadataIndex) ? try t.scalar(F.SubGraphField.debugMetadataIndex, default: 0) : nil

        var ops: [Op] = []
        let opTables = try ctx("\(path).operators") { try t.tables(F.SubGraphField.operators) } ?? []
        ops.reserveCapacity(opTables.count)
        // Tensors must be written before they are read: ops are stored in execution order.
        var writer = [Int](repeating: -1, count: count)
        for (i, ot) in opTables.enumerated() {
            let opPath = "\(path).operators[\(i)]"
            let idx: UInt32 = try ot.scalar(F.OperatorField.opcodeIndex, default: 0)
            guard Int(idx) < opcodes.count else {
                throw TFLiteImportError.invalid("opcode index \(idx) is out of range (the model has \(opcodes.count) operator codes)", at: "\(sgLabel)op #\(i)")
            }
            let code = opcodes[Int(idx)]
            let label = "\(sgLabel)op #\(i) (\(code.custom ?? code.op.name))"
            let opInputs = try checkIndices(try ctx("\(opPath).inputs") { try ot.scalars(F.OperatorField.inputs, as: Int32.self) } ?? [], allowAbsent: true, at: label + " inputs")
            let opOutputs = try checkIndices(try ctx("\(opPath).outputs") { try ot.scalars(F.OperatorField.outputs, as: Int32.self) } ?? [], allowAbsent: false, at: label + " outputs")
            let intermediates = try checkIndices(try ctx("\(opPath).intermediates") { try ot.scalars(F.OperatorField.intermediates, as: Int32.self) } ?? [], allowAbsent: true, at: label + " intermediates")
            for v in opInputs where !v.isAbsent {
                let w = writer[v.index]
                if w >= i {
                    throw TFLiteImportError.invalid("reads tensor \(v.raw) before op #\(w) writes it: the operators form a cycle or are out of order", at: label)
                }
            }
            for v in opOutputs {
                if writer[v.index] >= 0 {
                    throw TFLiteImportError.invalid("writes tensor \(v.raw), which op #\(writer[v.index]) already writes", at: label)
                }
                writer[v.index] = i
            }
            let largeOffset: UInt64 = try ot.scalar(F.OperatorField.largeCustomOptionsOffset, default: 0)
            if largeOffset > 1 {
                throw TFLiteImportError.unsupported("custom options stored outside the FlatBuffer", at: label)
            }
            let tag: UInt8 = try ot.scalar(F.OperatorField.builtinOptionsType, default: 0)
            let optionsTable = try ctx("\(opPath).builtin_options") { try ot.table(F.OperatorField.builtinOptions) }
            var (kind, emptyTable) = try decodeKind(code.op, custom: code.custom, tag: tag, table: optionsTable, at: label)
            if case .custom = kind {} else if code.op == .custom {
                kind = .custom(code: code.custom ?? "")
                emptyTable = false
            }
            var customOptions: ByteSlice?
            if let (range, _) = try ctx("\(opPath).custom_options", { try ot.vectorPayload(F.OperatorField.customOptions, elementSize: 1) }) {
                customOptions = ByteSlice(storage: storage, range: range)
            }
            let format: Int8 = try ot.scalar(F.OperatorField.customOptionsFormat, default: 0)
            let mutatingBytes: [UInt8]? = try ctx("\(opPath).mutating_variable_inputs") { try ot.scalars(F.OperatorField.mutatingVariableInputs, as: UInt8.self) }
            let mutating = (mutatingBytes ?? []).map { $0 != 0 }
            let tag2: UInt8 = try ot.scalar(F.OperatorField.builtinOptions2Type, default: 0)
            var options2: OpaqueOptions?
            if tag2 != 0, let t2 = try ctx("\(opPath).builtin_options_2", { try ot.table(F.OperatorField.builtinOptions2) }) {
                // BuiltinOptions2 tables (StableHLO) hold vectors whose layout we do not model.
                if !t2.rawVTableEntries().allSatisfy({ $0 == 0 }) {
                    throw TFLiteImportError.unsupported("BuiltinOptions2 type \(tag2)", at: label)
                }
                options2 = OpaqueOptions(typeTag: tag2, vtable: t2.rawVTableEntries(), inline: Array(t2.rawInlineBytes()), alignmentPhase: t2.position & 7)
            }
            let opDebug: Int32? = ot.has(F.OperatorField.debugMetadataIndex) ? try ot.scalar(F.OperatorField.debugMetadataIndex, default: 0) : nil
            var op = Op(kind: kind, version: code.version, inputs: opInputs, outputs: opOutputs, intermediates: intermediates, mutatingVariableInputs: mutating, customOptions: customOptions, customOptionsFormat: format, options2: options2, debugMetadataIndex: opDebug)
            op.emptyOptionsTable = emptyTable
            ops.append(op)
        }
        // A read of a tensor that a later op writes means the ops are cyclic or out of order.
        for (i, op) in ops.enumerated() {
            for v in op.inputs where !v.isAbsent && writer[v.index] > i {
                let w = writer[v.index]
                throw TFLiteImportError.invalid("reads tensor \(v.raw), which op #\(w) (\(ops[w].name)) writes later: the operators form a cycle or are out of order", at: "\(sgLabel)op #\(i) (\(op.name))")
            }
        }
        return Graph(name: name, values: values, ops: ops, inputs: inputs, outputs: outputs, debugMetadataIndex: debugIndex)
    }

    package func decodeTensor(_ t: FBTable, path: String, label: String, bufferCount: Int, buffers: [Buffer]) throws -> Value {
        let shape = try ctx("\(path).shape") { try t.scalars(F.TensorField.shape, as: Int32.self) } ?? []
        let signature = try ctx("\(path).shape_signature") { try t.scalars(F.TensorField.shapeSignature, as: Int32.self) }
        let typeCode: Int8 = try t.scalar(F.TensorField.type, default: 0)
        let buffer: UInt32 = try t.scalar(F.TensorField.buffer, default: 0)
        let name = try ctx("\(path).name") { try t.string(F.TensorField.name) } ?? ""
        let shown = name.isEmpty ? label : "\(label) \"\(name)\""
        for d in shape where d < 0 {
            throw TFLiteImportError.invalid("negative dimension \(d) in shape \(shape)", at: shown)
        }
        if let sig = signature {
            guard sig.count == shape.count, sig.allSatisfy({ $0 >= -1 }) else {
                throw TFLiteImportError.invalid("shape_signature \(sig) does not match shape \(shape)", at: shown)
            }
        }
        guard Int(buffer) < bufferCount else {
            throw TFLiteImportError.invalid("refers to buffer \(buffer) but the model has \(bufferCount) buffers", at: shown)
        }
        var sparsity: Sparsity?
        if let sp = try ctx("\(path).sparsity", { try t.table(F.TensorField.sparsity) }) {
            sparsity = try SparsityDecoding.decode(sp, rank: shape.count, at: shown)
        }
        if t.has(F.TensorField.variantTensors) { throw TFLiteImportError.unsupported("variant tensors", at: shown) }
        if t.has(F.TensorField.externalBuffer) { throw TFLiteImportError.unsupported("external buffers", at: shown) }

        var quantization: Quantization?
        if let q = try ctx("\(path).quantization", { try t.table(F.TensorField.quantization) }) {
            let scales = try ctx("\(path).quantization.scale") { try q.floats(F.QuantizationField.scale) } ?? []
            let zeroPoints = try ctx("\(path).quantization.zero_point") { try q.scalars(F.QuantizationField.zeroPoint, as: Int64.self) } ?? []
            let mins = try ctx("\(path).quantization.min") { try q.floats(F.QuantizationField.min) } ?? []
            let maxs = try ctx("\(path).quantization.max") { try q.floats(F.QuantizationField.max) } ?? []
            let axis: Int32 = try q.scalar(F.QuantizationField.quantizedDimension, default: 0)
            var details: [UInt8]?
            let detailsType: UInt8 = try q.scalar(F.QuantizationField.detailsType, default: 0)
            if detailsType == 1, let d = try ctx("\(path).quantization.details", { try q.table(F.QuantizationField.details) }) {
                details = try d.scalars(0, as: UInt8.self) ?? []
            } else if detailsType > 1 {
                throw TFLiteImportError.unsupported("quantization details type \(detailsType)", at: shown)
            }
            if scales.count > 1 {
                guard axis >= 0, Int(axis) < shape.count, Int(shape[Int(axis)]) == scales.count else {
                    throw TFLiteImportError.invalid("\(scales.count) per-channel scales along axis \(axis) do not match shape \(shape)", at: shown)
                }
            }
            quantization = Quantization(scales: scales, zeroPoints: zeroPoints, axis: axis, min: mins, max: maxs, customDetails: details)
        }
        let dtype = DType(code: typeCode)
        if let problem = quantization?.problem(for: dtype) { throw TFLiteImportError.invalid(problem, at: shown) }
        var value = Value(name: name, type: ElementType(dtype, quantization: quantization), shape: shape, shapeSignature: signature, hasRank: try t.bool(F.TensorField.hasRank, default: false), isVariable: try t.bool(F.TensorField.isVariable, default: false), buffer: BufferID(buffer))
        value.sparsity = sparsity
        // A sparse buffer holds the stored values only; densify-sparse-constants checks their count.
        if buffer > 0, sparsity == nil, let data = buffers[Int(buffer)].data, !data.isEmpty {
            guard let n = value.elementCount else {
                throw TFLiteImportError.invalid("shape \(shape) has too many elements", at: shown)
            }
            if let size = dtype.byteSize {
                let (expected, overflow) = n.multipliedReportingOverflow(by: size)
                if overflow || expected != data.count {
                    throw TFLiteImportError.invalid("buffer \(buffer) holds \(data.count) bytes but a \(dtype.name) tensor of shape \(shape) needs \(overflow ? "more than Int.max" : String(expected))", at: shown)
                }
            }
        } else if value.elementCount == nil {
            throw TFLiteImportError.invalid("shape \(shape) has too many elements", at: shown)
        }
        return value
    }

    /// Typed attributes for the ops the IR models (their `OperatorDefinition`'s options codec);
    /// anything else (or an unexpected options table) stays opaque so the op still round-trips
    /// untouched.
    package func decodeKind(_ op: BuiltinOperator, custom: String?, tag: UInt8, table: FBTable?, at label: String) throws -> (OpKind, Bool) {
        if op == .custom {
            return (.custom(code: custom ?? ""), false)
        }
        if let (typed, emptyTable) = try OperatorTable.decode(op, tag: tag, table: table) { return (typed, emptyTable) }
        return (.builtin(op, options: try opaqueOptions(tag: tag, table: table, at: label)), false)
    }

    package func opaqueOptions(tag: UInt8, table: FBTable?, at label: String) throws -> OpaqueOptions? {
        guard let table else { return tag == 0 ? nil : OpaqueOptions(typeTag: tag, vtable: [], inline: [], alignmentPhase: 0) }
        var refs: [Int: OpaqueOptions.Field] = [:]
        var inline = Array(table.rawInlineBytes())
        for (id, kind) in Schema.opaqueReferenceFields[tag] ?? [:] where table.has(id) {
            switch kind {
            case .int32s: refs[id] = .int32s(try table.scalars(id, as: Int32.self) ?? [])
            case .int64s: refs[id] = .int64s(try table.scalars(id, as: Int64.self) ?? [])
            case .floats: refs[id] = .floats(try table.floats(id) ?? [])
            case .bytes: refs[id] = .bytes(try table.scalars(id, as: UInt8.self) ?? [])
            case .string: refs[id] = .string(try table.string(id) ?? "")
            }
            // Zero the stale uoffset so the copy never carries a dangling reference.
            if let pos = table.fieldPosition(id) {
                let rel = pos - table.position - 4
                if rel >= 0 && rel + 4 <= inline.count { for k in 0..<4 { inline[rel + k] = 0 } }
            }
        }
        return OpaqueOptions(typeTag: tag, vtable: table.rawVTableEntries(), inline: inline, alignmentPhase: table.position & 7, references: refs)
    }

    /// Runs `body`, attaching `path` to any FlatBuffers error so messages say where.
    package func ctx<R>(_ path: @autoclosure () -> String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let e as FlatBufferError {
            throw e.context.isEmpty ? e.inContext(path()) : e
        }
    }
}
