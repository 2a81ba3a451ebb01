import FlatBuffers
import IR
import Kernels

// The custom ops of TFLM's signal library (tflite-micro signal/micro/kernels/*.cc), keyed by
// the custom codes TFLM's op resolver registers them under
// (tensorflow/lite/micro/micro_mutable_op_resolver.h `AddWindow`, `AddRfft`, …, which use the
// names "SignalWindow", "SignalRfft", …).
extension CustomOperatorTable {
    static let signalOperators = [
        window, fftAutoScale, rfft, energy, filterBank, filterBankSquareRoot,
        filterBankSpectralSubtraction, pcan, filterBankLog, framer, stacker, delay, overlapAdd, irfft,
    ]

    static let window = CustomOperatorDefinition("SignalWindow", resolverMethod: "AddWindow", kernel: { try SignalWindowKernel($0, $1) })
    static let fftAutoScale = CustomOperatorDefinition("SignalFftAutoScale", resolverMethod: "AddFftAutoScale", kernel: { try SignalFftAutoScaleKernel($0, $1) })
    static let rfft = CustomOperatorDefinition("SignalRfft", resolverMethod: "AddRfft", kernel: { try SignalRfftKernel($0, $1) })
    static let energy = CustomOperatorDefinition("SignalEnergy", resolverMethod: "AddEnergy", kernel: { try SignalEnergyKernel($0, $1) })
    static let filterBank = CustomOperatorDefinition("SignalFilterBank", resolverMethod: "AddFilterBank", kernel: { try SignalFilterBankKernel($0, $1) })
    static let filterBankSquareRoot = CustomOperatorDefinition("SignalFilterBankSquareRoot", resolverMethod: "AddFilterBankSquareRoot", kernel: { try SignalFilterBankSquareRootKernel($0, $1) })
    static let filterBankSpectralSubtraction = CustomOperatorDefinition(
        "SignalFilterBankSpectralSubtraction", resolverMethod: "AddFilterBankSpectralSubtraction", kernel: { try SignalSpectralSubtractionKernel($0, $1) })
    static let pcan = CustomOperatorDefinition("SignalPCAN", resolverMethod: "AddPCAN", kernel: { try SignalPCANKernel($0, $1) })
    static let filterBankLog = CustomOperatorDefinition("SignalFilterBankLog", resolverMethod: "AddFilterBankLog", kernel: { try SignalFilterBankLogKernel($0, $1) })
    static let framer = CustomOperatorDefinition("SignalFramer", resolverMethod: "AddFramer", kernel: { try SignalFramerKernel($0, $1) })
    static let stacker = CustomOperatorDefinition("SignalStacker", resolverMethod: "AddStacker", kernel: { try SignalStackerKernel($0, $1) })
    static let delay = CustomOperatorDefinition("SignalDelay", resolverMethod: "AddDelay", kernel: { try SignalDelayKernel($0, $1) })
    static let overlapAdd = CustomOperatorDefinition("SignalOverlapAdd", resolverMethod: "AddOverlapAdd", kernel: { try SignalOverlapAddKernel($0, $1) })
    static let irfft = CustomOperatorDefinition("SignalIrfft", resolverMethod: "AddIrfft", kernel: { try SignalIrfftKernel($0, $1) })
}
