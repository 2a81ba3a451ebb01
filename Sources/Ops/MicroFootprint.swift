import IR

/// The pointer width of the TFLM build whose arena is being sized: 32 for Cortex-M and most
/// MCUs, 64 for a host build (e.g. TFLM's Python package). The persistent structs differ.
public enum PointerWidth: Int, Sendable, CaseIterable {
    case bits32 = 32
    case bits64 = 64

    package var pointerBytes: Int { self == .bits64 ? 8 : 4 }
}

/// The TFLM build an arena is sized for: its pointer width, whether it was compiled with
/// USE_TFLM_COMPRESSION (which adds fields to SubgraphAllocations and to the conv and fully
/// connected op data), and whether the interpreter uses the RecordingMicroAllocator (as TFLM's
/// Python package does; its allocator objects are larger) or the plain MicroAllocator a
/// firmware's MicroInterpreter creates.
public struct TFLMBuild: Sendable, Equatable {
    public var pointerWidth: PointerWidth
    public var compression: Bool
    public var recordingAllocator: Bool
    public init(pointerWidth: PointerWidth, compression: Bool, recordingAllocator: Bool) {
        self.pointerWidth = pointerWidth
        self.compression = compression
        self.recordingAllocator = recordingAllocator
    }
    /// The usual build for a pointer width: 64-bit as TFLM's Python package (compression on,
    /// recording allocator), 32-bit as a Cortex-M firmware from the Makefile build (neither).
    public static func standard(_ w: PointerWidth) -> TFLMBuild {
        TFLMBuild(pointerWidth: w, compression: w == .bits64, recordingAllocator: w == .bits64)
    }
}

/// A C struct's layout as a list of field types, so one declaration gives `sizeof` and
/// `alignof` for both pointer widths (natural alignment, as GCC and Clang lay structs out on
/// x86-64 and on the Arm EABI, where `double` is 8-aligned too).
package struct CStruct: Sendable {
    package indirect enum Field: Sendable {
        case int8, int16, int32, int64, float32, float64, bool
        /// A pointer or `size_t`.
        case pointer
        case array(Field, Int)
        case nested(CStruct)

        func size(_ w: PointerWidth) -> Int {
            switch self {
            case .int8, .bool: 1
            case .int16: 2
            case .int32, .float32: 4
            case .int64, .float64: 8
            case .pointer: w.pointerBytes
            case .array(let f, let n): f.size(w) * n
            case .nested(let s): s.size(w)
            }
        }

        func alignment(_ w: PointerWidth) -> Int {
            switch self {
            case .array(let f, _): f.alignment(w)
            case .nested(let s): s.alignment(w)
            default: size(w)
            }
        }
    }

    package var fields: [Field]
    package init(_ fields: [Field]) { self.fields = fields }

    package func alignment(_ w: PointerWidth) -> Int { fields.map { $0.alignment(w) }.max() ?? 1 }

    package func size(_ w: PointerWidth) -> Int {
        var offset = 0
        for f in fields { offset = roundUp(offset, f.alignment(w)) + f.size(w) }
        return roundUp(offset, alignment(w))
    }

    /// Parsed options whose fields are all `int`-sized (ints and C enums).
    package static func options(ints n: Int) -> CStruct { CStruct([.array(.int32, n)]) }

    // Structs several kernels share (tensorflow/lite/core/c/common.h, TFLM kernels' headers).
    /// TfLitePaddingValues: width, height, width_offset, height_offset, depth, depth_offset.
    package static let paddingValues = CStruct([.array(.int32, 6)])
}

package func roundUp(_ x: Int, _ alignment: Int) -> Int { (x + alignment - 1) / alignment * alignment }

/// One operand the kernel's Prepare reads through `AllocateTempInputTensor` or
/// `AllocateTempOutputTensor` (each one a TfLiteTensor in the arena's temporary section until
/// the node is prepared).
package enum TempTensor: Sendable, Equatable {
    case input(Int)
    case output(Int)
}

/// What one TFLM kernel takes from the tensor arena for one node, in the order it asks for it.
package struct MicroKernelFootprint: Sendable {
    /// The parsed builtin options (flatbuffer_conversions.cc `Parse*`: one struct from the
    /// persistent section, aligned to the struct), nil when the parser allocates none.
    package var builtinData: CStruct?
    /// `context->AllocatePersistentBuffer` sizes in the kernel's Init (16-byte aligned).
    package var initBuffers: [Int]
    /// `context->AllocatePersistentBuffer` sizes in the kernel's Prepare.
    package var prepareBuffers: [Int]
    /// `RequestScratchBufferInArena` sizes in Prepare; each lives for this node only.
    package var scratch: [Int]
    /// Operands Prepare reads as temporary TfLiteTensors, in order; nil: every present input,
    /// then every output.
    package var tempTensors: [TempTensor]?
    /// How many of those temporaries exist when Prepare allocates `prepareBuffers`; nil: all.
    package var buffersAfterTemps: Int?
    /// Subgraphs the op runs (WHILE: condition, body; IF: then, else), in the order TFLM's
    /// AllocationInfoBuilder::MarkSubgraphLifetimesIfNecessary plans them inside the op.
    package var subgraphs: [Int] = []

    package init(builtinData: CStruct? = nil, initBuffers: [Int] = [], prepareBuffers: [Int] = [], scratch: [Int] = [], tempTensors: [TempTensor]? = nil, buffersAfterTemps: Int? = nil) {
        self.builtinData = builtinData
        self.initBuffers = initBuffers
        self.prepareBuffers = prepareBuffers
        self.scratch = scratch
        self.tempTensors = tempTensors
        self.buffersAfterTemps = buffersAfterTemps
    }
}

/// The node a footprint is computed for: its op, operand values and the target's pointer width.
package struct MicroFootprintContext {
    package let op: Op
    /// The op's inputs (nil: an absent optional input).
    package let inputs: [Value?]
    package let outputs: [Value]
    package let build: TFLMBuild
    package var width: PointerWidth { build.pointerWidth }

    package init(op: Op, inputs: [Value?], outputs: [Value], build: TFLMBuild) {
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.build = build
    }

    package func input(_ i: Int) -> Value? { i < inputs.count ? inputs[i] : nil }
    /// A buffer size from factors taken from the model, refused past any arena's size (2^40), so
    /// a hostile shape cannot overflow the arithmetic.
    package func bytes(_ factors: Int...) throws -> Int {
        var result = 1
        for f in factors {
            let (m, o) = result.multipliedReportingOverflow(by: f)
            guard f >= 0, !o, m <= MicroFootprintContext.largestBuffer else {
                throw FootprintUnknown("\(op.name): a buffer of \(factors.map(String.init).joined(separator: " x ")) bytes is larger than any arena")
            }
            result = m
        }
        return result
    }
    /// The largest buffer the replay accepts (1 TiB).
    package static let largestBuffer = 1 << 40
    package func size(_ s: CStruct) -> Int { s.size(width) }
    /// The number of output channels of a filter laid out with channels at `axis`.
    package func dimension(ofInput i: Int, _ axis: Int) -> Int? {
        guard let v = input(i), axis >= 0, axis < v.shape.count else { return nil }
        return Int(v.shape[axis])
    }
    /// The number of per-channel scales of an input's quantization (0 if not quantized).
    package func scaleCount(ofInput i: Int) -> Int { input(i)?.quantization?.scales.count ?? 0 }
}

/// Thrown when an op's arena footprint is not declared or its operands are not static.
package struct FootprintUnknown: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
