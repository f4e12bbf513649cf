import BPE
import Corpus
import Foundation
import Shards

/// A batch of one source on its way through a shard job: its records and documents
/// (`IngestBatch`, filled by the reader and the ingest stages), then their token ids (the
/// encoder) and the ids' counts per split (the counter), until the writer puts them in the
/// corpus. Batches are recycled (`BatchPool`) so that their buffers are allocated, and their
/// pages touched, only once.
package final class ShardBatch: @unchecked Sendable {
    // Safety (Sendable): the scheduler hands a batch to one thread at a time, under its lock.
    package var documents = IngestBatch()
    /// Token ids of all documents, one after the other; document i ends at `ends[i]`.
    package var tokens: [UInt32] = []
    var ends: [Int] = []
    /// Occurrences of each token id (end-of-text tokens included) per split: train's ids first,
    /// then val's. Counted off the writer's thread; the writer adds them to the index's counts
    /// and leaves them zero.
    var counts: [UInt32] = []

    package init() {}

    /// Which source (index in the job's plans), and which of its batches.
    package var plan: Int { documents.source }
    package var index: Int { documents.index }
    package var end: SourceEnd? { documents.end }

    package func reset(plan: Int, index: Int) {
        documents.reset(source: plan, index: index)
        tokens.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    /// Makes room for the ids once the text is known (half an id per byte of text, more than
    /// text needs; growing by half again at least, so that a recycled batch rarely grows) and,
    /// when that took new memory, touches its pages here so that encoding does not take the
    /// page faults.
    func prepareTokens() {
        let n = documents.textBytes / 2 + documents.documents.count
        guard tokens.capacity < n else { return }
        tokens.reserveCapacity(Swift.max(n, tokens.capacity * 3 / 2))
        // The pages ~0.4 ids per byte will use (small vocabularies average about a third).
        tokens.append(contentsOf: repeatElement(0, count: Swift.min(tokens.capacity, documents.textBytes * 2 / 5 + documents.documents.count)))
        tokens.removeAll(keepingCapacity: true)
    }

    /// Encodes the documents into `tokens`. The ids and ends are taken out of the batch while
    /// it encodes, and put back after: a local's accesses are checked when compiling, a stored
    /// property's at run time (per document here).
    func encode(with encoder: inout TokenEncoder) {
        var tokens: [UInt32] = [], ends: [Int] = []
        swap(&tokens, &self.tokens)
        swap(&ends, &self.ends)
        documents.forEachText { _, text in
            encoder.encodeOrdinary(text, into: &tokens)
            ends.append(tokens.count)
        }
        swap(&tokens, &self.tokens)
        swap(&ends, &self.ends)
    }

    /// Where the counts of a document with this info start in `counts`: its split's.
    static func countsOffset(of info: DocumentInfo, _ settings: CorpusSettings) -> Int {
        Split.of(hash: info.hash, valFraction: settings.valFraction) == .train ? 0 : settings.vocabSize
    }

    /// Counts the tokens per split (end-of-text tokens included), off the writer's path and off
    /// the encoders'.
    func count(_ settings: CorpusSettings) {
        let vocab = settings.vocabSize
        if counts.count != 2 * vocab { counts = [UInt32](repeating: 0, count: 2 * vocab) }
        let documents = self.documents.documents, ends = self.ends
        counts.withUnsafeMutableBufferPointer { counts in
            tokens.withUnsafeBufferPointer { tokens in
                var start = 0
                for (i, end) in ends.enumerated() {
                    let c = UnsafeMutableBufferPointer(rebasing: counts[Self.countsOffset(of: documents[i], settings)...])
                    c[Int(settings.eotID)] += 1
                    // Ids come from the tokenizer, so below `vocab`; the store checks them again.
                    for t in tokens[start..<end] where Int(t) < vocab { c[Int(t)] += 1 }
                    start = end
                }
            }
        }
    }

    /// Takes a dropped document's tokens back out of the counts.
    func uncount(document i: Int, tokens: UnsafeBufferPointer<UInt32>, _ settings: CorpusSettings) {
        let base = Self.countsOffset(of: documents.documents[i], settings)
        counts.withUnsafeMutableBufferPointer { counts in  // no uniqueness check per id
            counts[base + Int(settings.eotID)] -= 1
            for t in tokens where Int(t) < settings.vocabSize { counts[base + Int(t)] -= 1 }
        }
    }

    /// Frees the buffers that grew past what a batch of `batchBytes` of text needs (twice the
    /// text, or an id per byte of it): the next batch starts them afresh.
    func shrink(toFit batchBytes: Int) {
        documents.shrink(toFit: batchBytes)
        if tokens.capacity > batchBytes { tokens = [] }
    }
}

/// Written batches, for the readers to fill again. Holds at most what was in flight at once,
/// each batch at about `batchBytes` of text: one that grew past it for a large record gives the
/// extra memory back when it returns (else every pooled batch would in time keep room for the
/// largest document of the corpus, times the pool's size).
package final class BatchPool: @unchecked Sendable {
    // Safety (Sendable): `free` is accessed under `lock` only.
    private let lock = NSLock()
    private var free: [ShardBatch] = []
    private let batchBytes: Int

    package init(batchBytes: Int) {
        self.batchBytes = batchBytes
    }

    package func batch(plan: Int, index: Int) -> ShardBatch {
        let batch = lock.withLock { free.popLast() } ?? ShardBatch()
        batch.reset(plan: plan, index: index)
        return batch
    }

    package func recycle(_ batch: ShardBatch) {
        batch.shrink(toFit: batchBytes)
        lock.withLock { free.append(batch) }
    }
}
