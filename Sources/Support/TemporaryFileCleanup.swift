import FlatBuffers
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Temporary files being written, deleted if SIGINT, SIGHUP or SIGTERM ends the process before
/// they are renamed into place. The handler may only make async-signal-safe calls (signal-safety(7)):
/// it walks fixed slots of C strings and calls `unlink(2)`, then re-raises the signal, which
/// `SA_RESETHAND` has turned back to its default action, so the process still ends as it would have.
///
/// Handlers are installed on first use and only over the default action: a signal the caller
/// ignores (`nohup`) or handles itself keeps its disposition.
package enum TemporaryFileCleanup {
    package static let slotCount = 64
    package static let slotSize = Int(PATH_MAX)

    // Allocated once and never freed, so the handler never reads freed memory.
    nonisolated(unsafe) private static let paths: UnsafeMutablePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: slotCount * slotSize)
        p.initialize(repeating: 0, count: slotCount * slotSize)
        return p
    }()
    nonisolated(unsafe) private static let inUse: UnsafeMutablePointer<Int> = {
        let p = UnsafeMutablePointer<Int>.allocate(capacity: slotCount)
        p.initialize(repeating: 0, count: slotCount)
        return p
    }()
    private static let lock = Mutex(())

    /// A registered path's slot; `nil` when the path is too long or every slot is taken (the file
    /// is then still removed on errors, only not on a signal).
    package struct Slot { fileprivate let index: Int }

    package static func register(_ path: String) -> Slot? {
        installHandlers
        let bytes = Array(path.utf8)
        guard bytes.count < slotSize, !bytes.contains(0) else { return nil }
        return lock.withLock { _ -> Slot? in
            guard let index = (0..<slotCount).first(where: { inUse[$0] == 0 }) else { return nil }
            let start = paths + index * slotSize
            for (k, b) in bytes.enumerated() { start[k] = CChar(bitPattern: b) }
            start[bytes.count] = 0
            // The path must be complete before the handler can see the slot as taken.
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            inUse[index] = 1
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            return Slot(index: index)
        }
    }

    package static func unregister(_ slot: Slot?) {
        guard let slot else { return }
        lock.withLock { _ in
            inUse[slot.index] = 0
            atomicMemoryFence(ordering: .sequentiallyConsistent)
        }
    }

    package static let handledSignals = [SIGINT, SIGHUP, SIGTERM]

    private static let installHandlers: Void = {
        // Touch the storage before any handler can run, so the handler never initializes it.
        _ = paths
        _ = inUse
        for signal in handledSignals {
            var current = sigaction()
            guard sigaction(signal, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = removeTemporariesAndReraise
            action.sa_flags = Int32(bitPattern: UInt32(SA_RESETHAND))
            sigemptyset(&action.sa_mask)
            _ = sigaction(signal, &action, nil)
        }
    }()

    private static let removeTemporariesAndReraise: @convention(c) (Int32) -> Void = { signal in
        for index in 0..<TemporaryFileCleanup.slotCount {
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            if TemporaryFileCleanup.inUse[index] != 0 {
                unlink(TemporaryFileCleanup.paths + index * TemporaryFileCleanup.slotSize)
            }
        }
        raise(signal)
    }
}
