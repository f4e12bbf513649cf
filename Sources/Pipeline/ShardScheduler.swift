import Foundation
import Shards

/// Hands out the sharder's five kinds of work to a pool of threads, each of which does any
/// of them:
///
/// - **read** the next batch of a source: one thread at a time per source, but several
///   sources at once (those within `window` of the one being written);
/// - **process** a batch (the ingest stages): any number at once;
/// - **encode** a batch: at most `encoders` at once;
/// - **count** a batch's tokens for the index: any number at once;
/// - **write** the next batch in reading order (source by source, batch by batch): one thread
///   at a time.
///
/// With `workers == encoders` (no core to spare), a thread that finishes encoding takes the
/// pending reading, processing, counting or writing itself, so no thread waits on a preempted
/// one; with a spare worker, encoding threads keep encoding and the others do the rest.
/// Reading several sources at once keeps the encoders fed where one source's decompression
/// could not.
///
/// At most `capacity` batches are between the start of their reading and the end of their
/// writing, which bounds memory. Sources after the one being written may hold only
/// `capacity - reserve` of them, so the one being written can always go on.
package final class ShardScheduler: @unchecked Sendable {
    // Safety (Sendable): the `var`s are read and written with `condition` locked (`seconds`
    // too, which the job reads after every worker has returned from `work`); the rest are `let`s.
    struct Key: Hashable, Comparable {
        var plan: Int
        var index: Int
        static func < (a: Key, b: Key) -> Bool { (a.plan, a.index) < (b.plan, b.index) }
    }

    enum Task {
        case read(plan: Int, index: Int)
        case process(ShardBatch)
        case encode(ShardBatch)
        case count(ShardBatch)
        case write(ShardBatch)
    }

    let encoders: Int
    let workers: Int
    let capacity: Int
    let reserve: Int
    let window: Int
    private let plans: Int
    private let condition = NSCondition()
    private var reading: [Bool]
    private var readDone: [Bool]
    private var sourcesRead = 0
    private var nextIndex: [Int]
    private var toProcess: [ShardBatch] = []
    private var processing = 0
    private var toEncode: [ShardBatch] = []
    private var toCount: [ShardBatch] = []
    private var ready: [Key: ShardBatch] = [:]  // counted, waiting to be written
    private var writeKey = Key(plan: 0, index: 0)
    private var writing = false
    private var encoding = 0
    private var inFlight = 0
    private var stopped = false
    private var failure: (any Error)?
    /// CPU seconds spent in each kind of task, over all threads.
    private(set) var seconds = ShardJobReport.TaskSeconds(read: 0, process: 0, encode: 0, count: 0, write: 0)

    /// Records every task when set (`ShardJobOptions.trace`).
    let trace: TaskTrace?

    package init(plans: Int, encoders: Int, workers: Int, capacity: Int, window: Int, trace: TaskTrace? = nil) {
        self.trace = trace
        self.plans = plans
        self.encoders = max(1, encoders)
        self.workers = max(1, workers)
        self.capacity = max(2, capacity)
        self.reserve = max(1, self.capacity / 2)
        self.window = max(1, window)
        reading = Array(repeating: false, count: plans)
        readDone = Array(repeating: false, count: plans)
        nextIndex = Array(repeating: 0, count: plans)
        stopped = plans == 0
    }

    /// Whether the thread writing `batch` has time to spare: the next batch is not waiting to
    /// be written, and no batch waits for an encoder this thread could be.
    func writerIsIdle(after batch: ShardBatch) -> Bool {
        let next = Self.key(after: batch)
        condition.lock()
        defer { condition.unlock() }
        return ready[next] == nil && !canEncode
    }

    /// Whether every source has been read to its end: what is left is encoding and writing the
    /// batches in flight.
    func readingIsDone() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return sourcesRead == plans
    }

    /// The batch written after `batch`.
    private static func key(after batch: ShardBatch) -> Key {
        batch.end == nil ? Key(plan: batch.plan, index: batch.index + 1) : Key(plan: batch.plan + 1, index: 0)
    }

    /// The first error a task threw, if any.
    package var error: (any Error)? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    /// Runs tasks until the last batch is written, a write says stop, or a task throws.
    /// `read(plan, index)` makes the batch `index` of `plan`; `write` returns false to stop.
    package func work(read: (Int, Int) -> ShardBatch, process: (ShardBatch) -> Void, encode: (ShardBatch) -> Void,
              count: (ShardBatch) -> Void, write: (ShardBatch) throws -> Bool) {
        var justEncoded = false
        condition.lock()
        while !stopped {
            guard let task = pick(justEncoded: justEncoded) else {
                condition.wait()
                continue
            }
            condition.unlock()
            let started = ContinuousClock.now
            let cpu = Self.threadCPUSeconds()
            justEncoded = false
            switch task {
            case .read(let plan, let index):
                let batch = read(plan, index)
                trace?.record("read", since: started, args: ["source": plan, "batch": index])
                condition.lock()
                seconds.read += Self.threadCPUSeconds() - cpu
                reading[plan] = false
                if batch.end != nil {
                    readDone[plan] = true
                    sourcesRead += 1
                }
                toProcess.append(batch)
            case .process(let batch):
                process(batch)
                trace?.record("process", since: started, args: ["source": batch.plan, "batch": batch.index])
                condition.lock()
                seconds.process += Self.threadCPUSeconds() - cpu
                processing -= 1
                toEncode.append(batch)
            case .encode(let batch):
                encode(batch)
                trace?.record("encode", since: started, args: ["source": batch.plan, "batch": batch.index])
                justEncoded = true
                condition.lock()
                seconds.encode += Self.threadCPUSeconds() - cpu
                encoding -= 1
                toCount.append(batch)
            case .count(let batch):
                count(batch)
                trace?.record("count", since: started, args: ["source": batch.plan, "batch": batch.index])
                condition.lock()
                seconds.count += Self.threadCPUSeconds() - cpu
                ready[Key(plan: batch.plan, index: batch.index)] = batch
            case .write(let batch):
                // `write` hands the batch back to the pool, where a reading thread may take it
                // at once: nothing of it is read after.
                let next = Self.key(after: batch)
                let written = ["source": batch.plan, "batch": batch.index]
                var goOn = false
                do { goOn = try write(batch) } catch {
                    condition.lock()
                    failure = failure ?? error
                    stopped = true
                    condition.broadcast()
                    break
                }
                trace?.record("write", since: started, args: written)
                condition.lock()
                seconds.write += Self.threadCPUSeconds() - cpu
                writing = false
                inFlight -= 1
                writeKey = next
                if !goOn || writeKey.plan == plans { stopped = true }
            }
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Called with the lock held: the next task for this thread, or nil to wait. Writing comes
    /// first, then reading and processing when the encoders are short of work, then counting
    /// (the writer waits for it), then encoding; but a thread that just encoded goes on
    /// encoding when another thread is free for the rest.
    private func pick(justEncoded: Bool) -> Task? {
        let leaveToOthers = justEncoded && workers - 1 - encoding > 0 && canEncode
        if !leaveToOthers, !writing, let batch = ready[writeKey] {
            ready[writeKey] = nil
            writing = true
            return .write(batch)
        }
        let readable = readablePlan()
        if !leaveToOthers, let plan = readable, toProcess.count + processing + toEncode.count < encoders {
            return startRead(plan)
        }
        if !leaveToOthers, !toProcess.isEmpty, processing + toEncode.count < encoders { return startProcess() }
        if !leaveToOthers, !toCount.isEmpty { return .count(Self.takeEarliest(&toCount)) }
        if canEncode {
            encoding += 1
            return .encode(Self.takeEarliest(&toEncode))
        }
        if !toProcess.isEmpty { return startProcess() }
        if let plan = readable { return startRead(plan) }
        if !toCount.isEmpty { return .count(Self.takeEarliest(&toCount)) }
        return nil
    }

    /// The batch that comes first in reading order (so that the writer waits least).
    private static func takeEarliest(_ batches: inout [ShardBatch]) -> ShardBatch {
        var best = 0
        for i in batches.indices.dropFirst() where Key(plan: batches[i].plan, index: batches[i].index)
            < Key(plan: batches[best].plan, index: batches[best].index) { best = i }
        return batches.remove(at: best)
    }

    private func startProcess() -> Task {
        processing += 1
        return .process(Self.takeEarliest(&toProcess))
    }

    private var canEncode: Bool { encoding < encoders && !toEncode.isEmpty }

    private func startRead(_ plan: Int) -> Task {
        reading[plan] = true
        inFlight += 1
        nextIndex[plan] += 1
        return .read(plan: plan, index: nextIndex[plan] - 1)
    }

    /// The first source that can be read now, among the first `window` sources not read to
    /// their end (from the one being written on). Sources read to their end hold no reader, so
    /// they do not count: a run of small sources does not stop reading ahead while the writer
    /// is busy (a commit, say).
    private func readablePlan() -> Int? {
        let current = writeKey.plan
        var open = 0
        for plan in current..<plans where !readDone[plan] {
            if open == window { break }
            open += 1
            if !reading[plan], inFlight < (plan == current ? capacity : capacity - reserve) { return plan }
        }
        return nil
    }

    /// CPU time of the calling thread: what a task cost, whether or not the thread was
    /// preempted meanwhile (on a machine with more threads than cores, wall time says more
    /// about the other threads than about the task).
    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
