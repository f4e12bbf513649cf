import ArgumentParser
import BPE
import Common
import Foundation

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text to token ids.",
        discussion: """
        Reads FILE (or standard input) as bytes and prints the ids of the whole input on one line, \
        separated by spaces. Special tokens in the text are encoded as ordinary text unless \
        --allow-special is given.
          echo -n 'Hello world' | tokenmill encode --tokenizer out/vocab
        """)

    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Flag(name: .long, help: "Recognise special tokens (e.g. <|endoftext|>) in the input.")
    var allowSpecial = false

    @Argument(help: "Input file (default: standard input).")
    var file: String?

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let text = try readInput(file)
            let ids = tokenizer.encode(text, allowSpecial: allowSpecial)
            var line = ids.map(String.init).joined(separator: " ")
            line += "\n"
            writeOutput(Array(line.utf8))
        }
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode token ids to text.",
        discussion: """
        Reads whitespace-separated ids from FILE (or standard input) and writes the bytes they \
        stand for, exactly (decode(encode(x)) == x for every input).
          tokenmill encode --tokenizer out/vocab notes.txt | tokenmill decode --tokenizer out/vocab
        """)

    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Argument(help: "Input file of ids (default: standard input).")
    var file: String?

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let input = try readInput(file)
            let name = file ?? "<stdin>"
            var ids: [UInt32] = []
            var index = 0
            for word in input.split(whereSeparator: { $0 == 32 || $0 == 10 || $0 == 9 || $0 == 13 }) {
                guard let id = UInt32(String(decoding: word, as: UTF8.self)) else {
                    throw CommandError("\(name): item \(index + 1) (\(String(decoding: word.prefix(20), as: UTF8.self).debugDescription)) is not a token id")
                }
                ids.append(id)
                index += 1
            }
            do {
                writeOutput(try tokenizer.decode(ids))
            } catch let e as TokenizerError {
                throw CommandError("\(name): \(e)")
            }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a vocabulary in another tool's format.",
        discussion: """
        Formats:
          tiktoken  tiktoken's rank file (base64 token, rank); load it with
                    tiktoken.Encoding(name, pat_str=…, mergeable_ranks=tiktoken.load.load_tiktoken_bpe(FILE),
                    special_tokens={…})
          llmc      llm.c's tokenizer file for its decoder (gpt2_tokenizer.bin layout)
          hf        Hugging Face tokenizer.json
          tokenmill export --tokenizer out/vocab --format tiktoken --output out/vocab.tiktoken
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case tiktoken, llmc, hf }

    @OptionGroup var tokenizerOptions: TokenizerOptions

    @Option(name: .long, help: "tiktoken, llmc or hf.")
    var format: Format

    @Option(name: .long, help: "Output file.")
    var output: String

    func run() throws {
        try reportingErrors {
            let tokenizer = try tokenizerOptions.load()
            let bytes: [UInt8]
            switch format {
            case .tiktoken:
                bytes = Array(tokenizer.model.tiktokenFile().utf8)
            case .hf:
                bytes = Array(tokenizer.model.huggingFaceJSON().utf8)
            case .llmc:
                guard let eot = tokenizer.eotID else {
                    throw CommandError("\(tokenizerOptions.path): llm.c needs an end-of-text token (<|endoftext|>) and the vocabulary has none")
                }
                bytes = try tokenizer.model.llmcTokenizerFile(eotID: eot)
            }
            try FileSystem.writeAtomically(output, bytes)
        }
    }
}
