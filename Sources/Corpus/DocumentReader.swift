#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads one source file as a stream of documents, running the ingest stages on each record.
///
///     let reader = try DocumentReader(path: "data/fortunes.jsonl.gz", source: 0,
///                                     options: IngestOptions(), dedup: Deduplicator())
///     while let doc = try reader.next() { use(doc.text) }
///     print(reader.stats.documents, reader.stats.skipped)
///
/// Records: a non-blank JSONL line (blank lines are ignored, a UTF-8 byte order mark at the
/// start of a JSONL file is skipped), or for text a whole file, a paragraph or a line (see
/// `IngestOptions.Boundary`). Each record becomes a document or a counted skip.
///
/// Memory: the read window holds at least the record being read (so a whole file with
/// `boundary = .file`), plus scratch space of about the same size; otherwise it does not grow
/// with the file.
///
/// Threads: a reader keeps no global state and may run on any thread, one thread at a time.
/// `dedup` is shared as is: do not give the same `Deduplicator` to readers running at once.
public final class DocumentReader {
    public let path: String
    public let source: Int
    public let options: IngestOptions
    /// `.jsonl` or `.text`: the options' format, resolved for this path.
    public let format: IngestOptions.Format

    private let bytes: ByteSource
    private let dedup: Deduplicator?
    private var counters: SourceStats

    /// Read window: bytes `start..<window.count` are decompressed and still needed; scanning
    /// has reached `cursor`. `fill` moves the kept bytes to the front, shifting both.
    private let window: ByteBuffer
    private var start = 0
    private var cursor = 0
    private var sourceEnded = false
    private var finished = false
    private var linesRead = 0
    private var recordsRead = 0

    private let field: ByteBuffer
    private let decoded = ByteBuffer(capacity: 64 << 10)
    private let keyScratch = ByteBuffer(capacity: 64)
    private let stageA = ByteBuffer(capacity: 64 << 10)
    private let stageB = ByteBuffer(capacity: 64 << 10)

    /// Opens `path`. With `options.dedup`, documents are checked against `dedup` (or, when it is
    /// nil, against a set of this reader's own).
    /// - Throws: `CorpusError` `.fileNotFound` or `.unreadable`.
    public convenience init(path: String, source: Int, options: IngestOptions, dedup: Deduplicator?) throws(CorpusError) {
        try self.init(path: path, source: source, options: options, dedup: dedup,
                      windowCapacity: 1 << 20, inputCapacity: 256 << 10)
    }

    /// The same with chosen buffer sizes (tests use tiny ones to reach every refill path).
    package init(path: String, source: Int, options: IngestOptions, dedup: Deduplicator?,
                 windowCapacity: Int, inputCapacity: Int) throws(CorpusError) {
        bytes = try ByteSource(path: path, inputCapacity: inputCapacity)
        window = ByteBuffer(capacity: windowCapacity)
        self.path = path
        self.source = source
        self.options = options
        format = options.resolvedFormat(for: path)
        self.dedup = options.dedup ? (dedup ?? Deduplicator()) : nil
        counters = SourceStats(path: path)
        counters.fileBytes = bytes.fileBytes
        let fieldBytes = Array(options.textField.utf8)
        field = ByteBuffer(capacity: fieldBytes.count)
        fieldBytes.withUnsafeBufferPointer { bytes in
            if let base = bytes.baseAddress { field.append(base, bytes.count) }
        }
    }

    /// What the source gave so far.
    public var stats: SourceStats {
        var s = counters
        s.compressedBytesRead = bytes.compressedOffset
        return s
    }

    /// Bytes of the file consumed so far (for progress).
    public var compressedOffset: Int64 { bytes.compressedOffset }

    /// Bytes the read window holds now (tests check that it stays small on long streams).
    package var windowCapacity: Int { window.capacity }

    /// Whether the file was gzip (detected by its magic bytes).
    public var isGzip: Bool { bytes.isGzip }

