import ArgumentParser
import Foundation
import TFRewrite

/// The flags every command takes: `-q`, `-v`, `--json` (Docs/cli.md).
struct CommonFlags: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print only errors: no warnings, notes, progress or summary on stderr.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Print more on stderr (convert: what each pass did, as --stats).")
    var verbose = false

    @Flag(help: "Print the result as JSON on stdout (schemas: Docs/cli.md).")
    var json = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("-q and -v contradict each other; give one") }
        Diagnostics.quiet = quiet
        Diagnostics.verbose = verbose
    }
}

/// How much the tool says on stderr besides errors (set once, from `CommonFlags`, before `run()`).
enum Diagnostics {
    nonisolated(unsafe) static var quiet = false
    nonisolated(unsafe) static var verbose = false
}

/// "tfrewrite: warning: …" on stderr, unless -q.
func warn(_ message: String) {
    if !Diagnostics.quiet { printError("warning: \(message)") }
}

/// "tfrewrite: note: …" on stderr, unless -q.
func note(_ message: String) {
    if !Diagnostics.quiet { printError("note: \(message)") }
}

/// Old spellings that still work for one release, with a one-line warning.
enum DeprecatedFlag {
    static func warnIfUsed(_ values: [String], old: String, new: String) {
        guard !values.isEmpty else { return }
        warn("\(old) is deprecated; use \(new) (the old spelling goes in the next release)")
    }
}

/// `--rules` arguments: a built-in name, a .yaml path, or `NAME.yaml` with no such file, which
/// means the built-in profile NAME (the usage `tfrewrite in.pb --rules micro.yaml -o out.tflite`
/// is known by), said on stderr.
enum RulesArguments {
    static func resolve(_ names: [String]) -> [String] {
        names.map { name in
            guard name.lowercased().hasSuffix(".yaml") || name.lowercased().hasSuffix(".yml"),
                !FileManager.default.fileExists(atPath: name) else { return name }
            let builtin = ((name as NSString).lastPathComponent as NSString).deletingPathExtension
            guard BuiltinRules.isBuiltin(builtin) else { return name }
            note("no rules file \(name); using the built-in profile \(builtin)")
            return builtin
        }
    }
}

/// "did you mean" for an unknown flag: the command's closest flag within a small edit distance
/// or the one it abbreviates.
enum FlagSuggestion {
    /// The long flags of `command` (from its help, which lists exactly what it accepts).
    static func flags(of command: ParsableCommand.Type) -> [String] {
        let help = Tfrewrite.helpMessage(for: command, columns: 1000)
        var out: [String] = []
        var seen = Set<String>()
        var rest = Substring(help)
        while let r = rest.range(of: "--") {
            let name = rest[r.lowerBound...].prefix { $0 == "-" || $0.isLetter || $0.isNumber }
            rest = rest[r.upperBound...]
            if name.count > 3, seen.insert(String(name)).inserted { out.append(String(name)) }
        }
        return out
    }

    static func suggestion(for unknown: String, among flags: [String]) -> String? {
        let name = String(unknown.split(separator: "=", maxSplits: 1).first ?? Substring(unknown))
        guard name.hasPrefix("--") else { return nil }
        let prefixed = flags.filter { $0.hasPrefix(name) }
        if prefixed.count == 1 { return prefixed[0] }
        let scored = flags.map { ($0, editDistance(name, $0)) }.filter { $0.1 <= max(2, name.count / 4) }
        return scored.min { $0.1 < $1.1 }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        var row = Array(0...y.count)
        for i in 1...max(x.count, 1) where !x.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(y.count, 1) where !y.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (x[i - 1] == y[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[y.count]
    }

    /// ArgumentParser's "Unknown option '--x'" gets a "Did you mean" when it has none (it only
    /// suggests names within an edit distance of 3; an abbreviation like --calib is further).
    static func completing(_ message: String) -> String {
        let prefix = "Unknown option '"
        guard message.hasPrefix(prefix), !message.contains("Did you mean"),
            let end = message.dropFirst(prefix.count).firstIndex(of: "'") else { return message }
        let unknown = String(message[message.index(message.startIndex, offsetBy: prefix.count)..<end])
        let command = command(for: Array(CommandLine.arguments.dropFirst()))
        guard let best = suggestion(for: unknown, among: flags(of: command)) else { return message }
        return message + ". Did you mean '\(best)'?"
    }

    /// The subcommand `arguments` run (the default, convert, when none is named).
    static func command(for arguments: [String]) -> ParsableCommand.Type {
        var command: ParsableCommand.Type = Tfrewrite.self
        var subcommands = Tfrewrite.configuration.subcommands
        var named = false
        for a in arguments where !a.hasPrefix("-") {
            guard let next = subcommands.first(where: { $0._commandName == a }) else { break }
            command = next
            subcommands = next.configuration.subcommands
            named = true
        }
        return named ? command : Convert.self
    }
}

/// Bytes of a file, or of all files under a folder (a SavedModel); nil when unreadable.
func storedSize(of path: String) -> Int? {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
    // The named input is what the user means, so a symlink counts as its target.
    if !isDirectory.boolValue { return linkSize(path, followingLinks: true)?.bytes }
    var total = 0
    let files = FileManager.default.enumerator(atPath: path)
    while let f = files?.nextObject() as? String {
        if let entry = linkSize((path as NSString).appendingPathComponent(f)), entry.isRegular { total += entry.bytes }
    }
    return total
}

/// `lstat(2)`'s size, as FileManager's `attributesOfItem` gives it, without what that also does:
/// look up the owner and group names, which in the static binary (`make static`) loads the
/// host's NSS modules and libc when the user is not in /etc/passwd.
func linkSize(_ path: String, followingLinks: Bool = false) -> (bytes: Int, isRegular: Bool)? {
    var info = stat()
    guard (followingLinks ? stat(path, &info) : lstat(path, &info)) == 0 else { return nil }
    return (Int(info.st_size), (info.st_mode & S_IFMT) == S_IFREG)
}
