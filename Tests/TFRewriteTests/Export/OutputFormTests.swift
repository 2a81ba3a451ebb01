import Foundation
import XCTest

@testable import TFRewrite

/// `-o` by extension: every C form compiles (`cc -c` / `c++ -c`), holds the model byte for byte
/// and is 16-byte aligned; an unknown extension writes nothing.
final class OutputFormTests: XCTestCase {
    let model = TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path

    func tool(_ name: String) throws -> String {
        let path = "/usr/bin/\(name)"
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("no \(name) found: skipped") }
        return path
    }

    /// The bytes of the array initializer in a generated file ("0x1c, 0x00, ...").
    func arrayBytes(_ text: String) -> [UInt8] {
        text.split(separator: "\n").filter { $0.hasPrefix("    0x") }.flatMap { line in
            line.split(separator: ",").compactMap { UInt8($0.trimmingCharacters(in: .whitespaces).dropFirst(2), radix: 16) }
        }
    }

    /// Converts to `name`, checks the array against the .tflite output, compiles the file(s)
    /// with `-c`, then links a program that prints the length, a checksum and the address mod 16.
    func check(output name: String, extraArgs: [String] = [], compiler: String, mainLanguage: String, include: String) throws {
        let dir = try TestPaths.temporaryDirectory()
        let reference = dir.appendingPathComponent("reference.tflite").path
        XCTAssertEqual(try runTool([model, "-o", reference, "-q"]).status, 0)
        let expected = [UInt8](try Data(contentsOf: URL(fileURLWithPath: reference)))

        let out = dir.appendingPathComponent(name).path
        let r = try runTool([model, "-o", out, "--array-name", "g_model", "-q"] + extraArgs)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "", "-q prints nothing")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertEqual(arrayBytes(text), expected, "\(name) holds the model byte for byte")
        XCTAssertTrue(text.contains("g_model_len = \(expected.count);"), text.suffix(300).description)

        // The generated file on its own, as a firmware build compiles it.
        let headerOnly = (name as NSString).pathExtension == "h" || extraArgs == ["--format", "h"]
        if !headerOnly {
            let object = try shell(compiler, ["-Wall", "-Werror", "-c", out, "-o", dir.appendingPathComponent("model.o").path], in: dir)
            XCTAssertEqual(object.status, 0, "\(compiler) -c \(name): \(object.stderr)")
        }
        let main = dir.appendingPathComponent("main.\(mainLanguage)").path
        try """
            #include "\(include)"
            #include <stdint.h>
            #include <stdio.h>
            int main(void) {
              unsigned long sum = 0;
              for (unsigned int i = 0; i < g_model_len; ++i) sum = (sum * 31 + g_model[i]) % 1000000007UL;
              printf("%u %lu %d\\n", g_model_len, sum, (int)((uintptr_t)g_model % 16));
              return 0;
            }
            """.write(toFile: main, atomically: true, encoding: .utf8)
        let mainCompiler = mainLanguage == "c" ? try tool("cc") : try tool("c++")
        let mainObject = try shell(mainCompiler, ["-Wall", "-c", main, "-o", dir.appendingPathComponent("main.o").path], in: dir)
        XCTAssertEqual(mainObject.status, 0, mainObject.stderr)
        let objects = headerOnly ? ["main.o"] : ["main.o", "model.o"]
        let link = try shell(try tool("c++"), objects + ["-o", "check"], in: dir)
        XCTAssertEqual(link.status, 0, link.stderr)
        let run = try shell(dir.appendingPathComponent("check").path, [], in: dir)
        var sum: UInt64 = 0
        for b in expected { sum = (sum &* 31 &+ UInt64(b)) % 1_000_000_007 }
        XCTAssertEqual(run.stdout, "\(expected.count) \(sum) 0\n", "length, checksum, address % 16")
    }

    func testCSourceAndHeaderCompileAsCAndFromCxx() throws {
        try check(output: "model.c", compiler: try tool("cc"), mainLanguage: "c", include: "model.h")
        try check(output: "model.c", compiler: try tool("cc"), mainLanguage: "cc", include: "model.h")
    }

    func testCxxSourcesCompile() throws {
        for name in ["model.cc", "model.cpp"] {
            try check(output: name, compiler: try tool("c++"), mainLanguage: "cc", include: "model.h")
        }
    }

    func testSingleHeaderWorksFromCAndCxx() throws {
        try check(output: "model.h", compiler: try tool("cc"), mainLanguage: "c", include: "model.h")
        try check(output: "model.h", compiler: try tool("c++"), mainLanguage: "cc", include: "model.h")
    }

    func testFormatOverridesTheExtension() throws {
        try check(output: "model.inc", extraArgs: ["--format", "h"], compiler: try tool("c++"), mainLanguage: "cc", include: "model.inc")
        let dir = try TestPaths.temporaryDirectory()
        let out = dir.appendingPathComponent("model.bin").path
        let reference = dir.appendingPathComponent("model.tflite").path
        XCTAssertEqual(try runTool([model, "-o", out, "--format", "tflite", "-q"]).status, 0)
        XCTAssertEqual(try runTool([model, "-o", reference, "-q"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: reference)))
    }

    func testUnknownExtensionWritesNothing() throws {
        let dir = try TestPaths.temporaryDirectory()
        for name in ["x.onnx", "model", "x.hpp"] {
            let r = try runTool([model, "-o", dir.appendingPathComponent(name).path])
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--format"), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        let bad = try runTool([model, "-o", dir.appendingPathComponent("m.tflite").path, "--format", "onnx"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--format must be tflite, c, cc or h"), bad.stderr)
    }

    /// A header an extra constant (the arena size, once it is estimated) can join.
    func testConstantsAreDeclaredInEveryForm() throws {
        let k = [CArrayConstant(name: "kTensorArenaSize", value: 1234, comment: "arena")]
        let cc = CArrayExporter.render([1, 2], name: "m", headerName: "m.h", constants: k)
        XCTAssertTrue(cc.header.contains("// arena\nconstexpr int kTensorArenaSize = 1234;\n"), cc.header)
        let c = CArrayForms.renderC([1, 2], name: "m", headerName: "m.h", constants: k)
        XCTAssertTrue(c.header.contains("enum { kTensorArenaSize = 1234 };"), c.header)
        let h = CArrayForms.renderHeaderOnly([1, 2], name: "m", headerName: "m.h", constants: k)
        XCTAssertTrue(h.contains("enum { kTensorArenaSize = 1234 };"), h)
        // Without constants the C++ form is what it always was.
        XCTAssertFalse(CArrayExporter.render([1, 2], name: "m", headerName: "m.h").header.contains("kTensorArenaSize"))
    }

    /// `--emit-resolver` writes the API of the target's TFLM era.
    func testEmittedResolverFollowsTheRules() throws {
        let dir = try TestPaths.temporaryDirectory()
        for (rules, expected) in [("micro_versioned_2020", "using ResolverOpResolver = tflite::MicroMutableOpResolver;"),
                                  ("micro", "using ResolverOpResolver = tflite::MicroMutableOpResolver<kResolverOpCount>;")] {
            let header = dir.appendingPathComponent("\(rules).h").path
            let r = try runTool([model, "--rules", rules, "-o", dir.appendingPathComponent("\(rules).tflite").path,
                                 "--emit-resolver", header, "--array-name", "resolver", "-q"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let text = try String(contentsOfFile: header, encoding: .utf8)
            XCTAssertTrue(text.contains(expected), "\(rules): \(text)")
        }
    }

    /// All or nothing: when the header beside a C source cannot be written, the source is not either.
    func testCSourceAndHeaderAreAllOrNothing() throws {
        let dir = try TestPaths.temporaryDirectory()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("model.h"), withIntermediateDirectories: true)
        let r = try runTool([model, "-o", dir.appendingPathComponent("model.c").path])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.c").path))
    }
}
