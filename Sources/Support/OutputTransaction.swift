import FlatBuffers
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Output files that appear together or not at all (a C array, its header and an op-resolver
/// header), each written through an unpredictable temporary file in its destination folder and
/// `rename(2)`d into place only when every one of them was written. Docs/security.md, "Outputs":
///
/// - a temporary is created with `O_CREAT|O_EXCL|O_NOFOLLOW` under a random name, so a file or
///   symlink planted beside the output is never opened, let alone followed;
/// - an existing regular file keeps its permission bits (and owner and group, where allowed);
/// - a character device or FIFO (`/dev/null`, a named pipe, also through a symlink) is written in
///   place, never replaced; `/dev/stdout`, `/dev/stderr` and `/dev/fd/N` write to that
///   descriptor; a directory, block device or socket is refused;
/// - a symbolic link to a regular file is replaced by the new file (as `mv` does); its target is
///   never written;
/// - on any failure, and on SIGINT/SIGHUP/SIGTERM (`TemporaryFileCleanup`), the temporaries are
///   removed, and files already renamed in a failed commit are put back.
///
/// In-place destinations are written as they are staged and cannot be taken back.
public final class OutputTransaction {
    private struct Staged {
        package var path: String
        /// nil for a destination written in place.
        package var temporary: String?
        package var slot: TemporaryFileCleanup.Slot?
        /// Something (a file or a symlink) was at `path` and the rename replaces it.
        package var replaces: Bool
    }

    private var staged: [Staged] = []

    public init() {}

    deinit { discard() }

    /// Writes one output through `body`, which gets a descriptor open for writing. Nothing is
    /// visible at `path` until `commit()`, unless `path` is written in place.
    public func stage(_ path: String, _ body: (Int32) throws -> Void) throws {
        switch try Self.destination(of: path) {
        case .descriptor(let fd):
            let copy = dup(fd)
            guard copy >= 0 else { throw AtomicFile.WriteError(path: path, message: "cannot write: \(Self.errorText())") }
            try Self.writeAndClose(copy, path: path, body)
            staged.append(Staged(path: path, temporary: nil, slot: nil, replaces: false))
        case .inPlace:
            let fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
            guard fd >= 0 else { throw AtomicFile.WriteError(path: path, message: "cannot open: \(Self.errorText())") }
            try Self.writeAndClose(fd, path: path, body)
            staged.append(Staged(path: path, temporary: nil, slot: nil, replaces: false))
        case .create(let replaces):
            let (fd, temporary, slot) = try Self.createTemporary(beside: path, mode: 0o644)
            do {
                try Self.writeAndClose(fd, path: path, body)
            } catch {
                unlink(temporary)
                TemporaryFileCleanup.unregister(slot)
                throw error
            }
            staged.append(Staged(path: path, temporary: temporary, slot: slot, replaces: replaces))
        case .replaceRegular(let mode, let owner, let group):
            // Private while being written; the old file's mode is set once the content is complete.
            let (fd, temporary, slot) = try Self.createTemporary(beside: path, mode: 0o600)
            do {
                try Self.writeAndClose(fd, path: path) { fd in
                    try body(fd)
                    if owner != geteuid() || group != getegid() { _ = fchown(fd, owner, group) }
                    guard fchmod(fd, mode) == 0 else {
                        throw AtomicFile.WriteError(path: path, message: "cannot keep the mode \(String(mode, radix: 8)): \(Self.errorText())")
                    }
                }
            } catch {
                unlink(temporary)
                TemporaryFileCleanup.unregister(slot)
                throw error
            }
            staged.append(Staged(path: path, temporary: temporary, slot: slot, replaces: true))
        }
    }

    /// Renames every staged temporary into place. If one rename fails, the outputs renamed before
    /// it are taken back (a replaced file is restored from a hard link made just before) and the
    /// error is thrown.
    public func commit() throws {
        let pending = staged
        staged = []
        var done: [(path: String, backup: String?, backupSlot: TemporaryFileCleanup.Slot?)] = []
        for (i, s) in pending.enumerated() {
            guard let temporary = s.temporary else { continue }
            var backup: String?
            var backupSlot: TemporaryFileCleanup.Slot?
            if s.replaces && pending.count > 1 {
                (backup, backupSlot) = Self.hardLinkBackup(of: s.path)
            }
            if rename(temporary, s.path) != 0 {
                let message = "cannot rename into place: \(Self.errorText())"
                if let backup { unlink(backup) }
                TemporaryFileCleanup.unregister(backupSlot)
                for d in done.reversed() {
                    if let b = d.backup { rename(b, d.path) } else { unlink(d.path) }
                    TemporaryFileCleanup.unregister(d.backupSlot)
                }
                for rest in pending[i...] {
                    if let t = rest.temporary { unlink(t) }
                    TemporaryFileCleanup.unregister(rest.slot)
                }
                throw AtomicFile.WriteError(path: s.path, message: message)
            }
            TemporaryFileCleanup.unregister(s.slot)
            done.append((s.path, backup, backupSlot))
        }
        for d in done {
            if let b = d.backup { unlink(b) }
            TemporaryFileCleanup.unregister(d.backupSlot)
        }
    }

    /// Removes every staged temporary; nothing is renamed.
    public func discard() {
        for s in staged {
            if let t = s.temporary { unlink(t) }
            TemporaryFileCleanup.unregister(s.slot)
        }
        staged = []
    }

    // MARK: - Destinations

    package enum Destination: Equatable {
        case create(replaces: Bool)
        case replaceRegular(mode: mode_t, owner: uid_t, group: gid_t)
        case inPlace
        case descriptor(Int32)
    }

    /// What writing `path` means, from `lstat(2)` (and `stat(2)` through a symlink).
    /// True when `path` is written as a stream, not a file: /dev/stdout, /dev/fd/N, a
    /// character device or FIFO (also through a symlink), as `destination(of:)` decides.
    public static func isStream(_ path: String) -> Bool {
        switch try? destination(of: path) {
        case .descriptor, .inPlace: return true
        default: return false
        }
    }

    package static func destination(of path: String) throws -> Destination {
        if let fd = descriptorAlias(path) { return .descriptor(fd) }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return .create(replaces: false) }
            throw AtomicFile.WriteError(path: path, message: "cannot write: \(errorText())")
        }
        func refuse(_ kind: String) -> AtomicFile.WriteError {
            AtomicFile.WriteError(path: path, message: "\(kind); refusing to write an output there")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return .replaceRegular(mode: info.st_mode & 0o777, owner: info.st_uid, group: info.st_gid)
        case S_IFCHR, S_IFIFO:
            return .inPlace
        case S_IFDIR:
            throw refuse("is a directory")
        case S_IFLNK:
            var target = stat()
            guard stat(path, &target) == 0 else { return .create(replaces: true) }  // dangling: replace the link
            switch target.st_mode & S_IFMT {
            case S_IFREG: return .create(replaces: true)
            case S_IFCHR, S_IFIFO: return .inPlace
            case S_IFDIR: throw refuse("is a symbolic link to a directory")
            default: throw refuse("is a symbolic link to a block device or socket")
            }
        default:
            throw refuse("is a block device or socket")
        }
    }

    /// The descriptor `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` name.
    /// Written through a duplicate: reopening would lose an append mode or a pipe's other end, and
    /// renaming over `/dev/stdout` would replace the link itself.
    package static func descriptorAlias(_ path: String) -> Int32? {
        switch path {
        case "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
                if let n = Int32(path.dropFirst(prefix.count)), n >= 0 { return n }
            }
            return nil
        }
    }

    // MARK: - Files

    /// Creates `.NAME.tmp-RANDOM` in `path`'s folder; `O_EXCL|O_NOFOLLOW` refuse anything
    /// already there, a symlink included. Registered for removal on a signal before it exists.
    package static func createTemporary(beside path: String, mode: mode_t) throws -> (Int32, String, TemporaryFileCleanup.Slot?) {
        let prefix = siblingPrefix(of: path) + ".tmp-"
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<16 {
            let name = prefix + String(generator.next() as UInt64, radix: 36)
            let slot = TemporaryFileCleanup.register(name)
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd >= 0 { return (fd, name, slot) }
            let code = errno
            TemporaryFileCleanup.unregister(slot)
            if code != EEXIST { throw AtomicFile.WriteError(path: path, message: "cannot create: \(errorText(code))") }
        }
        throw AtomicFile.WriteError(path: path, message: "cannot create a temporary file beside it: every name tried exists")
    }

    /// A hard link to what is at `path` (`link(2)` does not follow a symlink), to restore it if a
    /// later output of the same commit fails; nil where the file system has no hard links.
    package static func hardLinkBackup(of path: String) -> (String?, TemporaryFileCleanup.Slot?) {
        var generator = SystemRandomNumberGenerator()
        let name = siblingPrefix(of: path) + ".old-" + String(generator.next() as UInt64, radix: 36)
        let slot = TemporaryFileCleanup.register(name)
        guard link(path, name) == 0 else {
            TemporaryFileCleanup.unregister(slot)
            return (nil, nil)
        }
        return (name, slot)
    }

    /// `DIR/.NAME`, with NAME shortened so that a suffix still fits NAME_MAX (255 bytes).
    package static func siblingPrefix(of path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        var base = (path as NSString).lastPathComponent
        while base.utf8.count > 200 { base.removeLast() }
        return (directory.isEmpty ? "" : directory.hasSuffix("/") ? directory : directory + "/") + "." + base
    }

    private static func writeAndClose(_ fd: Int32, path: String, _ body: (Int32) throws -> Void) throws {
        do {
            try body(fd)
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw AtomicFile.WriteError(path: path, message: "cannot write: \(errorText())") }
    }

    package static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}