    /// The next document, or nil at the end of the file.
    /// - Throws: `CorpusError` (`.corruptGzip`, `.truncatedGzip`, `.unreadable`); the source stops
    ///   there, later calls return nil, and `stats.error` keeps the error.
    public func next() throws(CorpusError) -> Document? {
        guard let view = try nextView() else { return nil }
        return Document(text: Array(view.text), source: source, record: view.record, line: view.line, hash: view.hash)
    }

    /// The next document without copying its text: `text` points into the reader's buffers and
    /// stays valid until the next call to `next` or `nextView`. Errors as for `next`.
    public func nextView() throws(CorpusError) -> DocumentView? {
        guard !finished else { return nil }
        do throws(CorpusError) {
            let document: DocumentView?
            switch (format, options.boundary) {
            case (.jsonl, _): document = try nextJSONL()
            case (_, .line): document = try nextLine()
            case (_, .blank): document = try nextParagraph()
            case (_, .file): document = try nextFile()
            }
            if document == nil { finished = true }
            return document
        } catch {
            finished = true
            counters.error = error
            throw error
        }
    }

    // MARK: records

    private func nextJSONL() throws(CorpusError) -> DocumentView? {
        let fieldBytes = UnsafeBufferPointer(start: field.base, count: field.count)
        while let line = try readLine() {
            cursor = line.next
            var first = line.start
            if linesRead == 1 && line.end - first >= 3 && window.base[first] == 0xEF
                && window.base[first + 1] == 0xBB && window.base[first + 2] == 0xBF {
                first += 3   // byte order mark
            }
            if isBlank(first, line.end) {
                start = cursor
                continue
            }
            let record = beginRecord()
            var scanner = JSONLineScanner(window.base + first, count: line.end - first)
            let result = scanner.extractField(fieldBytes, into: decoded, keyScratch: keyScratch)
            start = cursor
            switch result {
            case .text:
                if let doc = finish(decoded.base, decoded.count, record: record, line: linesRead,
                                    loneSurrogates: scanner.loneSurrogates, knownASCII: scanner.decodedASCII) {
                    return doc
                }
            case .missing: skip(.missingField)
            case .notString: skip(.notString)
            case .bad:
                skip(.badJSON)
                if counters.badLines.count < SourceStats.badLinesKept { counters.badLines.append(linesRead) }
            }
        }
        return nil
    }

    private func nextLine() throws(CorpusError) -> DocumentView? {
        while let line = try readLine() {
            cursor = line.next
            let record = beginRecord()
            let doc = finish(window.base + line.start, contentEnd(line) - line.start, record: record,
                             line: linesRead, loneSurrogates: 0)
            start = cursor
            if let doc { return doc }
        }
        return nil
    }

    private func nextParagraph() throws(CorpusError) -> DocumentView? {
        while let first = try readLine() {
            cursor = first.next
            if isBlank(first.start, first.end) {
                start = cursor
                continue
            }
            // The paragraph starts at `start`; its length is kept relative to `start` because
            // reading more lines may move the window's bytes.
            let firstLine = linesRead
            var length = contentEnd(first) - start
            while let line = try readLine() {
                cursor = line.next
                if isBlank(line.start, line.end) { break }
                length = contentEnd(line) - start
            }
            let record = beginRecord()
            let doc = finish(window.base + start, length, record: record, line: firstLine, loneSurrogates: 0)
            start = cursor
            if let doc { return doc }
        }
        return nil
    }

    private func nextFile() throws(CorpusError) -> DocumentView? {
        while try fill() {}
        finished = true
        let length = window.count - start
        guard length > 0 else { return nil }   // an empty file has no record
        let record = beginRecord()
        return finish(window.base + start, length, record: record, line: 1, loneSurrogates: 0)
    }

    // MARK: stages

