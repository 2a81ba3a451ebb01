#if canImport(Glibc)
import Glibc
#endif
import Support
import Synchronization

/// How `KerasImporter` runs libhdf5. libhdf5 (1.10.8 here) is not memory-safe on crafted files:
/// a damaged .h5 can crash it. So by default the library refuses to read HDF5 until the host
/// says how: `childProcess` runs the `tfrewrite` executable's internal reader subcommand on the
/// bytes, under resource limits, and only parses what it prints; `inProcess` is for trusted
/// files. The `tfrewrite` CLI sets `childProcess` with its own executable.
public enum HDF5ReaderMode: Sendable, Equatable {
    case childProcess(executable: String, limits: HDF5ReaderLimits = HDF5ReaderLimits())
    case inProcess
    /// The "HDF5" bytes are already what the child prints (`HDF5SnapshotCodec`): fuzz-keras
    /// uses it to reach everything the CLI runs in its own process (zip, snapshot parsing,
    /// config, lowerings) without libhdf5, whose own crashes and loops the child contains.
    case snapshotImages
}

/// Limits on one reader child. CPU time: `cpuSeconds` plus one second per
/// `bytesPerExtraCPUSecond` of the file (a damaged file can send libhdf5 into a loop; reading a
/// real 100 MB file takes well under a second). Wall clock: twice the CPU limit plus
/// `extraWallSeconds`. Address space: the child's size at start plus the memory budget
/// (`--max-memory`) plus `extraAddressSpaceBytes`.
public struct HDF5ReaderLimits: Sendable, Equatable {
    public var cpuSeconds: Int
    public var bytesPerExtraCPUSecond: Int
    public var extraWallSeconds: Int
    public var extraAddressSpaceBytes: Int
    public init(cpuSeconds: Int = 10, bytesPerExtraCPUSecond: Int = 16 << 20, extraWallSeconds: Int = 5, extraAddressSpaceBytes: Int = 512 << 20) {
        self.cpuSeconds = cpuSeconds
        self.bytesPerExtraCPUSecond = bytesPerExtraCPUSecond
        self.extraWallSeconds = extraWallSeconds
        self.extraAddressSpaceBytes = extraAddressSpaceBytes
    }

    func cpuSeconds(forBytes count: Int) -> Int { cpuSeconds + count / max(bytesPerExtraCPUSecond, 1) }
    func wallSeconds(forBytes count: Int) -> Int { 2 * cpuSeconds(forBytes: count) + extraWallSeconds }
}

/// The HDF5 reader child failed: the file is refused, whatever the cause.
public struct HDF5ReaderError: Error, Equatable, CustomStringConvertible {
    public enum Cause: Equatable, Sendable {
        case signal(Int32), exitStatus(Int32), timedOut(seconds: Int), malformedOutput(String), outputTooLarge(bytes: Int), cannotStart(String), notConfigured
    }
    public var path: String
    public var cause: Cause

    public var description: String {
        let why: String
        switch cause {
        case .notConfigured:
            return "\(path): no HDF5 reader is configured (set HDF5Reader.mode: .childProcess(executable: the tfrewrite executable), or .inProcess for trusted files)"
        case .cannotStart(let message):
            return "\(path): cannot start the HDF5 reader process: \(message)"
        case .signal(let number): why = "killed by signal \(number)\(Self.signalNames[number].map { ", \($0)" } ?? "")"
        case .exitStatus(let status): why = "exit status \(status)"
        case .timedOut(let seconds): why = "no answer within \(seconds) s"
        case .malformedOutput(let message): why = "malformed output: \(message)"
        case .outputTooLarge(let bytes): why = "output over \(MemoryBudget.describe(bytes)), the memory budget"
        }
        return "\(path): the HDF5 reader failed on this file (\(why)): the file is damaged or not a Keras model"
    }

    static let signalNames: [Int32: String] = [4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 24: "SIGXCPU"]
}

public enum HDF5Reader {
    private static let configured = Mutex<HDF5ReaderMode?>(nil)

