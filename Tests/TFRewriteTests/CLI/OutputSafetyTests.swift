import Foundation
import XCTest

@testable import TFRewrite

/// Where outputs go (Docs/security.md, "Outputs"), tried through the binary as a user or another
/// local user would: planted symlinks, devices and FIFOs as destinations, modes, name collisions
/// with the input, failures half-way through a C array, signals, unwritable stdout/stderr.
final class OutputSafetyTests: XCTestCase {
    var dir: URL!
    let model = TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path

    override func setUpWithError() throws {
        try requireTool()
        dir = try TestPaths.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() }

    /// The bytes a plain conversion of the fixture writes.
    func expectedBytes() throws -> Data {
        let r = try runTool([model, "-o", path("expected.tflite")])
        XCTAssertEqual(r.status, 0, r.stderr)
        defer { try? FileManager.default.removeItem(atPath: path("expected.tflite")) }
        return try Data(contentsOf: URL(fileURLWithPath: path("expected.tflite")))
    }

    func fileType(_ p: String) -> FileAttributeType? {
        (try? FileManager.default.attributesOfItem(atPath: p))?[.type] as? FileAttributeType
    }

    /// Runs `script` with sh, $0 being the binary.
    func shell(_ script: String) throws -> ProcessResult {
        try runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", script, TestPaths.executable.path])
    }

    // MARK: temporaries

