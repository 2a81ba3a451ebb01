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

    static let window = CustomOperatorDefinition("SignalWindow", kernel: { try SignalWindowKernel($0, $1) })
    static let fftAutoScale = CustomOperatorDefinition("SignalFftAutoScale", kernel: { try SignalFftAutoScaleKernel($0, $1) })
    static let rfft = CustomOperatorDefinition("SignalRfft", kernel: { try SignalRfftKernel($0, $1) })
    static let energy = CustomOperatorDefinition("SignalEnergy", kernel: { try SignalEnergyKernel($0, $1) })
    static let filterBank = CustomOperatorDefinition("SignalFilterBank", kernel: { try SignalFilterBankKernel($0, $1) })
    static let filterBankSquareRoot = CustomOperatorDefinition("SignalFilterBankSquareRoot", kernel: { try SignalFilterBankSquareRootKernel($0, $1) })
    static let filterBankSpectralSubtraction = CustomOperatorDefinition(
        "SignalFilterBankSpectralSubtraction", kernel: { try SignalSpectralSubtractionKernel($0, $1) })
    static let pcan = CustomOperatorDefinition("SignalPCAN", kernel: { try SignalPCANKernel($0, $1) })
    static let filterBankLog = CustomOperatorDefinition("SignalFilterBankLog", kernel: { try SignalFilterBankLogKernel($0, $1) })
    static let framer = CustomOperatorDefinition("SignalFramer", kernel: { try SignalFramerKernel($0, $1) })
    static let stacker = CustomOperatorDefinition("SignalStacker", kernel: { try SignalStackerKernel($0, $1) })
    static let delay = CustomOperatorDefinition("SignalDelay", kernel: { try SignalDelayKernel($0, $1) })
    static let overlapAdd = CustomOperatorDefinition("SignalOverlapAdd", kernel: { try SignalOverlapAddKernel($0, $1) })
    static let irfft = CustomOperatorDefinition("SignalIrfft", kernel: { try SignalIrfftKernel($0, $1) })
}
