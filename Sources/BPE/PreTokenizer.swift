// Pre-tokenizers: split UTF-8 bytes into the pieces that BPE then encodes one by one.
//
// Each pattern is a regex from a peer tokenizer, reproduced exactly by a hand-written scanner over
// bytes (PreTokenizer+Scanner.swift): no regex engine, no String, one table load per character.
// PreTokenizer+Reference.swift holds the slow twin, a literal transcription of each regex that a
// small backtracking matcher runs; `regex` is rendered from it, and the tests compare fast, slow and
// the peers (Hugging Face tokenizers, tiktoken, Python `regex`).

/// Splits text into pre-tokens by one of the `PreTokenizerPattern` regexes.
///
///     let pre = PreTokenizer(.gpt2)
///     pre.pieces(Array("Hello world's  end".utf8))
///     // ["Hello", " world", "'s", " ", " end"] (as byte arrays)
///
/// The pieces tile the input: every byte belongs to exactly one piece, in order. Input may be any
/// bytes; a byte that does not start well-formed UTF-8 counts as one punctuation-like character
/// (see UnicodeClass.swift).
///
/// - Complexity: O(n) for n bytes, one pass (the whitespace rules look back at most one character).
public struct PreTokenizer: Sendable {
    public let pattern: PreTokenizerPattern
    @usableFromInline let table: UnicodeClassTable

    public init(_ pattern: PreTokenizerPattern) {
        self.pattern = pattern
        table = UnicodeClassTable.shared
    }

    /// Calls `body(start, end)` for each piece, in order; the pieces tile `text` exactly.
    @inlinable
    package func split(_ text: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        guard let base = text.baseAddress, text.count > 0 else { return }
        let scanner = PreTokenizerScanner(text: base, end: text.count, table: table)
        switch pattern {
        case .gpt2: scanner.gpt2(body)
        case .cl100k: scanner.tiktoken(body, whitespaceAtEndWhole: true)
        case .llama3: scanner.tiktoken(body, whitespaceAtEndWhole: false)
        case .o200k: scanner.o200k(body)
        }
    }

    /// The pieces of `text` as byte arrays (for tests and tools; `split` does not allocate).
    public func pieces(_ text: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        text.withUnsafeBufferPointer { buffer in
            split(buffer) { start, end in out.append(Array(buffer[start..<end])) }
        }
        return out
    }

    /// The piece boundaries of `text` as byte ranges.
    public func ranges(_ text: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        text.withUnsafeBufferPointer { buffer in split(buffer) { out.append($0..<$1) } }
        return out
    }

    /// The regex this pre-tokenizer reproduces, in the peers' syntax (rendered from the reference).
    public var regex: String { PreTokenizerReference.regex(pattern).rendered }
}
