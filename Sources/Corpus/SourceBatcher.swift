/// One source cut into batches of records (`IngestBatch`): `next` fills the next one. Reading a
/// source is sequential (a gzip stream cannot be split), so it does as little as it can:
/// inflating and cutting records; the ingest stages run on the batch afterwards, on any thread.
///
/// Threads: one thread at a time.
public final class SourceBatcher: @unchecked Sendable {
    // Safety (Sendable): callers hand a batcher from thread to thread under a lock (the shard
    // job's scheduler lets one thread at a time read a source).
    public let path: String
    private let options: IngestOptions
    /// Records already taken (by an earlier, interrupted run): read again and dropped.
    private let skipRecords: Int64
    private var reader: RecordReader?
    private var started = false

    private let windowCapacity: Int, inputCapacity: Int

    /// A batcher for `path` that drops the first `skipRecords` records.
    public convenience init(path: String, options: IngestOptions, skipRecords: Int64 = 0) {
        self.init(path: path, options: options, skipRecords: skipRecords, windowCapacity: 1 << 20, inputCapacity: 256 << 10)
    }

    /// The same with chosen buffer sizes (tests use tiny ones to reach every refill path).
    package init(path: String, options: IngestOptions, skipRecords: Int64, windowCapacity: Int, inputCapacity: Int) {
        self.path = path
        self.options = options
        self.skipRecords = skipRecords
        self.windowCapacity = windowCapacity
        self.inputCapacity = inputCapacity
    }

    /// The read window's size now (tests check that it stays small on long streams).
    package private(set) var readWindowCapacity = 0
    /// Whether the file is gzip (detected by its magic bytes), once it is open.
    public private(set) var isGzip = false
    /// Whether the file was opened (it may have failed to).
    public private(set) var isOpen = false

    /// The file's size on disk, and its bytes after decompression so far (0 until it is open).
    public private(set) var fileBytes: Int64 = 0
    public private(set) var uncompressedBytes: Int64 = 0

    /// Opens the file now (else the first `next` does, and reports a failure in its batch).
    /// - Throws: `CorpusError` `.fileNotFound` or `.unreadable`.
    public func open() throws(CorpusError) {
        guard !started else { return }
        started = true
        let opened = try RecordReader(path: path, options: options, windowCapacity: windowCapacity, inputCapacity: inputCapacity)
        reader = opened
        fileBytes = opened.fileBytes
        isGzip = opened.isGzip
        isOpen = true
    }

    /// Fills `batch` (reset for the next index by the caller) with about `batchBytes` of records;
    /// the last batch has `end` set: `.done`, or `.failed` with the error (the file could not be
    /// opened, or is corrupt at some point: what was read before stays in the batches).
    public func next(_ batch: inout IngestBatch, batchBytes: Int) {
        if !started {
            do {
                try open()
            } catch {
                batch.end = .failed(error)
                batch.recordsRead = skipRecords
                return
            }
        }
        // The reader is taken out of this object while it reads (and put back after, unless the
        // source ended): its state is then a local's, not checked at run time per record.
        guard var reader = self.reader.take() else { preconditionFailure("\(path): read past its end") }
        while true {
            let record: RecordView?
            do { record = try reader.next() } catch {
                batch.end = .failed(error)
                break
            }
            guard let record else {
                batch.end = .done
                break
            }
            if Int64(record.record) < skipRecords { continue }
            batch.append(record)
            if batch.raw.count >= batchBytes { break }
        }
        batch.format = reader.format
        batch.recordsRead = Int64(reader.records)
        batch.compressedOffset = reader.compressedOffset
        uncompressedBytes = reader.uncompressedBytes
        readWindowCapacity = reader.windowCapacity
        if batch.end == nil { self.reader = reader }
    }
}