    /// The temporary used to be `.NAME.tmp-PID`: another user could plant a symlink there and
    /// have the output written through it. In process, the PID is known.
    func testAPlantedSymlinkAtThePredictableTemporaryIsNotFollowed() throws {
        let victim = path("victim.txt")
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let output = path("out.bin")
        try FileManager.default.createSymbolicLink(atPath: path(".out.bin.tmp-\(getpid())"), withDestinationPath: victim)
        try AtomicFile.write(path: output, bytes: Array("new content\n".utf8))
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n")
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "new content\n")
        XCTAssertEqual(fileType(output), .typeRegular)
        XCTAssertEqual(try entries(), [".out.bin.tmp-\(getpid())", "out.bin", "victim.txt"])
    }

    /// Through the binary: symlinks planted for the next few hundred PIDs change nothing.
    func testPlantedSymlinksForUpcomingPIDsAreNotFollowed() throws {
        let victim = path("victim.txt")
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let last = Int((try? String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? Int(getpid())
        for pid in (last + 1)...(last + 300) {
            try FileManager.default.createSymbolicLink(atPath: path(".out.tflite.tmp-\(pid)"), withDestinationPath: victim)
        }
        let r = try runTool([model, "-o", path("out.tflite")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("out.tflite"))), try expectedBytes())
    }

    func testTemporaryNamesAreUnpredictable() throws {
        var names: Set<String> = []
        for _ in 0..<3 {
            let t = OutputTransaction()
            var seen: [String] = []
            try t.stage(path("x.bin")) { _ in seen = try self.entries().filter { $0.hasPrefix(".x.bin.tmp-") } }
            t.discard()
            XCTAssertEqual(seen.count, 1)
            names.formUnion(seen)
        }
        XCTAssertEqual(names.count, 3, "\(names)")
        XCTAssertFalse(names.contains(".x.bin.tmp-\(getpid())"))
        XCTAssertEqual(try entries(), [])
    }

    // MARK: destinations that are not regular files

    /// A FIFO is written in place (a reader gets the model) and stays a FIFO.
    func testAFIFODestinationIsWrittenInPlace() throws {
        let fifo = path("pipe")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let expected = try expectedBytes()
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.arguments = [fifo]
        let out = Pipe()
        reader.standardOutput = out
        try reader.run()
        let r = try runTool([model, "-o", fifo])
        let got = out.fileHandleForReading.readDataToEndOfFile()
        reader.waitUntilExit()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(got, expected)
        var info = stat()
        XCTAssertEqual(lstat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO)
        XCTAssertEqual(try entries(), ["pipe"])
    }

    /// `-o /dev/null` (and a symlink to it) writes into the device; the device node stays.
    func testACharacterDeviceIsWrittenInPlaceNeverReplaced() throws {
        var before = stat(), after = stat()
        XCTAssertEqual(stat("/dev/null", &before), 0)
        let r = try runTool([model, "-o", "/dev/null", "--emit-resolver", path("resolver.h")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(lstat("/dev/null", &after), 0)
        XCTAssertEqual(after.st_mode & S_IFMT, S_IFCHR)
        XCTAssertEqual(after.st_rdev, before.st_rdev)
        XCTAssertEqual(after.st_ino, before.st_ino)

        try FileManager.default.createSymbolicLink(atPath: path("sink"), withDestinationPath: "/dev/null")
        let viaLink = try runTool([model, "-o", path("sink")])
        XCTAssertEqual(viaLink.status, 0, viaLink.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path("sink")), "/dev/null")
        XCTAssertEqual(try entries(), ["resolver.h", "sink"])
    }

    /// `-o /dev/stdout` writes to the descriptor, whatever it is (here a pipe).
    func testDevStdoutWritesToTheDescriptor() throws {
        let r = try shell(#"exec "$0" "\#(model)" -o /dev/stdout"#)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Data(r.stdout.utf8).count > 0, true)
        let file = try shell(#"exec "$0" "\#(model)" -o /dev/stdout > "\#(path("via-stdout.tflite"))""#)
        XCTAssertEqual(file.status, 0, file.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("via-stdout.tflite"))), try expectedBytes())
    }

    func testADirectoryIsRefused() throws {
        try FileManager.default.createDirectory(atPath: path("d.tflite"), withIntermediateDirectories: false)
        let r = try runTool([model, "-o", path("d.tflite")])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "tfrewrite: error: \(path("d.tflite")): is a directory; refusing to write an output there\n")
        XCTAssertEqual(try entries(), ["d.tflite"])
    }

    // MARK: modes

    func testReplacingAFileKeepsItsMode() throws {
        for mode: mode_t in [0o600, 0o640, 0o755] {
            let out = path("m\(String(mode, radix: 8)).tflite")
            XCTAssertTrue(FileManager.default.createFile(atPath: out, contents: Data("old".utf8)))
            XCTAssertEqual(chmod(out, mode), 0)
            let r = try runTool([model, "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            var info = stat()
            XCTAssertEqual(stat(out, &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, mode, "mode of \(out)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try expectedBytes())
        }
        // A new file gets 0644 less the umask, as before.
        let r = try shell(#"umask 027; exec "$0" "\#(model)" -o "\#(path("new.tflite"))""#)
        XCTAssertEqual(r.status, 0, r.stderr)
        var info = stat()
        XCTAssertEqual(stat(path("new.tflite"), &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o640)
    }

    // MARK: collisions with the input

    func testTheHeaderOrResolverMayNotOverwriteTheInput() throws {
        let input = path("model.h")  // a .tflite under a header's name: -o model.cc makes model.h
        try FileManager.default.copyItem(atPath: model, toPath: input)
        let original = try Data(contentsOf: URL(fileURLWithPath: input))
        let header = try runTool([input, "-o", path("model.cc")])
        XCTAssertEqual(header.status, 2)
        XCTAssertEqual(header.stderr, "tfrewrite: error: the header for -o \(path("model.h")) would overwrite the input model \(input); nothing written\n")

        let copy = path("m.tflite")
        try FileManager.default.copyItem(atPath: model, toPath: copy)
        let resolver = try runTool([copy, "-o", path("out.tflite"), "--emit-resolver", copy])
        XCTAssertEqual(resolver.status, 2)
        XCTAssertEqual(resolver.stderr, "tfrewrite: error: --emit-resolver \(copy) would overwrite the input model \(copy); nothing written\n")
        // The same file under another name (a hard link) is caught too.
        XCTAssertEqual(link(copy, path("alias.h")), 0)
        let aliased = try runTool([copy, "-o", path("alias.cc")])
        XCTAssertEqual(aliased.status, 2, aliased.stderr)
        XCTAssertTrue(aliased.stderr.contains("would overwrite the input model"), aliased.stderr)

        let resolverOnHeader = try runTool([copy, "-o", path("x.cc"), "--emit-resolver", path("x.h")])
        XCTAssertEqual(resolverOnHeader.status, 2)
        XCTAssertTrue(resolverOnHeader.stderr.contains("are the same file"), resolverOnHeader.stderr)

        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), original)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), original)
        XCTAssertEqual(try entries(), ["alias.h", "m.tflite", "model.h"])
        // -o may still name the input itself: it is replaced atomically (repair in place).
        let inPlace = try runTool([copy, "-o", copy])
        XCTAssertEqual(inPlace.status, 0, inPlace.stderr)
    }

    // MARK: all or nothing

    /// When the C array cannot be written, neither its header nor the resolver appears.
    func testACArrayFailureLeavesNoHeaderOrResolver() throws {
        try FileManager.default.createDirectory(atPath: path("x.cc"), withIntermediateDirectories: false)
        let r = try runTool([model, "-o", path("x.cc"), "--emit-resolver", path("resolver.h")])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertEqual(try entries(), ["x.cc"])

        // A full disk: the .cc goes to /dev/full.
        try FileManager.default.createSymbolicLink(atPath: path("full.cc"), withDestinationPath: "/dev/full")
        let full = try runTool([model, "-o", path("full.cc"), "--emit-resolver", path("resolver.h")])
        XCTAssertEqual(full.status, 2)
        XCTAssertTrue(full.stderr.contains("No space left on device"), full.stderr)
        XCTAssertEqual(try entries(), ["full.cc", "x.cc"])
    }

    /// A rename that fails half-way through a commit puts back the files renamed before it.
    func testAFailedCommitRestoresEarlierFiles() throws {
        let a = path("a.h"), b = path("b.cc")
        try "old header\n".write(toFile: a, atomically: false, encoding: .utf8)
        let t = OutputTransaction()
        try t.stage(a) { try AtomicFile.writeAll($0, Array("new header\n".utf8), path: a) }
        try t.stage(b) { try AtomicFile.writeAll($0, Array("source\n".utf8), path: b) }
        try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: false)
        XCTAssertTrue(FileManager.default.createFile(atPath: b + "/keep", contents: Data()))  // rename onto a non-empty folder fails
        XCTAssertThrowsError(try t.commit())
        XCTAssertEqual(try String(contentsOfFile: a, encoding: .utf8), "old header\n")
        XCTAssertEqual(try entries(), ["a.h", "b.cc"])
    }

    // MARK: signals

    /// The header's temporary exists while the .cc (a FIFO with no reader) blocks; the signal
    /// must remove it and still end the process.
    func testSignalsDuringAWriteLeaveNothingBehind() throws {
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            let fifo = path("blocked.cc")
            XCTAssertEqual(mkfifo(fifo, 0o600), 0)
            let p = Process()
            p.executableURL = TestPaths.executable
            p.arguments = [model, "-o", fifo]
            p.standardError = Pipe()
            try p.run()
            let deadline = Date().addingTimeInterval(20)
            while try !entries().contains(where: { $0.contains(".tmp-") }) && Date() < deadline { usleep(10_000) }
            let seen = try entries()
            XCTAssertTrue(seen.contains { $0.hasPrefix(".blocked.h.tmp-") }, "no temporary seen: \(seen)")
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal)
            XCTAssertEqual(p.terminationStatus, signal)
            XCTAssertEqual(try entries(), ["blocked.cc"], "signal \(signal)")
            try FileManager.default.removeItem(atPath: fifo)
        }
    }

    // MARK: standard output and error

    func testUnwritableStdoutOrStderrExitsTwo() throws {
        let full = try shell(#"exec "$0" inspect "\#(model)" > /dev/full"#)
        XCTAssertEqual(full.status, 2)
        XCTAssertEqual(full.stderr, "tfrewrite: error: cannot write to standard output: No space left on device\n")

        let closed = try shell(#"exec "$0" inspect "\#(model)" >&-"#)
        XCTAssertEqual(closed.status, 2)
        XCTAssertEqual(closed.stderr, "tfrewrite: error: cannot write to standard output: Bad file descriptor\n")

        // An error message that cannot be written still ends with exit 2, not a trap.
        let errorOnFull = try shell(#""$0" inspect /nonexistent.tflite 2> /dev/full; echo "status $?""#)
        XCTAssertEqual(errorOnFull.stdout, "status 2\n")
        let errorClosed = try shell(#""$0" inspect /nonexistent.tflite 2>&-; echo "status $?""#)
        XCTAssertEqual(errorClosed.stdout, "status 2\n")
        // Nothing to say on stderr: a full stderr does not matter.
        let quiet = try shell(#""$0" inspect "\#(model)" 2> /dev/full > /dev/null; echo "status $?""#)
        XCTAssertEqual(quiet.stdout, "status 0\n")
    }

    // MARK: what already held

    /// Two writers racing on one output: the result is one model or the other, never a mix,
    /// and no temporary is left.
    func testConcurrentWritersNeverMix() throws {
        let other = TestPaths.fixtures.appendingPathComponent("ds_cnn_int8.tflite").path
        let a = try expectedBytes()
        let rb = try runTool([other, "-o", path("b.tflite")])
        XCTAssertEqual(rb.status, 0, rb.stderr)
        let b = try Data(contentsOf: URL(fileURLWithPath: path("b.tflite")))
        for _ in 0..<5 {
            let writers = [model, other, model, other].map { input -> Process in
                let p = Process()
                p.executableURL = TestPaths.executable
                p.arguments = [input, "-o", path("race.tflite")]
                return p
            }
            for p in writers { try p.run() }
            for p in writers { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
            let got = try Data(contentsOf: URL(fileURLWithPath: path("race.tflite")))
            XCTAssertTrue(got == a || got == b)
        }
        XCTAssertEqual(try entries(), ["b.tflite", "race.tflite"])
    }
}
