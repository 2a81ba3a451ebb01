import FlatBuffers
import Support

/// Renumbering helpers for passes that delete values or buffers. Every index that points at a
/// value (op inputs, outputs and intermediates, graph I/O, signature_defs) or at a buffer
/// (tensors, metadata, the deprecated metadata_buffer list) is rewritten together, so the model
/// stays consistent. When the model already holds a dangling index they change nothing: the
/// verifier reports that, and renumbering around it would make it point somewhere plausible.
extension Model {
    /// Metadata that names tensors by index: TFLM's offline memory plan (micro_allocator.cc
    /// `kOfflineMemAllocMetadata`, written by Vela). Renumbering values would silently break it.
    public static let tensorIndexMetadata = ["OfflineMemoryAllocation"]

    /// True when some metadata refers to tensors by index, so values must keep their numbers.
    public var pinsTensorIndices: Bool {
        metadata.contains { Self.tensorIndexMetadata.contains($0.name) }
    }

    /// Drops erased ops, then every value of subgraph `s` that nothing refers to: no live op
    /// (input, output, intermediate), no graph input or output, no signature. Variable tensors
    /// stay (their state is the point). Survivors keep their relative order.
    /// Returns the old → new index map (nil = removed), or nil when nothing could be done.
    @discardableResult
    public mutating func compactValues(inSubgraph s: Int) -> [Int32?]? {
        guard s >= 0, s < subgraphs.count else { return nil }
        var g = subgraphs[s]
        g.ops.removeAll { $0.isErased }
        let n = g.values.count
        var keep = [Bool](repeating: false, count: n)
        var dangling = false
        func mark(_ v: ValueID) {
            if v.isAbsent { return }
            if v.index < n { keep[v.index] = true } else { dangling = true }
        }
        for op in g.ops {
            op.inputs.forEach(mark)
            op.outputs.forEach(mark)
            op.intermediates.forEach(mark)
        }
        g.inputs.forEach(mark)
        g.outputs.forEach(mark)
        for sig in signatureDefs where sig.subgraph == s {
            for m in sig.inputs + sig.outputs { mark(m.tensor) }
        }
        for (i, v) in g.values.enumerated() where v.isVariable { keep[i] = true }
        if dangling { return nil }

        var map = [Int32?](repeating: nil, count: n)
        var values: [Value] = []
        values.reserveCapacity(n)
        for i in 0..<n where keep[i] {
            map[i] = Int32(values.count)
            values.append(g.values[i])
        }
        func remap(_ v: ValueID) -> ValueID { v.isAbsent ? v : ValueID(map[v.index]!) }
        for k in g.ops.indices {
            g.ops[k].inputs = g.ops[k].inputs.map(remap)
            g.ops[k].outputs = g.ops[k].outputs.map(remap)
            g.ops[k].intermediates = g.ops[k].intermediates.map(remap)
        }
        g.inputs = g.inputs.map(remap)
        g.outputs = g.outputs.map(remap)
        g.values = values
        subgraphs[s] = g
        for k in signatureDefs.indices where signatureDefs[k].subgraph == s {
            for j in signatureDefs[k].inputs.indices { signatureDefs[k].inputs[j].tensor = remap(signatureDefs[k].inputs[j].tensor) }
            for j in signatureDefs[k].outputs.indices { signatureDefs[k].outputs[j].tensor = remap(signatureDefs[k].outputs[j].tensor) }
        }
        return map
    }

    /// Points runtime (non-constant) tensors that own an empty buffer at the shared empty
    /// buffer 0 (legal per schema.fbs). Returns how many moved.
    @discardableResult
    public mutating func shareEmptyBuffers() -> Int {
        var moved = 0
        for s in subgraphs.indices {
            for i in subgraphs[s].values.indices {
                let b = subgraphs[s].values[i].buffer.index
                if b > 0, b < buffers.count, buffers[b].isEmpty {
                    subgraphs[s].values[i].buffer = .none
                    moved += 1
                }
            }
        }
        return moved
    }

