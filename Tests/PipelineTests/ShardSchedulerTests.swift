import Foundation
import Pipeline
import Shards
import Testing
import TestSupport

/// The scheduler on its own, with batches that carry nothing but their place: every batch is
/// written once, in reading order, whatever the threads, and a recycled batch taken again at
/// once by a reading thread does not change what is written next.
@Suite struct ShardSchedulerTests {
    /// Batches per source; a source with one batch ends in its first.
    static let sources = [3, 1, 6, 2, 1, 4]

    final class Log: @unchecked Sendable {
        // Safety (Sendable): `written` and `active` are read and written under `lock` only.
        private let lock = NSLock()
        private var written: [[Int]] = []
        private var active = (encode: 0, maxEncode: 0)
        func wrote(_ plan: Int, _ index: Int) {
            lock.lock(); defer { lock.unlock() }
            written.append([plan, index])
        }
        func encoding(_ delta: Int) {
            lock.lock(); defer { lock.unlock() }
            active.encode += delta
            active.maxEncode = max(active.maxEncode, active.encode)
        }
        var order: [[Int]] { lock.lock(); defer { lock.unlock() }; return written }
        var maxEncoders: Int { lock.lock(); defer { lock.unlock() }; return active.maxEncode }
    }

    static var expected: [[Int]] { sources.enumerated().flatMap { plan, n in (0..<n).map { [plan, $0] } } }

    /// Runs the scheduler on `threads` threads. The write hands the batch back as the sharder
    /// does, and (with `reuse`) a reader takes it at once for the last batch of some source,
    /// before the scheduler is back (a race a failing source, read fast, can run into).
    static func run(threads: Int, encoders: Int, capacity: Int, window: Int, reuse: Bool,
                    stopAfter: Int? = nil) -> Log {
        let log = Log()
        let scheduler = ShardScheduler(plans: sources.count, encoders: encoders, workers: threads,
                                       capacity: capacity, window: window)
        let writes = Counter()
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            scheduler.work(
                read: { plan, index in
                    let batch = ShardBatch()
                    batch.reset(plan: plan, index: index)
                    if index == sources[plan] - 1 { batch.documents.end = .done }
                    return batch
                },
                process: { _ in },
                encode: { _ in
                    log.encoding(1)
                    usleep(200)
                    log.encoding(-1)
                },
                count: { _ in },
                write: { batch in
                    log.wrote(batch.plan, batch.index)
                    if reuse {
                        batch.reset(plan: sources.count - 1, index: sources.last! - 1)
                        batch.documents.end = .done
                    }
                    let n = writes.increment() + 1
                    return stopAfter.map { n < $0 } ?? true
                })
        }
        #expect(scheduler.error == nil)
        return log
    }

    @Test(arguments: [(1, 1), (2, 2), (3, 2), (4, 1)])
    func everyBatchIsWrittenOnceInReadingOrder(threads: Int, encoders: Int) {
        for (capacity, window) in [(2, 1), (4, 2), (8, 4)] {
            for reuse in [false, true] {
                let log = Self.run(threads: threads, encoders: encoders, capacity: capacity, window: window, reuse: reuse)
                #expect(log.order == Self.expected, "threads \(threads), capacity \(capacity), window \(window), reuse \(reuse)")
                #expect(log.maxEncoders <= encoders)
            }
        }
    }

    @Test func aWriteThatSaysStopEndsTheWork() {
        for stop in [1, 4, Self.expected.count - 1] {
            let log = Self.run(threads: 3, encoders: 2, capacity: 4, window: 2, reuse: true, stopAfter: stop)
            #expect(log.order == Array(Self.expected.prefix(stop)), "stop after \(stop)")
        }
    }

    /// While the writer is held on the first batch (a long commit, say), reading goes on past
    /// sources already read to their end, which hold no reader: only `window` sources being
    /// read count, not every source since the one being written. Sources after that one may
    /// hold `capacity - capacity / 2` batches in flight, and no more.
    @Test func readingRunsAheadPastSourcesReadToTheirEnd() {
        let sources = 12, capacity = 12, window = 2  // one batch per source
        /// Batches read so far, and how many had been read when the writer let go.
        final class Reads: @unchecked Sendable {
            // Safety (Sendable): `count` and `held` are read and written with `lock` locked while the
            // threads run, and read after they have ended.
            let lock = NSCondition()
            var count = 0, held = 0
        }
        let reads = Reads(), lock = reads.lock
        let scheduler = ShardScheduler(plans: sources, encoders: 1, workers: 2, capacity: capacity, window: window)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            scheduler.work(
                read: { plan, index in
                    lock.lock(); reads.count += 1; lock.broadcast(); lock.unlock()
                    let batch = ShardBatch()
                    batch.reset(plan: plan, index: index)
                    batch.documents.end = .done
                    return batch
                },
                process: { _ in }, encode: { _ in }, count: { _ in },
                write: { batch in
                    if batch.plan == 0 {
                        // Held until as many batches were read as there is room for (or 10 s
                        // passed), and a moment more, in which no more may be read.
                        lock.lock()
                        let deadline = Date().addingTimeInterval(10)
                        while reads.count < capacity - capacity / 2 && lock.wait(until: deadline) {}
                        _ = lock.wait(until: Date().addingTimeInterval(0.1))
                        reads.held = reads.count
                        lock.unlock()
                    }
                    return true
                })
        }
        #expect(scheduler.error == nil)
        // Source 0's batch and later ones up to `capacity - capacity / 2` in flight in all.
        #expect(reads.held == capacity - capacity / 2, "read while the writer was held: \(reads.held)")
    }
}

/// The pool of batches keeps each batch's buffers for the next one, except those that grew
/// past a batch's usual size for a large record: those go back, so the pool does not end up
/// holding room for the corpus's largest document in every batch.
@Suite struct BatchPoolTests {
    @Test func largeBuffersAreGivenBackUsualOnesKept() {
        let pool = BatchPool(batchBytes: 1 << 16)
        let batch = pool.batch(plan: 0, index: 0)
        batch.documents.raw = [UInt8](repeating: 1, count: 3 << 16)     // a record of 192 KiB
        batch.documents.text = [UInt8](repeating: 2, count: 3 << 16)
        batch.tokens = [UInt32](repeating: 3, count: 1 << 17)
        pool.recycle(batch)
        let again = pool.batch(plan: 0, index: 1)
        #expect(again === batch)
        #expect(again.documents.raw.isEmpty && again.documents.raw.capacity <= 2 << 16)
        #expect(again.documents.text.isEmpty && again.documents.text.capacity <= 2 << 16)
        #expect(again.tokens.isEmpty && again.tokens.capacity <= 1 << 16)
        // A batch of the usual size keeps its buffers (allocated and touched once).
        again.documents.raw = [UInt8](repeating: 1, count: 1 << 16)
        again.tokens = [UInt32](repeating: 3, count: 1 << 15)
        pool.recycle(again)
        let third = pool.batch(plan: 1, index: 0)
        #expect(third === batch && third.documents.raw.isEmpty && third.tokens.isEmpty)
        #expect(third.documents.raw.capacity >= 1 << 16 && third.tokens.capacity >= 1 << 15)
    }
}
