// Custom ops TFLM ships a kernel for that tfrewrite cannot run itself: they are declared so
// the resolver header registers them with TFLM's own method
// (tensorflow/lite/micro/micro_mutable_op_resolver.h: AddCircularBuffer,
// AddDetectionPostprocess, AddEthosU).
extension CustomOperatorTable {
    static let microOnlyOperators = [
        CustomOperatorDefinition("CIRCULAR_BUFFER", resolverMethod: "AddCircularBuffer"),
        CustomOperatorDefinition("TFLite_Detection_PostProcess", resolverMethod: "AddDetectionPostprocess"),
        CustomOperatorDefinition("ethos-u", resolverMethod: "AddEthosU"),
    ]
}
