#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One record of a source as it is in the file, before the ingest stages.
package struct RecordView {
    /// A JSONL line (its byte order mark and line break removed); for text, a line (without
    /// its "\r\n" or "\n"), a paragraph or a whole file. Borrowed from the reader: valid until
    /// its next call; the caller may overwrite it (`RecordProcessor` decodes JSON in place).
    package var bytes: UnsafeMutableBufferPointer<UInt8>
    /// 0-based record number in the source.
    package var record: Int
    /// 1-based line where the record starts (1 for a whole file).
    package var line: Int
}

/// Cuts one source file into records, without looking inside them: decompression, line
/// splitting and blank-line handling only. `RecordProcessor` runs the ingest stages on each
/// record, so the two can run on different threads (`DocumentReader` runs both in turn).
///
///     var records = try RecordReader(path: "data/fortunes.jsonl.gz", options: IngestOptions())
///     var stages = RecordProcessor(options: records.options, format: records.format)
///     while let r = try records.next() { if case .document(let text, _) = stages.process(r.bytes) { use(text) } }
///
/// Records: a non-blank JSONL line (blank lines are ignored, a UTF-8 byte order mark at the
/// start of a JSONL file is skipped), or for text a whole file, a paragraph or a line (see
/// `IngestOptions.Boundary`).
///
/// Memory: the read window holds at least the record being read (so a whole file with
/// `boundary = .file`); otherwise it does not grow with the file.
///
/// A struct, so that the per-record state (window, offsets, counts) is checked for exclusive
/// access when compiling, not at run time per access as a class's stored properties are. The
/// file (`ByteSource`) is shared by copies: a copy is only made to be written back.
package struct RecordReader {
    package let path: String
    package let options: IngestOptions
    /// `.jsonl` or `.text`: the options' format, resolved for this path.
    package let format: IngestOptions.Format

    private let bytes: ByteSource
    /// Read window: bytes `start..<window.count` are decompressed and still needed; scanning
    /// has reached `cursor`. `fill` moves the kept bytes to the front, shifting both.
    private var window: ByteBuffer
    private var start = 0
    private var cursor = 0
    private var sourceEnded = false
    private var finished = false
    private var linesRead = 0
    /// Records given out so far.
    package private(set) var records = 0
    /// Bytes after decompression (the file's bytes for plain files).
    package private(set) var uncompressedBytes: Int64 = 0

    /// Opens `path`.
    /// - Throws: `CorpusError` `.fileNotFound` or `.unreadable`.
    package init(path: String, options: IngestOptions) throws(CorpusError) {
        try self.init(path: path, options: options, windowCapacity: 1 << 20, inputCapacity: 256 << 10)
    }

    /// The same with chosen buffer sizes (tests use tiny ones to reach every refill path).
    package init(path: String, options: IngestOptions, windowCapacity: Int, inputCapacity: Int) throws(CorpusError) {
        bytes = try ByteSource(path: path, inputCapacity: inputCapacity)
        window = ByteBuffer(capacity: windowCapacity)
        self.path = path
        self.options = options
        format = options.resolvedFormat(for: path)
    }

    /// Size of the file on disk.
    package var fileBytes: Int64 { bytes.fileBytes }

    /// Bytes of the file consumed so far (for progress).
    package var compressedOffset: Int64 { bytes.compressedOffset }

    /// Whether the file was gzip (detected by its magic bytes).
    package var isGzip: Bool { bytes.isGzip }

    /// Bytes the read window holds now (tests check that it stays small on long streams).
    package var windowCapacity: Int { window.capacity }

    /// The next record, or nil at the end of the file.
    /// - Throws: `CorpusError` (`.corruptGzip`, `.truncatedGzip`, `.unreadable`); the source stops
    ///   there and later calls return nil.
    package mutating func next() throws(CorpusError) -> RecordView? {
        guard !finished else { return nil }
        do throws(CorpusError) {
            let record: RecordView?
            switch (format, options.boundary) {
            case (.jsonl, _): record = try nextJSONL()
            case (_, .line): record = try nextLine()
            case (_, .blank): record = try nextParagraph()
            case (_, .file): record = try nextFile()
            }
            if record == nil { finished = true }
            return record
        } catch {
            finished = true
            throw error
        }
    }

    private mutating func view(_ from: Int, _ count: Int, line: Int) -> RecordView {
        defer { records += 1 }
        return RecordView(bytes: UnsafeMutableBufferPointer(start: window.base + from, count: count), record: records, line: line)
    }

    private mutating func nextJSONL() throws(CorpusError) -> RecordView? {
        while let line = try readLine() {
            cursor = line.next
            start = cursor   // the bytes stay in the window until the next call
            var first = line.start
            if linesRead == 1 && line.end - first >= 3 && window.base[first] == 0xEF
                && window.base[first + 1] == 0xBB && window.base[first + 2] == 0xBF {
                first += 3   // byte order mark
            }
            if isBlank(first, line.end) { continue }
            return view(first, line.end - first, line: linesRead)
        }
        return nil
    }

    private mutating func nextLine() throws(CorpusError) -> RecordView? {
        guard let line = try readLine() else { return nil }
        cursor = line.next
        start = cursor
        return view(line.start, contentEnd(line) - line.start, line: linesRead)
    }

    private mutating func nextParagraph() throws(CorpusError) -> RecordView? {
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
            let paragraph = start
            start = cursor
            return view(paragraph, length, line: firstLine)
        }
        return nil
    }

    private mutating func nextFile() throws(CorpusError) -> RecordView? {
        while try fill() {}
        finished = true
        let length = window.count - start
        guard length > 0 else { return nil }   // an empty file has no record
        return view(start, length, line: 1)
    }

    /// The next line at `cursor`: `end` excludes the "\n", `next` is just past it (`end == next`
    /// for a last line without "\n"). Offsets hold until the next call.
    private mutating func readLine() throws(CorpusError) -> (start: Int, end: Int, next: Int)? {
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
    private mutating func fill() throws(CorpusError) -> Bool {
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
        uncompressedBytes += Int64(n)
        return true
    }
}
