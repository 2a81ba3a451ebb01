import Foundation
import Synchronization
import FlatBuffers

/// The most memory tfrewrite may allocate for one thing whose size a file decides (a folded
/// constant, the interpreter's tensors, calibration samples, an .npz member): checked before
/// allocating, so a tiny hostile file that declares gigabytes is refused with a message
/// instead of aborting on a failed allocation. The default is a quarter of the physical memory;
/// the CLI's `--max-memory` changes it for the whole process.
public enum MemoryBudget {
    private static let configured = Atomic<Int>(0)

    /// A quarter of the machine's physical memory (at least 1 GiB): room for the temporaries
    /// next to what is checked, and for other processes.
    public static let defaultBytes: Int = max(Int(clamping: ProcessInfo.processInfo.physicalMemory / 4), 1 << 30)

    /// The budget in bytes.
    public static var bytes: Int {
        get {
            let b = configured.load(ordering: .relaxed)
            return b > 0 ? b : defaultBytes
        }
        set { configured.store(max(newValue, 1), ordering: .relaxed) }
    }

    /// Throws when `count` elements of `elementSize` bytes (or an overflowing product) exceed
    /// the budget. `what` names the thing for the message, e.g. `constant "w" of shape [1, 2]`.
    public static func check(count: Int, elementSize: Int, for what: @autoclosure () -> String) throws {
        let (total, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard count >= 0, !overflow, total <= bytes else {
            throw MemoryBudgetError(what: what(), bytes: overflow || count < 0 ? nil : total, budget: bytes)
        }
    }

    /// Throws when `total` bytes exceed the budget.
    public static func check(bytes total: Int, for what: @autoclosure () -> String) throws {
        try check(count: total, elementSize: 1, for: what())
    }

    /// The element count of `shape`, nil when a dimension is negative or the product overflows.
    public static func elementCount<S: Sequence>(_ shape: S) -> Int? where S.Element: BinaryInteger {
        var n = 1
        for d in shape {
            guard d >= 0, let dim = Int(exactly: d) else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: dim)
            guard !o else { return nil }
            n = m
        }
        return n
    }

    /// `--max-memory` text: bytes, or a number with K, M, G or T (powers of 1024), e.g. `512M`.
    public static func parse(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 10, "M": 20, "G": 30, "T": 40]
        var digits = Substring(text.uppercased())
        if digits.hasSuffix("B") { digits = digits.dropLast() }
        var shift = 0
        if let last = digits.last, let s = units[last] {
            shift = s
            digits = digits.dropLast()
        }
        guard let n = Int(digits), n > 0, n <= Int.max >> shift else { return nil }
        return n << shift
    }

    /// `1.5 GiB`-style text for messages.
    public static func describe(_ bytes: Int) -> String {
        if bytes >= 1 << 30 { return String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
        if bytes >= 1 << 20 { return String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) }
        return "\(bytes) bytes"
    }
}

/// Something a file asked for would take more memory than `MemoryBudget` allows.
public struct MemoryBudgetError: Error, CustomStringConvertible, Equatable {
    public var what: String
    /// nil when the size overflows.
    public var bytes: Int?
    public var budget: Int

    package init(what: String, bytes: Int?, budget: Int) {
        self.what = what
        self.bytes = bytes
        self.budget = budget
    }

    public var description: String {
        let size = bytes.map(MemoryBudget.describe) ?? "more than Int.max bytes"
        return "\(what) needs \(size), over the memory budget of \(MemoryBudget.describe(budget)) (raise it with --max-memory)"
    }
}
