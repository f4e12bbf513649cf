import Corpus
import Foundation
import Shards

/// The one sequential task of a shard job: writes batches through the `ShardStore` in reading
/// order (the scheduler lets one thread at a time write), decides exact duplicates in that
/// order, and commits by its policy:
///
/// - after about `commitTokens` tokens, after a batch in which a shard filled up, and at the end;
/// - but while the writing thread has other work waiting (the next batch, or a batch to encode),
///   at most one per `commitSeconds`; when it has none, as soon as commits would not take more
///   than a tenth of its time;
/// - a source's end (done or failed) goes into the next commit, so that a corpus of many small
///   files is not a commit per file;
/// - once every source is read and the writer has nothing waiting, it starts the job's end
///   (`ShardStore.prepareToFinish`) while the last batches are encoded.
final class BatchWriter: @unchecked Sendable {
    // Safety (Sendable): the scheduler lets one thread at a time write; the job reads `report`
    // after every worker has stopped.
    let store: ShardStore
    let plans: [ShardJob.Plan]
    let options: ShardJobOptions
    let dedup: DocumentDeduplicator?
    /// Called after each batch, from whichever thread wrote it (never two at once).
    let progress: ((ShardJobProgress) -> Void)?
    var report = ShardJobReport()
    /// Inputs not read (done before, or refused), by index: listed in the report in order.
    var notRead: [Int: ShardJobReport.Source] = [:]
    let bytesTotal: Int64
    private var bytesBefore: Int64 = 0
    private var sinceCommit: Int64 = 0
    /// When the last commit ended, and how long it took.
    private var lastCommit = ContinuousClock.now
    private var lastCommitCost = Duration.zero
    /// Whether `store.prepareToFinish()` ran.
    private var preparedToFinish = false
    /// Whether the last source has ended: nothing is committed after (`finish` does it).
    private var lastSourceEnded = false
    private var outcome = ShardJobReport.Source(path: "", status: .done, error: nil, documents: 0, tokens: 0)
    /// The progress of the source being written.
    private var sourceProgress = SourceProgress(records: 0)
    private var keep: [Bool] = []

    init(store: ShardStore, plans: [ShardJob.Plan], options: ShardJobOptions, dedup: DocumentDeduplicator?,
         progress: ((ShardJobProgress) -> Void)?) {
        self.store = store
        self.plans = plans
        self.options = options
        self.dedup = dedup
        self.progress = progress
        bytesTotal = plans.reduce(Int64(0)) { $0 + $1.fileBytes }
    }

    /// Lists the inputs not read that come before input `index`.
    func addNotRead(before index: Int) {
        for i in notRead.keys.sorted() where i < index { report.sources.append(notRead.removeValue(forKey: i)!) }
    }

