import Common
import Foundation

// A tokenizer saved into a directory (a vocabulary directory, a corpus directory):
//
//   DIR/tokenizer.json            always: Hugging Face's format, loadable by `tokenizers`
//   DIR/tokenizer.tiktoken        rank-rule vocabularies only (tiktoken files, e.g. cl100k_base):
//   DIR/tokenizer.tokenmill.json  the rank file's pattern and special tokens
//
// `Tokenizer.load(DIR)` prefers the rank file when the sidecar is there, so a tiktoken
// vocabulary keeps tiktoken's merge rule (and its fingerprint) through a directory; the
// tokenizer.json beside it carries merges derived from the ranks plus `ignore_merges`, which is
// how Hugging Face represents tiktoken vocabularies (Llama 3's tokenizer.json does the same).

/// The sidecar of a rank-rule vocabulary saved in a directory.
struct RankFileSidecar: Codable {
    var format = "tiktoken"
    var file = "tokenizer.tiktoken"
    var pattern: PreTokenizerPattern
    var specialTokens: [Special]

    /// A special token as the sidecar writes it: `{"id": 100257, "text": "<|endoftext|>"}`
    /// (`SpecialToken`'s own coding is the string users write, `NAME=ID`).
    struct Special: Codable {
        var text: String
        var id: UInt32
    }

    static let fileName = "tokenizer.tokenmill.json"

    init(pattern: PreTokenizerPattern, specials: [SpecialToken]) {
        self.pattern = pattern
        specialTokens = specials.map { Special(text: $0.text, id: $0.id) }
    }

    var specials: [SpecialToken] { specialTokens.map { SpecialToken($0.text, id: $0.id) } }
}

extension BPEModel {
    /// Writes the vocabulary into `directory` (created if needed), atomically file by file.
    public func save(toDirectory directory: String) throws {
        func write(_ name: String, _ bytes: [UInt8]) throws {
            try fileErrors { () throws(FileError) in try FileSystem.writeAtomically(FileSystem.join(directory, name), bytes) }
        }
        try write("tokenizer.json", Array(huggingFaceJSON().utf8))
        let sidecar = FileSystem.join(directory, RankFileSidecar.fileName)
        if merges == nil {
            try write("tokenizer.tiktoken", Array(tiktokenFile().utf8))
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try write(RankFileSidecar.fileName, Array(try enc.encode(RankFileSidecar(pattern: pattern, specials: specials))))
        } else if FileSystem.exists(sidecar) {
            try fileErrors { () throws(FileError) in try FileSystem.remove(sidecar) }
            try? FileSystem.remove(FileSystem.join(directory, "tokenizer.tiktoken"))
        }
    }
}

extension Tokenizer {
    /// The rank-rule tokenizer a directory's sidecar describes, or nil when there is none.
    static func loadSidecar(directory: String) throws -> Tokenizer? {
        let path = FileSystem.join(directory, RankFileSidecar.fileName)
        guard FileSystem.exists(path) else { return nil }
        let data = try readFile(path)
        let sidecar: RankFileSidecar
        do {
            sidecar = try JSONDecoder().decode(RankFileSidecar.self, from: data)
        } catch {
            throw TokenizerFileError(path, "not a TokenMill tokenizer sidecar: \(error)")
        }
        let file = FileSystem.join(directory, sidecar.file)
        guard FileSystem.exists(file) else { throw TokenizerFileError(file, "no such file (named by \(path))") }
        let ranks = try readFile(file)
        let model = try BPEModel.loadTiktoken(ranks, path: file, pattern: sidecar.pattern, specials: sidecar.specials)
        do {
            return try Tokenizer(model)
        } catch let e as TokenizerFileError {
            throw TokenizerFileError(file, e.message)
        }
    }
}

extension Tokenizer {
    /// Puts this tokenizer into `directory` as `DIR/tokenizer.json` (and, for a rank-rule
    /// vocabulary, the rank file and its sidecar), for a corpus or a run to carry the tokenizer
    /// it was made with.
    ///
    /// A tokenizer loaded from a tokenizer.json is copied byte for byte (with its own formatting
    /// and any members TokenMill does not read); so is `sourceFile` (a tokenizer.json, or a
    /// directory holding one) when it has this tokenizer's fingerprint. Otherwise the model is
    /// saved (`BPEModel.save(toDirectory:)`). Nothing is written when the directory already holds
    /// this tokenizer: the files keep their inode and modification time.
    ///
    ///     let tok = try Tokenizer.load("out/vocab")
    ///     try tok.save(into: "out/corpus")           // out/corpus/tokenizer.json, a copy
    ///
    /// - Throws: `TokenizerFileError` naming the file that could not be written.
    public func save(into directory: String, copying sourceFile: String? = nil) throws {
        let target = FileSystem.join(directory, "tokenizer.json")
        var source = jsonFile
        if source == nil, model.merges != nil, var candidate = sourceFile {
            if FileSystem.isDirectory(candidate) { candidate = FileSystem.join(candidate, "tokenizer.json") }
            if let bytes = try? FileSystem.read(candidate), bytes.first == UInt8(ascii: "{"),
               (try? Tokenizer.load(candidate))?.fingerprint == fingerprint {
                source = candidate
            }
        }
        if let source, let bytes = try? FileSystem.read(source) {
            if (try? FileSystem.read(target)) == bytes { return }
            try fileErrors { () throws(FileError) in try FileSystem.writeAtomically(target, bytes) }
            return
        }
        if FileSystem.exists(target), (try? Tokenizer.load(directory))?.fingerprint == fingerprint { return }
        try model.save(toDirectory: directory)
    }
}

/// A file's bytes, as `Data` for the format readers; a failure as `TokenizerFileError`.
func readFile(_ path: String) throws(TokenizerFileError) -> Data {
    do {
        return Data(try FileSystem.read(path))
    } catch {
        throw TokenizerFileError(error.path, error.message)
    }
}

/// Runs `body`, turning a `FileError` into the tokenizer's error (same file, same message).
func fileErrors<T>(_ body: () throws(FileError) -> T) throws(TokenizerFileError) -> T {
    do {
        return try body()
    } catch {
        throw TokenizerFileError(error.path, error.message)
    }
}
