import CHDF5
import Support

/// What the Keras importer reads from an HDF5 file, taken out of libhdf5 in one go: every
/// object's path and kind, each numeric dataset as float32 with its shape, and the string
/// attributes `model_config` (root) and `weight_names` (groups). A read that failed is kept as
/// its message and thrown only when the importer asks for that object, as `HDF5File` would.
/// The snapshot crosses the process boundary in `HDF5SnapshotCodec`'s format, so that libhdf5
/// runs on untrusted bytes only in a child process (`HDF5Reader`).
package struct HDF5Snapshot: Equatable, Sendable {
    package enum Kind: UInt8, Sendable { case group = 1, dataset = 2, other = 3 }
    package struct Dataset: Equatable, Sendable {
        package var shape: [Int]
        package var values: [Float]
    }
    /// The file's name in messages.
    package var path: String
    package var objects: [String: Kind] = [:]
    package var datasets: [String: Result<Dataset, HDF5Error>] = [:]
    /// Keyed by `attributeKey(name, objectPath)`; absent attributes are not listed.
    package var attributes: [String: Result<[String], HDF5Error>] = [:]

    /// The attributes the importer reads: `model_config` on the root, `weight_names` on groups.
    package static let rootAttributes = ["model_config"]
    package static let groupAttributes = ["weight_names"]

    package init(path: String) { self.path = path }

    static func attributeKey(_ name: String, _ objectPath: String) -> String { "\(objectPath)\u{0}\(name)" }

    package func isDataset(_ objectPath: String) -> Bool { objects[objectPath] == .dataset }
    package func isGroup(_ objectPath: String) -> Bool { objects[objectPath] == .group }

    package func floats(_ objectPath: String) throws -> (shape: [Int], values: [Float]) {
        guard let read = datasets[objectPath] else { throw HDF5Error(path: path, message: "'\(objectPath)': no such dataset") }
        let dataset = try read.get()
        return (dataset.shape, dataset.values)
    }

    /// Only the attributes named in `rootAttributes` and `groupAttributes` are held.
    package func strings(attribute name: String, of objectPath: String) throws -> [String]? {
        precondition(Self.rootAttributes.contains(name) || Self.groupAttributes.contains(name), "attribute \(name) is not in the HDF5 snapshot")
        return try attributes[Self.attributeKey(name, objectPath)]?.get()
    }
}

extension HDF5Snapshot {
    /// Reads the snapshot with libhdf5 in this process: only for trusted bytes, or in the reader
    /// child process.
    package static func read(image: [UInt8], path: String) throws -> HDF5Snapshot {
        try HDF5File.open(image: image, path: path) { file in
            var snapshot = HDF5Snapshot(path: path)
            snapshot.objects = try file.objectKinds()
            for (objectPath, kind) in snapshot.objects.sorted(by: { $0.key < $1.key }) {
                switch kind {
                case .dataset:
                    snapshot.datasets[objectPath] = Result {
                        do { return try Dataset(file.floats(objectPath)) } catch let e as MemoryBudgetError { throw HDF5Error(path: path, message: "\(e)") }
                    }.mapError { $0 as? HDF5Error ?? HDF5Error(path: path, message: "\($0)") }
                case .group:
                    for name in groupAttributes { snapshot.readAttribute(file, name, objectPath) }
                case .other: break
                }
            }
            for name in rootAttributes { snapshot.readAttribute(file, name, ".") }
            return snapshot
        }
    }

    private mutating func readAttribute(_ file: HDF5File, _ name: String, _ objectPath: String) {
        do {
            if let strings = try file.strings(attribute: name, of: objectPath) { attributes[Self.attributeKey(name, objectPath)] = .success(strings) }
        } catch {
            attributes[Self.attributeKey(name, objectPath)] = .failure(error as? HDF5Error ?? HDF5Error(path: path, message: "\(error)"))
        }
    }
}

extension HDF5Snapshot.Dataset {
    init(_ read: (shape: [Int], values: [Float])) { self.init(shape: read.shape, values: read.values) }
}

extension HDF5File {
    /// Every object reachable from the root by hard links ("a/b/c", no leading slash), visited by
    /// H5Ovisit2, which visits each object once even when links form cycles.
    func objectKinds() throws -> [String: HDF5Snapshot.Kind] {
        final class Collected { var kinds: [String: HDF5Snapshot.Kind] = [:] }
        let collected = Collected()
        let status = withExtendedLifetime(collected) {
            H5Ovisit2(fileID, H5_INDEX_NAME, H5_ITER_INC, { _, name, info, context in
                guard let name, let info, let context else { return -1 }
                let collected = Unmanaged<Collected>.fromOpaque(context).takeUnretainedValue()
                let objectPath = String(cString: name)
                guard objectPath != "." else { return 0 }
                switch info.pointee.type {
                case H5O_TYPE_GROUP: collected.kinds[objectPath] = .group
                case H5O_TYPE_DATASET: collected.kinds[objectPath] = .dataset
                default: collected.kinds[objectPath] = .other
                }
                return 0
            }, Unmanaged.passUnretained(collected).toOpaque(), UInt32(H5O_INFO_BASIC))
        }
        guard status >= 0 else { throw HDF5Error(path: path, message: "libhdf5 cannot list the file's objects (damaged)") }
        return collected.kinds
    }
}
