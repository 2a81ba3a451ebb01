import Foundation
import TFRewrite
#if canImport(Glibc)
import Glibc
#endif

/// Refuses output names that would overwrite an input or another output of the same run: the
/// generated header or `--emit-resolver` naming the model, two outputs on one file. `-o` may name
/// the input model itself (repair in place): it is replaced atomically, and the model already
/// loaded stays readable. Docs/security.md, "Outputs".
enum OutputCollisions {
    /// `outputs` and `inputs` are (how the user named it, path); throws the first collision.
    static func check(outputs: [(flag: String, path: String)], inputs: [(what: String, path: String)], mayReplaceModel: String?) throws {
        for (i, output) in outputs.enumerated() {
            for earlier in outputs[..<i] where sameOutput(earlier.path, output.path) {
                throw CLIError("\(output.flag) \(output.path) and \(earlier.flag) \(earlier.path) are the same file; nothing written")
            }
            for input in inputs where isInput(input.path, output.path) {
                if input.path == mayReplaceModel && output.flag == "-o" { continue }
                throw CLIError("\(output.flag) \(output.path) would overwrite the \(input.what) \(input.path); nothing written")
            }
        }
    }

    /// Two output names reach the same file: equal paths, or one existing file (not following a
    /// final symlink: a symlink output is replaced, not written through).
    static func sameOutput(_ a: String, _ b: String) -> Bool {
        if absolute(a) == absolute(b) { return true }
        guard let x = identity(a, followLink: false), let y = identity(b, followLink: false) else { return false }
        return x == y
    }

    /// Writing `output` would replace `input` (read through symlinks), or a SavedModel folder's
    /// `saved_model.pb`.
    static func isInput(_ input: String, _ output: String) -> Bool {
        guard let out = identity(output, followLink: false) else { return false }
        var candidates = [input]
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
            candidates.append((input as NSString).appendingPathComponent("saved_model.pb"))
        }
        return candidates.contains { identity($0, followLink: true) == out }
    }

    struct FileIdentity: Equatable { var device: UInt, inode: UInt }

    static func identity(_ path: String, followLink: Bool) -> FileIdentity? {
        var info = stat()
        guard (followLink ? stat(path, &info) : lstat(path, &info)) == 0 else { return nil }
        return FileIdentity(device: UInt(info.st_dev), inode: UInt(info.st_ino))
    }

    static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        return (full as NSString).standardizingPath
    }
}