    /// nil (the default) refuses to read HDF5; see `HDF5ReaderMode`.
    public static var mode: HDF5ReaderMode? {
        get { configured.withLock { $0 } }
        set { configured.withLock { $0 = newValue } }
    }

    /// The `tfrewrite` argument that runs the reader child; not a user command.
    public static let subcommand = "__hdf5-reader"

    /// The running executable, for `childProcess` in a program that serves `subcommand`:
    /// `/proc/self/exe` itself, which executes this process's own binary even if its file has
    /// since been replaced or deleted (no PATH lookup, no argv[0] guessing).
    public static func currentExecutable() -> String? {
        access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : nil
    }

    /// The snapshot of the HDF5 file `image`, read as `mode` says.
    package static func snapshot(image: [UInt8], path: String) throws -> HDF5Snapshot {
        switch mode {
        case nil: throw HDF5ReaderError(path: path, cause: .notConfigured)
        case .inProcess: return try HDF5Snapshot.read(image: image, path: path)
        case .snapshotImages:
            do { return try HDF5SnapshotCodec.decode(image, path: path) } catch let e as HDF5SnapshotCodec.FormatError {
                throw HDF5ReaderError(path: path, cause: .malformedOutput(e.message))
            }
        case .childProcess(let executable, let limits):
            let output = try runChild(executable: executable, limits: limits, image: image, path: path)
            do { return try HDF5SnapshotCodec.decode(output, path: path) } catch let e as HDF5SnapshotCodec.FormatError {
                throw HDF5ReaderError(path: path, cause: .malformedOutput(e.message))
            }
        }
    }

    /// Runs `executable __hdf5-reader BUDGET EXTRA CPU` with the image on its stdin (an unlinked
    /// temporary file, so no pipe can deadlock) and collects its stdout.
    private static func runChild(executable: String, limits: HDF5ReaderLimits, image: [UInt8], path: String) throws -> [UInt8] {
        func cannot(_ what: String) -> HDF5ReaderError { HDF5ReaderError(path: path, cause: .cannotStart("\(what): \(String(cString: strerror(errno)))")) }
        let input = try unlinkedFile(holding: image, path: path)
        defer { close(input) }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw cannot("pipe") }
        for fd in pipeEnds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var readEnd = pipeEnds[0]
        defer { if readEnd >= 0 { close(readEnd) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments = [executable, subcommand, String(MemoryBudget.bytes), String(limits.extraAddressSpaceBytes), String(limits.cpuSeconds(forBytes: image.count))]
        // A crashing Swift child must die at once, not wait for the runtime's backtracer.
        var environment: [String] = []
        var e = environ
        while let entry = e.pointee { let s = String(cString: entry); if !s.hasPrefix("SWIFT_BACKTRACE=") { environment.append(s) }; e += 1 }
        environment.append("SWIFT_BACKTRACE=enable=no")
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(pipeEnds[1])
        guard spawned == 0 else { errno = spawned; throw cannot(executable) }

        // Collect stdout until EOF, the deadline or the size cap; then reap the child.
        let cap = MemoryBudget.bytes + (16 << 20)
        var output: [UInt8] = []
        var failure: HDF5ReaderError.Cause?
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let wallSeconds = limits.wallSeconds(forBytes: image.count)
        deadline.tv_sec += wallSeconds
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while failure == nil {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1_000_000
            guard left > 0 else { failure = .timedOut(seconds: wallSeconds); break }
            var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(clamping: left))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += chunk[..<n]
            if output.count > cap { failure = .outputTooLarge(bytes: cap) }
        }
        close(readEnd)
        readEnd = -1
        // A child that closed stdout but does not exit is still held to the deadline.
        var status: Int32 = 0
        while failure == nil {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno != EINTR) { break }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec) {
                failure = .timedOut(seconds: wallSeconds)
                break
            }
            usleep(2_000)
        }
        if failure != nil {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        if let failure { throw HDF5ReaderError(path: path, cause: failure) }
        let signal = status & 0x7f
        if signal != 0 { throw HDF5ReaderError(path: path, cause: .signal(signal)) }
        let exitStatus = (status >> 8) & 0xff
        if exitStatus != 0 { throw HDF5ReaderError(path: path, cause: .exitStatus(exitStatus)) }
        return output
    }

    /// A temporary file that no other process can open by name: created by mkstemp (mode 0600,
    /// O_EXCL) and unlinked at once; the descriptor is positioned at the start.
    private static func unlinkedFile(holding bytes: [UInt8], path: String) throws -> Int32 {
        let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(directory)/tfrewrite-hdf5-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw HDF5ReaderError(path: path, cause: .cannotStart("cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))")) }
        unlink(template)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                throw HDF5ReaderError(path: path, cause: .cannotStart("cannot write a temporary file in \(directory): \(message)"))
            }
            written += n
        }
        lseek(fd, 0, SEEK_SET)
        return fd
    }
}