    /// Makes tensors whose constant bytes are identical share one buffer (as TF's converter
    /// does, schema.fbs). Buffers of variable tensors and metadata are left alone. Returns
    /// how many buffers became unused; `removeUnusedBuffers()` then drops them.
    @discardableResult
    public mutating func shareIdenticalBuffers() -> Int {
        var excluded = Set(metadata.map(\.buffer.index))
        for b in metadataBuffer ?? [] { excluded.insert(Int(b)) }
        for g in subgraphs { for v in g.values where v.isVariable { excluded.insert(v.buffer.index) } }
        var first: [ByteSlice: Int] = [:]
        var replacement: [Int: Int] = [:]
        for b in 1..<max(buffers.count, 1) where !excluded.contains(b) {
            guard let d = buffers[b].data, !d.isEmpty else { continue }
            if let f = first[d] { replacement[b] = f } else { first[d] = b }
        }
        if replacement.isEmpty { return 0 }
        for s in subgraphs.indices {
            for i in subgraphs[s].values.indices {
                if let r = replacement[subgraphs[s].values[i].buffer.index] { subgraphs[s].values[i].buffer = BufferID(r) }
            }
        }
        return replacement.count
    }

    /// Drops buffers no tensor, metadata entry or metadata_buffer index refers to, keeping
    /// buffer 0 (the empty sentinel) and the order of the rest. Returns how many were dropped.
    @discardableResult
    public mutating func removeUnusedBuffers() -> Int {
        let n = buffers.count
        guard n > 0 else { return 0 }
        var used = [Bool](repeating: false, count: n)
        used[0] = true
        var dangling = false
        func mark(_ b: Int) { if b >= 0 && b < n { used[b] = true } else { dangling = true } }
        for g in subgraphs { for v in g.values { mark(v.buffer.index) } }
        for m in metadata { mark(m.buffer.index) }
        for b in metadataBuffer ?? [] { mark(Int(b)) }
        if dangling { return 0 }
        var map = [Int](repeating: -1, count: n)
        var kept: [Buffer] = []
        for b in 0..<n where used[b] {
            map[b] = kept.count
            kept.append(buffers[b])
        }
        let dropped = n - kept.count
        if dropped == 0 { return 0 }
        // Buffer 0 must stay the empty sentinel (schema.fbs).
        kept[0] = .empty
        buffers = kept
        for s in subgraphs.indices {
            for i in subgraphs[s].values.indices {
                subgraphs[s].values[i].buffer = BufferID(map[subgraphs[s].values[i].buffer.index])
            }
        }
        for k in metadata.indices { metadata[k].buffer = BufferID(map[metadata[k].buffer.index]) }
        if let mb = metadataBuffer { metadataBuffer = mb.map { Int32(map[Int($0)]) } }
        return dropped
    }
}

extension Model {
    /// Erases ops none of whose outputs are read (every op the importer emits is free of side
    /// effects), then drops values nothing refers to and buffers no value or metadata uses,
    /// renumbering everything that points at them.
    public mutating func removeDeadCode() {
        for s in subgraphs.indices {
            var g = subgraphs[s]
            var counts = g.useCounts()
            func isDead(_ i: Int) -> Bool {
                let op = g.ops[i]
                return !op.isErased && op.intermediates.isEmpty && !op.outputs.isEmpty
                    && op.outputs.allSatisfy({ $0.isAbsent || ($0.index < counts.count && counts[$0.index] == 0) })
            }
            // A worklist: erasing an op can only make the ops writing its inputs dead, so only
            // those are looked at again (one pass per dead op, not one sweep per chain link).
            let writers = g.writersByValue()
            var worklist = g.ops.indices.filter(isDead)
            var erasedAny = false
            while let i = worklist.popLast() {
                guard isDead(i) else { continue }
                g.ops[i].isErased = true
                erasedAny = true
                for v in g.ops[i].inputs where !v.isAbsent && v.index < counts.count {
                    counts[v.index] -= 1
                    if counts[v.index] == 0 { worklist += writers[v.index].filter(isDead) }
                }
            }
            if erasedAny { g.ops.removeAll { $0.isErased } }
            subgraphs[s] = g
            compactValues(inSubgraph: s)
        }
        removeUnusedBuffers()
    }
}