    /// Writes the next batch in reading order; false: stop here (asked to, or the testing hook).
    /// `isIdle` says whether this thread has nothing else waiting (`ShardScheduler.writerIsIdle`),
    /// `readingIsDone` whether every source has been read (`ShardScheduler.readingIsDone`).
    func write(_ batch: ShardBatch, isIdle: () -> Bool, readingIsDone: () -> Bool = { false }) throws -> Bool {
        let plan = plans[batch.plan]
        let documents = batch.documents
        if documents.isFirst {
            _ = try store.beginSource(path: plan.path, fileBytes: plan.fileBytes)
            outcome = .init(path: plan.path, status: .done, error: nil, documents: 0, tokens: 0)
            sourceProgress = plan.committed
        }
        sourceProgress.records = documents.recordsRead
        sourceProgress.skips.add(documents.skips)
        try writeDocuments(batch)
        // A new index's vocabulary, a part per batch, before the first commit needs it.
        try store.insertVocabulary(upTo: 4096)
        let vocab = store.settings.vocabSize
        batch.counts.withUnsafeMutableBufferPointer { counts in  // sized by `count`, which every batch goes through
            store.addTokenCounts(UnsafeMutableBufferPointer(rebasing: counts[0..<vocab]), split: .train)
            store.addTokenCounts(UnsafeMutableBufferPointer(rebasing: counts[vocab...]), split: .val)
        }
        if let end = batch.end {
            try store.endSource(progress: sourceProgress, end: end)
            lastSourceEnded = batch.plan == plans.count - 1
            if case .failed(let error) = end {
                report.errors.append(error.description)
                outcome.status = .error
                outcome.error = error.description
            }
        }
        try commitIfDue(batch, isIdle: isIdle)
        if !preparedToFinish, readingIsDone(), isIdle() {
            let started = ContinuousClock.now
            try store.prepareToFinish()
            options.trace?.record("prepare to finish", since: started)
            preparedToFinish = true
        }
        if batch.end != nil {
            addNotRead(before: plan.index)
            report.sources.append(outcome)
            bytesBefore += plan.fileBytes
        }
        self.progress?(ShardJobProgress(bytesDone: batch.end == nil ? bytesBefore + documents.compressedOffset : bytesBefore,
                                        bytesTotal: bytesTotal, documents: report.documents, tokens: report.tokens,
                                        source: plan.index, sources: options.inputs.count, path: plan.path))
        report.batches += 1
        if let stop = options.stopAfterBatches, report.batches >= stop {
            report.completed = false
            return false  // as if killed: what is not committed is lost
        }
        if let keepGoing = options.shouldContinue, !lastSourceEnded, !keepGoing() {
            // Asked to stop: commit what was written (a finished source's end is in it).
            try store.commit(progress: batch.end == nil ? sourceProgress : nil)
            report.completed = false
            return false
        }
        return true
    }

    /// Appends the batch's documents to the store, but those an earlier document had the
    /// content of (decided here, in reading order).
    private func writeDocuments(_ batch: ShardBatch) throws {
        let documents = batch.documents.documents
        if let dedup { try dedup.keep(documents, into: &keep) }
        try batch.tokens.withUnsafeBufferPointer { tokens in
            var start = 0
            for (i, info) in documents.enumerated() {
                let end = batch.ends[i]
                defer { start = end }
                let ids = UnsafeBufferPointer(rebasing: tokens[start..<end])
                if dedup != nil && !keep[i] {
                    sourceProgress.skips.add(.duplicate, line: info.line)
                    batch.uncount(document: i, tokens: ids, store.settings)
                    continue
                }
                try store.append(info, tokens: ids, countTokens: false)
                let count = Int64(end - start + 1)
                outcome.tokens += count
                outcome.documents += 1
                report.tokens += count
                report.documents += 1
                sinceCommit += count
                report.textBytes += info.byteCount
            }
        }
    }

    /// Commits when the policy says so (see the type's comment).
    private func commitIfDue(_ batch: ShardBatch, isIdle: () -> Bool) throws {
        // The last source's end is committed by `finish`, with the last shards.
        guard !lastSourceEnded else { return }
        // At a source's end, an eighth of `commitTokens` is enough: the final commit, which
        // nothing overlaps, then has less to write.
        let due = batch.end == nil ? options.commitTokens : options.commitTokens / 8
        // Free: nothing else waits for this thread, and commits would not take more than a tenth
        // of its time (a commit's cost grows with the vocabulary: its token counts' blob).
        let sinceLast = lastCommit.duration(to: .now)
        guard sinceCommit >= due || store.uncommittedShardCloses > 0,
              sinceLast >= .seconds(options.settings.commitSeconds)
                || (options.commitWhenIdle && sinceLast >= lastCommitCost * 9 && isIdle()) else { return }
        let started = ContinuousClock.now
        try store.commit(progress: batch.end == nil ? sourceProgress : nil)
        options.trace?.record("commit", since: started)
        sinceCommit = 0
        lastCommit = .now
        lastCommitCost = started.duration(to: lastCommit)
    }
}
