import Ops

/// The layouts of the structs TFLM's allocator puts in the arena, from TFLM's headers
/// (tensorflow/lite/core/c/common.h with TF_LITE_STATIC_MEMORY, micro_allocator.h,
/// micro_allocation_info.h, the recording allocators and the greedy planner). One field list
/// gives both pointer widths; the 64-bit sizes are checked against TFLM's Python package.
enum TFLMStructs {
    /// TfLiteEvalTensor: data, dims, type.
    static let evalTensor = CStruct([.pointer, .pointer, .int32])
    /// TfLiteTensor (static memory): quantization {type, params}, params {scale, zero_point},
    /// data, dims, bytes, type, allocation_type, is_variable.
    static let tensor = CStruct([.int32, .pointer, .float32, .int32, .pointer, .pointer, .pointer, .int32, .int32, .bool])
    /// TfLiteAffineQuantization: scale, zero_point, quantized_dimension.
    static let affineQuantization = CStruct([.pointer, .pointer, .int32])
    /// NodeAndRegistration: TfLiteNode {inputs, outputs, intermediates, user_data,
    /// builtin_data, custom_initial_data, custom_initial_data_size} and the registration.
    static let nodeAndRegistration = CStruct([.pointer, .pointer, .pointer, .pointer, .pointer, .pointer, .int32, .pointer])
    /// SubgraphAllocations: node_and_registrations, tensors, and with compression the
    /// CompressedTensorList pointer.
    static func subgraphAllocations(_ b: TFLMBuild) -> CStruct { CStruct([.pointer, .pointer] + (b.compression ? [.pointer] : [])) }
    /// ScratchBufferHandle: data.
    static let scratchBufferHandle = CStruct([.pointer])
    /// internal::ScratchBufferRequest: bytes, node_idx, subgraph_idx.
    static let scratchBufferRequest = CStruct([.pointer, .int32, .int32])
    /// AllocationInfo: bytes, output_ptr, first_created, last_used, offline_offset, needs_allocating.
    static let allocationInfo = CStruct([.pointer, .pointer, .int32, .int32, .int32, .bool])
    /// SingleArenaBufferAllocator: two interface vtables, buffer_head_, buffer_tail_, head_,
    /// tail_, temp_, temp_buffer_ptr_check_sum_, temp_buffer_count_.
    static let arenaAllocatorFields: [CStruct.Field] = [.pointer, .pointer, .pointer, .pointer, .pointer, .pointer, .pointer, .pointer, .int32]
    /// The arena allocator; the recording subclass adds requested_head_bytes_,
    /// requested_tail_bytes_, used_bytes_, alloc_count_.
    static func arenaAllocator(_ b: TFLMBuild) -> CStruct {
        CStruct(arenaAllocatorFields + (b.recordingAllocator ? [.pointer, .pointer, .pointer, .pointer] : []))
    }
    /// GreedyMemoryPlanner: vtable, max_buffer_count_, buffer_count_, requirements_,
    /// buffer_sizes_sorted_, buffer_ids_sorted_, buffers_sorted_by_offset_, next_free_entry_,
    /// first_entry_index_, buffer_offsets_, need_to_calculate_offsets_.
    static let greedyPlanner = CStruct([.pointer, .int32, .int32, .pointer, .pointer, .pointer, .pointer, .int32, .int32, .pointer, .bool])
    /// MicroAllocator: vtable, non_persistent_buffer_allocator_, persistent_buffer_allocator_,
    /// builtin_data_allocator_, memory_planner_, model_is_allocating_,
    /// scratch_buffer_request_count_, scratch_buffer_head_, max_head_buffer_usage_. The
    /// RecordingMicroAllocator adds recording_memory_allocator_ and seven RecordedAllocation
    /// {requested, used, count} (eight with compression).
    static func microAllocator(_ b: TFLMBuild) -> CStruct {
        let plain: [CStruct.Field] = [.pointer, .pointer, .pointer, .pointer, .pointer, .bool, .pointer, .pointer, .pointer]
        guard b.recordingAllocator else { return CStruct(plain) }
        return CStruct(plain + [.pointer] + Array(repeating: .pointer, count: 3 * (b.compression ? 8 : 7)))
    }
    /// MicroBuiltinDataAllocator: vtable, persistent_allocator_.
    static let builtinDataAllocator = CStruct([.pointer, .pointer])
    /// GreedyMemoryPlanner::per_buffer_size(): BufferRequirements {size, offline_offset,
    /// first_time_used, last_time_used}, two ints, ListEntry {offset, requirements_index,
    /// next_entry_index}, one int.
    static let plannerBytesPerBuffer = 16 + 4 + 4 + 12 + 4

    /// MicroArenaBufferAlignment() (micro_arena_constants.h).
    static let arenaAlignment = 16
    /// kMaxScratchBuffersPerOp (micro_allocator.cc).
    static let maxScratchBuffersPerOp = 12

    /// TfLiteIntArrayGetSizeInBytes(n): size plus n ints.
    static func intArrayBytes(_ n: Int) -> Int { 4 + 4 * n }
}
