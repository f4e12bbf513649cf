/// The ingest stages for one record (`RecordReader` gives them): the JSONL text field's
/// extraction, the UTF-8 check or repair, the normalisations, the minimum length, then the
/// content hash. Not the de-duplication, which needs the documents in order: callers do it
/// with the hash.
///
/// Threads: keeps scratch buffers, so one processor per thread; the output is the same on
/// any thread. A struct, so that its counts and buffers are checked for exclusive access when
/// compiling, not at run time per record; copies share the scratch buffers' memory, so a copy
/// is only made to be written back.
package struct RecordProcessor {
    package enum Outcome {
        /// The document's text (in the record, which the JSON decoding overwrites, or in the
        /// processor's scratch space: valid until the next call and while the record's bytes
        /// are) and its content hash.
        case document(UnsafeBufferPointer<UInt8>, ContentHash)
        case skipped(SkipReason)
    }

    package let options: IngestOptions
    package let format: IngestOptions.Format
    /// Records whose invalid UTF-8 (or escaped lone surrogates) was replaced by U+FFFD.
    package private(set) var replacedInvalidUTF8: Int64 = 0
    /// Escaped lone surrogates seen in JSONL text fields.
    package private(set) var loneSurrogates: Int64 = 0

    /// The stages to run, read once from `options`.
    private let lineEndings: Bool, nfc: Bool, whitespace: Bool, minLength: Int
    private var field: ByteBuffer
    private var keyScratch = ByteBuffer(capacity: 64)
    private var stageA = ByteBuffer(capacity: 64 << 10)
    private var stageB = ByteBuffer(capacity: 64 << 10)

    /// `format` as resolved for the source (`RecordReader.format`).
    package init(options: IngestOptions, format: IngestOptions.Format) {
        self.options = options
        self.format = format
        lineEndings = options.normalizeLineEndings
        nfc = options.normalizeNFC
        whitespace = options.normalizeWhitespace
        minLength = max(options.minLength, 1)
        let fieldBytes = Array(options.textField.utf8)
        var field = ByteBuffer(capacity: fieldBytes.count)
        fieldBytes.withUnsafeBufferPointer { bytes in
            if let base = bytes.baseAddress { field.append(base, bytes.count) }
        }
        self.field = field
    }

    /// Frees the scratch buffers that grew past 4 MiB for a large document (the texts they
    /// held are spent): call it between batches, so that a processor does not keep room for
    /// the largest document it met.
    package mutating func releaseLargeBuffers() {
        stageA.shrink(ifOver: 4 << 20, to: 64 << 10)
        stageB.shrink(ifOver: 4 << 20, to: 64 << 10)
    }

    /// Runs the stages on one record. A JSONL record's text field is decoded in place, over
    /// the record's own bytes (no copy): the record is spent afterwards.
    package mutating func process(_ record: UnsafeMutableBufferPointer<UInt8>) -> Outcome {
        guard let base = record.baseAddress else { return finish(stageA.base, 0, loneSurrogates: 0) }
        guard format == .jsonl else { return finish(base, record.count, loneSurrogates: 0) }
        var scanner = JSONLineScanner(base, count: record.count)
        let result = scanner.extractFieldInPlace(UnsafeBufferPointer(start: field.base, count: field.count),
                                                 keyScratch: &keyScratch)
        switch result {
        case .text:
            let text = scanner.decoded
            return finish(text.baseAddress ?? stageA.base, text.count, loneSurrogates: scanner.loneSurrogates,
                          knownASCII: scanner.decodedASCII)
        case .missing: return .skipped(.missingField)
        case .notString: return .skipped(.notString)
        case .bad: return .skipped(.badJSON)
        }
    }

    private mutating func finish(_ text: UnsafePointer<UInt8>, _ length: Int, loneSurrogates: Int, knownASCII: Bool = false) -> Outcome {
        var p = text, n = length
        var nextIsA = true   // which scratch buffer the next stage writes
        let invalid = !knownASCII && UTF8Check.firstInvalid(p, n) != nil
        self.loneSurrogates += Int64(loneSurrogates)
        if invalid || loneSurrogates > 0 {
            if options.invalidUTF8 == .drop { return .skipped(.invalidUTF8) }
            replacedInvalidUTF8 += 1
            if invalid {
                UTF8Check.repair(p, n, into: &stageA)
                (p, n, nextIsA) = (UnsafePointer(stageA.base), stageA.count, false)
            }
        }
        if lineEndings && Normalize.needsLineEndings(p, n) {
            if nextIsA { Normalize.lineEndings(p, n, into: &stageA) } else { Normalize.lineEndings(p, n, into: &stageB) }
            (p, n) = written(nextIsA)
            nextIsA.toggle()
        }
        if nfc && Normalize.needsNFC(p, n) {
            if nextIsA { Normalize.nfc(p, n, into: &stageA) } else { Normalize.nfc(p, n, into: &stageB) }
            (p, n) = written(nextIsA)
            nextIsA.toggle()
        }
        if whitespace {
            if nextIsA { Normalize.whitespace(p, n, into: &stageA) } else { Normalize.whitespace(p, n, into: &stageB) }
            (p, n) = written(nextIsA)
            nextIsA.toggle()
        }
        if n < minLength { return .skipped(.tooShort) }
        let text = UnsafeBufferPointer(start: p, count: n)
        return .document(text, ContentHash(UnsafeRawBufferPointer(text)))
    }

    /// What the last stage wrote: in scratch buffer A (`a`) or B.
    private func written(_ a: Bool) -> (UnsafePointer<UInt8>, Int) {
        a ? (UnsafePointer(stageA.base), stageA.count) : (UnsafePointer(stageB.base), stageB.count)
    }
}
