/// Why a Keras model file could not be imported: one line naming the file and, where there is
/// one, the layer (its name and class) at fault.
public enum KerasImportError: Error, Equatable, CustomStringConvertible {
    /// The container or the model config is unusable (not a zip/HDF5, no config, bad JSON…).
    case file(path: String, message: String)
    /// A layer class tfrewrite has no lowering for.
    case unsupportedLayer(path: String, layer: String, className: String)
    /// A layer that cannot be lowered as configured (option, shape or weights).
    case layer(path: String, layer: String, className: String, message: String)

    public var description: String {
        switch self {
        case .file(let path, let message):
            return "\(path): \(message)"
        case .unsupportedLayer(let path, let layer, let className):
            return "\(path): layer '\(layer)' has class \(className), which tfrewrite cannot import (Docs/importing.md lists the Keras layers it reads)"
        case .layer(let path, let layer, let className, let message):
            return "\(path): layer '\(layer)' (\(className)): \(message)"
        }
    }
}
