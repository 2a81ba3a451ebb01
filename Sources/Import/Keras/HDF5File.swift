import CHDF5
import Support
import Synchronization

/// Why an HDF5 file could not be read: one line naming the file and the object.
package struct HDF5Error: Error, Equatable, CustomStringConvertible {
    package var path: String
    package var message: String
    package var description: String { "\(path): \(message)" }
}

/// A read-only HDF5 file held in memory, as much of it as Keras files need: walking group paths,
/// reading numeric datasets as float32 and string attributes. Every libhdf5 call's result is
/// checked; the library's own error-stack printing is switched off, so a damaged file gives one
/// `HDF5Error` line. Use it only inside `HDF5File.open`, which holds the one lock the (not
/// thread-safe) serial libhdf5 build needs.
package struct HDF5File {
    private let file: hid_t
    var fileID: hid_t { file }
    /// The file's name in messages.
    package let path: String

    private static let lock = Mutex(())

    /// Opens `image` (the bytes of an HDF5 file) with the in-memory "core" driver, runs `body`
    /// and closes it again, all under the libhdf5 lock.
    package static func open<T>(image: [UInt8], path: String, _ body: (HDF5File) throws -> T) throws -> T {
        try lock.withLock { _ in
            // Returns negative only when the default error stack is invalid; nothing to do then.
            _ = H5Eset_auto2(chdf5_error_default(), nil, nil)
            guard !image.isEmpty else { throw HDF5Error(path: path, message: "the file is empty") }
            let access = H5Pcreate(chdf5_file_access_class())
            guard access >= 0 else { throw HDF5Error(path: path, message: "libhdf5 cannot create a file access property list") }
            defer { H5Pclose(access) }
            guard H5Pset_fapl_core(access, 1 << 16, false) >= 0 else {
                throw HDF5Error(path: path, message: "libhdf5 cannot use its in-memory driver")
            }
            // H5Pset_file_image copies the bytes, so the array need not outlive this call.
            let copied = image.withUnsafeBytes { H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
            guard copied >= 0 else { throw HDF5Error(path: path, message: "libhdf5 cannot take the \(image.count)-byte file image") }
            // The core driver refuses a name that exists on disk; under /dev/null nothing can.
            let file = H5Fopen("/dev/null/tfrewrite-hdf5-image", chdf5_read_only(), access)
            guard file >= 0 else { throw HDF5Error(path: path, message: "not a readable HDF5 file (libhdf5 cannot open it: truncated or damaged)") }
            let opened = HDF5File(file: file, path: path)
            defer { H5Fclose(file) }
            return try body(opened)
        }
    }

    private init(file: hid_t, path: String) {
        self.file = file
        self.path = path
    }

    private func fail(_ object: String, _ message: String) -> HDF5Error {
        HDF5Error(path: path, message: "'\(object)': \(message)")
    }

    /// True when every component of `objectPath` ("a/b/c") names a link that resolves.
    package func contains(_ objectPath: String) -> Bool {
        var prefix = ""
        for component in objectPath.split(separator: "/") {
            prefix += prefix.isEmpty ? String(component) : "/\(component)"
            guard H5Lexists(file, prefix, chdf5_default()) > 0 else { return false }
        }
        return !prefix.isEmpty
    }

    /// The object's kind, nil when it is absent or cannot be opened.
    private func objectType(_ objectPath: String) -> H5I_type_t? {
        guard contains(objectPath) else { return nil }
        let object = H5Oopen(file, objectPath, chdf5_default())
        guard object >= 0 else { return nil }
        defer { H5Oclose(object) }
        return H5Iget_type(object)
    }

    package func isDataset(_ objectPath: String) -> Bool { objectType(objectPath) == H5I_DATASET }
    package func isGroup(_ objectPath: String) -> Bool { objectType(objectPath) == H5I_GROUP }

    /// A numeric dataset converted to float32 by libhdf5, with its shape.
    package func floats(_ objectPath: String) throws -> (shape: [Int], values: [Float]) {
        guard isDataset(objectPath) else { throw fail(objectPath, "no such dataset") }
        let dataset = H5Dopen2(file, objectPath, chdf5_default())
        guard dataset >= 0 else { throw fail(objectPath, "libhdf5 cannot open the dataset") }
        defer { H5Dclose(dataset) }
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw fail(objectPath, "libhdf5 cannot read the dataset's type") }
        defer { H5Tclose(type) }
        let typeClass = H5Tget_class(type)
        guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
            throw fail(objectPath, "the dataset is not numeric (HDF5 type class \(typeClass.rawValue))")
        }
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw fail(objectPath, "libhdf5 cannot read the dataset's shape") }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 32 else { throw fail(objectPath, "the dataset's rank \(rank) is unusable") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw fail(objectPath, "libhdf5 cannot read the dataset's dimensions") }
        let shape = dims.map { Int(clamping: $0) }
        guard let count = MemoryBudget.elementCount(shape) else { throw fail(objectPath, "the dataset's shape \(shape) is too large") }
        try MemoryBudget.check(count: count, elementSize: 4, for: "\(path): dataset '\(objectPath)' \(shape)")
        guard H5Sget_simple_extent_npoints(space) == count else { throw fail(objectPath, "the dataset's element count does not match its shape") }
        var values = [Float](repeating: 0, count: count)
        if count > 0 {
            let status = values.withUnsafeMutableBytes { H5Dread(dataset, chdf5_native_float(), chdf5_all(), chdf5_all(), chdf5_default(), $0.baseAddress) }
            guard status >= 0 else { throw fail(objectPath, "libhdf5 cannot read the dataset's values (damaged, or a type it cannot convert to float32)") }
        }
        return (shape, values)
    }

    /// The strings of attribute `name` on the object at `objectPath` ("." for the root), fixed- or
    /// variable-length; nil when the attribute is absent; an empty array of any type is [].
    package func strings(attribute name: String, of objectPath: String) throws -> [String]? {
        let what = "\(objectPath == "." ? "" : objectPath) attribute '\(name)'"
        guard objectPath == "." || contains(objectPath) else { return nil }
        let exists = H5Aexists_by_name(file, objectPath, name, chdf5_default())
        guard exists >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot look it up") }
        guard exists > 0 else { return nil }
        let attribute = H5Aopen_by_name(file, objectPath, name, chdf5_default(), chdf5_default())
        guard attribute >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot open it") }
        defer { H5Aclose(attribute) }
        let space = H5Aget_space(attribute)
        guard space >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot read its shape") }
        defer { H5Sclose(space) }
        let points = H5Sget_simple_extent_npoints(space)
        guard points >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot count its elements") }
        guard points > 0 else { return [] }
        let count = Int(points)
        let type = H5Aget_type(attribute)
        guard type >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot read its type") }
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else { throw HDF5Error(path: path, message: "\(what) is not a string") }
        let variable = H5Tis_variable_str(type)
        guard variable >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot read its string type") }
        let memoryType = H5Tcopy(chdf5_c_string())
        guard memoryType >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot make a string type") }
        defer { H5Tclose(memoryType) }
        if variable > 0 {
            guard H5Tset_size(memoryType, chdf5_variable_size()) >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot make a string type") }
            try MemoryBudget.check(count: count, elementSize: MemoryLayout<UnsafeMutablePointer<CChar>?>.size, for: "\(path): \(what)")
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(attribute, memoryType, &pointers) >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot read it") }
            defer { _ = H5Dvlen_reclaim(memoryType, space, chdf5_default(), &pointers) }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(type)
        guard size > 0, H5Tset_size(memoryType, size) >= 0 else { throw HDF5Error(path: path, message: "\(what): unusable string size \(size)") }
        try MemoryBudget.check(count: count, elementSize: size, for: "\(path): \(what)")
        var bytes = [UInt8](repeating: 0, count: count * size)
        guard H5Aread(attribute, memoryType, &bytes) >= 0 else { throw HDF5Error(path: path, message: "\(what): libhdf5 cannot read it") }
        return (0..<count).map { k in
            let field = bytes[(k * size)..<((k + 1) * size)]
            return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