/// The reader child: `tfrewrite __hdf5-reader BUDGET EXTRA CPU`, the HDF5 image on stdin, the
/// snapshot (HDF5SnapshotCodec) on stdout. Limits are set before any byte is read.
public enum HDF5ReaderChild {
    public static func run(arguments: [String]) -> Never {
        guard arguments.count == 3, let budget = Int(arguments[0]), let extra = Int(arguments[1]), let cpu = Int(arguments[2]), budget > 0, extra > 0, cpu > 0 else { exit(64) }
        var core = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &core)
        var cpuLimit = rlimit(rlim_cur: rlim_t(cpu), rlim_max: rlim_t(cpu + 1))
        guard setrlimit(Int32(RLIMIT_CPU.rawValue), &cpuLimit) == 0 else { exit(70) }
        // The address space already mapped (runtime, libraries; a sanitizer's shadow) plus the
        // budget: libhdf5's allocations beyond that fail instead of exhausting the machine.
        let mapped = virtualSize() ?? 0
        let (space, overflow) = mapped.addingReportingOverflow(budget.addingReportingOverflow(extra).partialValue)
        if !overflow {
            var addressSpace = rlimit(rlim_cur: rlim_t(space), rlim_max: rlim_t(space))
            guard setrlimit(Int32(RLIMIT_AS.rawValue), &addressSpace) == 0 else { exit(70) }
        }
        MemoryBudget.bytes = budget
        #if DEBUG
        // Test hooks (debug builds only): a child that crashes, hangs or prints garbage.
        switch getenv("TFREWRITE_TEST_HDF5_READER").map({ String(cString: $0) }) {
        case "crash": _ = raise(SIGSEGV)
        case "hang": while true { sleep(60) }
        case "garbage": writeAll(Array("TFRH5S1\nD\u{7}\u{0}\u{0}\u{0}".utf8)); exit(0)
        default: break
        }
        #endif
        var image: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { exit(74) }
            if n == 0 { break }
            image += chunk[..<n]
            guard image.count <= budget else {
                writeAll(HDF5SnapshotCodec.encodeFailure("the file is larger than the memory budget \(MemoryBudget.describe(budget))"))
                exit(0)
            }
        }
        do {
            writeAll(HDF5SnapshotCodec.encode(try HDF5Snapshot.read(image: image, path: "")))
        } catch let error as HDF5Error {
            writeAll(HDF5SnapshotCodec.encodeFailure(error.message))
        } catch {
            writeAll(HDF5SnapshotCodec.encodeFailure("\(error)"))
        }
        exit(0)
    }

    private static func writeAll(_ bytes: [UInt8]) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { exit(74) }
            written += n
        }
    }

    /// VmSize from /proc/self/statm (pages), in bytes.
    private static func virtualSize() -> Int? {
        guard let file = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(file) }
        var pages = 0
        guard firstNumber(file, &pages) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func firstNumber(_ file: UnsafeMutablePointer<FILE>, _ value: inout Int) -> Bool {
        var line = [CChar](repeating: 0, count: 128)
        guard fgets(&line, Int32(line.count), file) != nil else { return false }
        let text = String(cString: line)
        guard let first = text.split(separator: " ").first, let n = Int(first) else { return false }
        value = n
        return true
    }
}