    /// Runs the stages on one record's text; returns the document or nil after counting the skip.
    private func finish(_ text: UnsafePointer<UInt8>, _ length: Int, record: Int, line: Int,
                        loneSurrogates: Int, knownASCII: Bool = false) -> DocumentView? {
        var p = text, n = length
        var nextIsA = true   // which scratch buffer the next stage writes
        let invalid = !knownASCII && UTF8Check.firstInvalid(p, n) != nil
        counters.loneSurrogates += Int64(loneSurrogates)
        if invalid || loneSurrogates > 0 {
            if options.invalidUTF8 == .drop {
                skip(.invalidUTF8)
                return nil
            }
            counters.replacedInvalidUTF8 += 1
            if invalid {
                UTF8Check.repair(p, n, into: stageA)
                (p, n, nextIsA) = (UnsafePointer(stageA.base), stageA.count, false)
            }
        }
        if options.normalizeLineEndings && Normalize.needsLineEndings(p, n) {
            let out = nextIsA ? stageA : stageB
            Normalize.lineEndings(p, n, into: out)
            (p, n, nextIsA) = (UnsafePointer(out.base), out.count, !nextIsA)
        }
        if options.normalizeNFC && Normalize.needsNFC(p, n) {
            let out = nextIsA ? stageA : stageB
            Normalize.nfc(p, n, into: out)
            (p, n, nextIsA) = (UnsafePointer(out.base), out.count, !nextIsA)
        }
        if options.normalizeWhitespace {
            let out = nextIsA ? stageA : stageB
            Normalize.whitespace(p, n, into: out)
            (p, n, nextIsA) = (UnsafePointer(out.base), out.count, !nextIsA)
        }
        if n < max(options.minLength, 1) {
            skip(.tooShort)
            return nil
        }
        let hash = ContentHash(UnsafeRawBufferPointer(start: p, count: n))
        if let dedup, !dedup.insert(hash) {
            skip(.duplicate)
            return nil
        }
        counters.documents += 1
        counters.documentBytes += Int64(n)
        return DocumentView(text: UnsafeBufferPointer(start: p, count: n), record: record, line: line, hash: hash)
    }

    private func beginRecord() -> Int {
        counters.records += 1
        defer { recordsRead += 1 }
        return recordsRead
    }

    private func skip(_ reason: SkipReason) {
        counters.skipped[reason, default: 0] += 1
    }

    // MARK: window

    /// The next line at `cursor`: `end` excludes the "\n", `next` is just past it (`end == next`
    /// for a last line without "\n"). Offsets hold until the next call.
    private func readLine() throws(CorpusError) -> (start: Int, end: Int, next: Int)? {
        var searched = 0   // bytes after `cursor` known to hold no "\n"
        while true {
            let from = cursor + searched
            if from < window.count, let hit = memchr(window.base + from, 0x0A, window.count - from) {
                let newline = UnsafeMutableRawPointer(window.base).distance(to: hit)
                linesRead += 1
                return (cursor, newline, newline + 1)
            }
            searched = window.count - cursor
            guard try fill() else {
                guard cursor < window.count else { return nil }
                linesRead += 1
                return (cursor, window.count, window.count)
            }
        }
    }

    /// Where a line's content ends: before a "\r" that precedes its "\n".
    private func contentEnd(_ line: (start: Int, end: Int, next: Int)) -> Int {
        if line.next > line.end && line.end > line.start && window.base[line.end - 1] == 0x0D {
            return line.end - 1
        }
        return line.end
    }

    /// Whether `window[from..<to]` holds only spaces, tabs, CR, FF or VT.
    private func isBlank(_ from: Int, _ to: Int) -> Bool {
        var i = from
        while i < to {
            switch window.base[i] {
            case 0x20, 0x09, 0x0D, 0x0C, 0x0B: i += 1
            default: return false
            }
        }
        return true
    }

    /// Reads more of the file into the window, first dropping the bytes before `start`; grows
    /// the window when the kept bytes fill most of it. Returns false at the end of the file.
    private func fill() throws(CorpusError) -> Bool {
        if sourceEnded { return false }
        if start > 0 {
            window.removeFirst(start)
            cursor -= start
            start = 0
        }
        if window.count * 4 > window.capacity * 3 { window.reserve(window.capacity * 2) }
        let n = try bytes.read(into: window.base + window.count, capacity: window.capacity - window.count)
        if n == 0 {
            sourceEnded = true
            return false
        }
        window.count += n
        counters.uncompressedBytes += Int64(n)
        return true
    }
}
