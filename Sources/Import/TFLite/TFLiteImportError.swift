import FlatBuffers
import IR
import Ops
import Support
import TFProto

/// Why a .tflite file could not be read. Each case renders as one line naming the place.
public enum TFLiteImportError: Error, CustomStringConvertible, Equatable {
    case notTFLite(identifier: String)
    case tooSmall(size: Int)
    case malformed(FlatBufferError)
    case unsupportedVersion(UInt32)
    case invalid(String, at: String)
    case unsupported(String, at: String)

    public var description: String {
        switch self {
        case .notTFLite(let id): "not a TFLite model: file identifier is \"\(id)\", expected \"TFL3\""
        case .tooSmall(let n): "not a TFLite model: file is \(n) bytes, too small for a FlatBuffer header"
        case .malformed(let e): "corrupt FlatBuffer: \(e.description)"
        case .unsupportedVersion(let v): "unsupported TFLite schema version \(v) (Model.version), expected 3"
        case .invalid(let what, let at): "\(at): \(what)"
        case .unsupported(let what, let at): "\(at): not supported: \(what)"
        }
    }
}
