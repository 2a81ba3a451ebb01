import FlatBuffers
import IR
import Ops

/// TFLM's offline memory plan: the `OfflineMemoryAllocation` metadata entry
/// (micro_allocation_info.cc `GetOfflinePlannedOffsets` and `InitializeAllocationInfo`,
/// micro/docs/memory_management.md), little-endian 32-bit words: version (0), subgraph count,
/// offset count, then one offset per tensor, -1 (`kOnlinePlannedBuffer`) for a tensor the
/// greedy planner places itself. TFLM refuses a model whose offset count differs from the
/// number of tensors of all its subgraphs, and reads the offset of tensor i of every subgraph
/// from entry i (its index within its subgraph), which is what a one-subgraph plan means.
/// The planner places the offline buffers first, at their offsets, and the online ones (and
/// every kernel's scratch buffer) around them.
package struct OfflineMemoryPlan: Equatable, Sendable {
    package static let metadataName = "OfflineMemoryAllocation"
    /// kOnlinePlannedBuffer (micro_allocation_info.h).
    package static let online: Int32 = -1

    /// Per tensor index, the offset in the head, or nil: planned online.
    package var offsets: [Int?]
    package var subgraphCount: Int

    package init(offsets: [Int?], subgraphCount: Int = 1) {
        self.offsets = offsets
        self.subgraphCount = subgraphCount
    }

    /// The plan a model carries, nil when it has none. TFLM uses the last entry of that name.
    package static func read(from model: Model) throws -> OfflineMemoryPlan? {
        guard let entry = model.metadata.last(where: { $0.name == metadataName }) else { return nil }
        let data = entry.buffer.index > 0 && entry.buffer.index < model.buffers.count ? model.buffers[entry.buffer.index].data : nil
        let bytes = data?.array ?? []
        func word(_ k: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 * k + $1]) << (8 * $1) } }
        guard bytes.count >= 12 else {
            throw FootprintUnknown("the \(metadataName) metadata holds \(bytes.count) bytes, less than its 12-byte header")
        }
        let count = Int(word(2))
        guard count <= (bytes.count - 12) / 4 else {
            throw FootprintUnknown("the \(metadataName) metadata announces \(count) offsets but holds \((bytes.count - 12) / 4)")
        }
        let tensors = model.subgraphs.reduce(0) { $0 + $1.values.count }
        guard count == tensors else {
            throw FootprintUnknown("the \(metadataName) metadata has \(count) offsets for \(tensors) tensors; TFLM refuses the model")
        }
        var offsets: [Int?] = []
        offsets.reserveCapacity(count)
        for k in 0..<count {
            let raw = Int32(bitPattern: word(3 + k))
            guard raw == online || raw >= 0 else {
                throw FootprintUnknown("the \(metadataName) metadata gives tensor \(k) the offset \(raw)")
            }
            offsets.append(raw == online ? nil : Int(raw))
        }
        return OfflineMemoryPlan(offsets: offsets, subgraphCount: Int(word(1)))
    }

    /// The metadata bytes: version 0, the subgraph count, the offsets.
    package var bytes: [UInt8] {
        let words: [UInt32] = [0, UInt32(subgraphCount), UInt32(offsets.count)] + offsets.map { UInt32(bitPattern: Int32($0 ?? -1)) }
        return words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
    }

    /// `model` with this plan as its only `OfflineMemoryAllocation` entry (a new buffer).
    package func attached(to model: Model) -> Model {
        var m = model
        m.metadata.removeAll { $0.name == Self.metadataName }
        m.buffers.append(Buffer(data: ByteSlice(bytes)))
        m.metadata.append(Metadata(name: Self.metadataName, buffer: BufferID(m.buffers.count - 1)))
        return m
    }
}
