// Vocabulary files in the formats the ecosystem uses, one file each:
// - Hugging Face `tokenizer.json`: BPEModel+HuggingFace.swift (read and write);
// - tiktoken's rank file (`.tiktoken`): BPEModel+Tiktoken.swift (read and write);
// - llm.c's tokenizer file for its decoder: BPEModel+LLMC.swift (write).
// A directory holding a tokenizer (tokenizer.json, and a rank file's sidecar) is
// TokenizerDirectory.swift.

/// A vocabulary file could not be read; the message names the file and the place.
public struct TokenizerFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}
