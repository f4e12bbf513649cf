/// The ingest stages, run on a batch's records: the JSON text field, UTF-8, normalization,
/// minimum length, content hash (`RecordProcessor`, one per format), and a first pass of exact
/// dedup against the documents already kept. A new stage is added to `RecordProcessor` (per
/// record) or here (per batch), and `learn`, `shard` and pipelines all run it.
///
/// Threads: holds scratch buffers, so one per thread at once; the result is the same on any
/// thread.
public final class IngestStages: @unchecked Sendable {
    // Safety (Sendable): the scratch buffers are used by one thread at a time; callers pool
    // stages under a lock.
    private var jsonl: RecordProcessor
    private var text: RecordProcessor

    public init(options: IngestOptions) {
        jsonl = RecordProcessor(options: options, format: .jsonl)
        text = RecordProcessor(options: options, format: .text)
    }

    /// Turns the batch's records into documents (their text left in the batch's records where
    /// the stages left it, else copied into the batch) and skips. With `dedup`, a document
    /// whose hash the set already holds in memory is dropped here as a duplicate (it is one of
    /// a document kept before it); the rest are decided in reading order by `dedup.keep`.
    public func process(_ batch: inout IngestBatch, dedup: DocumentDeduplicator?) {
        // The processor and the records are taken out while the stages run, and put back after:
        // a local's accesses are checked when compiling, a stored property's at run time.
        let isJSONL = batch.format == .jsonl
        var processor = isJSONL ? jsonl : text
        var raw: [UInt8] = []
        swap(&raw, &batch.raw)
        let replacedBefore = processor.replacedInvalidUTF8, surrogatesBefore = processor.loneSurrogates
        raw.withUnsafeMutableBufferPointer { raw in
            guard let rawBase = raw.baseAddress else { return }
            var start = 0
            for (i, end) in batch.rawEnds.enumerated() {
                defer { start = end }
                switch processor.process(UnsafeMutableBufferPointer(rebasing: raw[start..<end])) {
                case .skipped(let reason):
                    batch.skips.add(reason, line: batch.lines[i])
                case .document(let text, let hash):
                    if let dedup, dedup.isKnownDuplicate(hash) {
                        batch.skips.add(.duplicate, line: batch.lines[i])
                        continue
                    }
                    batch.documents.append(DocumentInfo(record: batch.records[i], line: batch.lines[i],
                                                        byteCount: Int64(text.count), hash: hash))
                    batch.textBytes += text.count
                    if let p = text.baseAddress, p >= rawBase + start, p + text.count <= rawBase + end {
                        batch.spans.append(IngestBatch.TextSpan(inRaw: true, start: rawBase.distance(to: UnsafeMutablePointer(mutating: p)),
                                                                count: text.count))
                    } else {
                        batch.appendText(text)
                    }
                }
            }
        }
        swap(&raw, &batch.raw)
        batch.replacedInvalidUTF8 = processor.replacedInvalidUTF8 - replacedBefore
        batch.loneSurrogates = processor.loneSurrogates - surrogatesBefore
        processor.releaseLargeBuffers()   // the texts are in the batch now
        if isJSONL { self.jsonl = processor } else { self.text = processor }
    }
}
