/// Counts the distinct pre-tokens ("words") of a text stream: the first stage of BPE training.
///
///     var counter = WordCounter(pattern: .gpt2)
///     counter.count(Array("the cat and the hat".utf8))
///     counter.occurrences(of: Array(" the".utf8))   // 1  ("the" at the start is another word)
///
/// Memory grows with the number of distinct words, not with the text. Count on several threads
/// with one counter each and `merge` them: the result does not depend on how text was divided.
public struct WordCounter {
    public let pattern: PreTokenizerPattern
    @usableFromInline let preTokenizer: PreTokenizer
    /// word bytes → occurrences
    package var words: ByteKeyTable
    /// Bytes of text counted.
    public internal(set) var bytes: Int64 = 0
    /// Documents counted.
    public internal(set) var documents: Int64 = 0

    public init(pattern: PreTokenizerPattern, capacity: Int = 1 << 14) {
        self.pattern = pattern
        preTokenizer = PreTokenizer(pattern)
        words = ByteKeyTable(capacity: capacity)
    }

    /// Splits one document into words and counts them.
    package mutating func count(_ text: UnsafeBufferPointer<UInt8>) {
        guard let base = text.baseAddress, text.count > 0 else {
            documents += 1
            return
        }
        var table = words
        preTokenizer.split(text) { start, end in
            table.add(base + start, end - start, 1)
        }
        words = table
        bytes += Int64(text.count)
        documents += 1
    }

    /// Splits one document into words and counts them.
    public mutating func count(_ text: [UInt8]) {
        text.withUnsafeBufferPointer { count($0) }
    }

    /// How often `word` was counted (0 for a word never seen).
    public func occurrences(of word: [UInt8]) -> UInt64 {
        words.lookup(word) ?? 0
    }

    /// Adds the counts of `other` (counted on another thread) into this counter.
    public mutating func merge(_ other: WordCounter) {
        words.merge(other.words)
        bytes += other.bytes
        documents += other.documents
    }

    /// Number of distinct words.
    public var distinctWords: Int { words.count }
}
