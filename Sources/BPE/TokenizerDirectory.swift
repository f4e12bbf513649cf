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
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TokenizerFileError(directory, "cannot create directory: \(error.localizedDescription)")
        }
        func write(_ name: String, _ data: Data) throws {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw TokenizerFileError(path, "cannot write: \(error.localizedDescription)")
            }
        }
        try write("tokenizer.json", Data(huggingFaceJSON().utf8))
        let sidecar = (directory as NSString).appendingPathComponent(RankFileSidecar.fileName)
        if merges == nil {
            try write("tokenizer.tiktoken", Data(tiktokenFile().utf8))
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try write(RankFileSidecar.fileName, try enc.encode(RankFileSidecar(pattern: pattern, specials: specials)))
        } else if FileManager.default.fileExists(atPath: sidecar) {
            do {
                try FileManager.default.removeItem(atPath: sidecar)
            } catch {
                throw TokenizerFileError(sidecar, "cannot remove: \(error.localizedDescription)")
            }
            try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent("tokenizer.tiktoken"))
        }
    }
}

extension Tokenizer {
    /// The rank-rule tokenizer a directory's sidecar describes, or nil when there is none.
    static func loadSidecar(directory: String) throws -> Tokenizer? {
        let path = (directory as NSString).appendingPathComponent(RankFileSidecar.fileName)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let sidecar: RankFileSidecar
        do {
            sidecar = try JSONDecoder().decode(RankFileSidecar.self, from: data)
        } catch {
            throw TokenizerFileError(path, "not a TokenMill tokenizer sidecar: \(error)")
        }
        let file = (directory as NSString).appendingPathComponent(sidecar.file)
        guard let ranks = FileManager.default.contents(atPath: file) else {
            throw TokenizerFileError(file, "no such file (named by \(path))")
        }
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
        let target = (directory as NSString).appendingPathComponent("tokenizer.json")
        var source = jsonFile
        if source == nil, model.merges != nil, var candidate = sourceFile {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
                candidate = (candidate as NSString).appendingPathComponent("tokenizer.json")
            }
            if let data = FileManager.default.contents(atPath: candidate), data.first == UInt8(ascii: "{"),
               (try? Tokenizer.load(candidate))?.fingerprint == fingerprint {
                source = candidate
            }
        }
        if let source, let data = FileManager.default.contents(atPath: source) {
            if FileManager.default.contents(atPath: target) == data { return }
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: target), options: .atomic)
            } catch {
                throw TokenizerFileError(target, "cannot write: \(error.localizedDescription)")
            }
            return
        }
        if FileManager.default.fileExists(atPath: target), (try? Tokenizer.load(directory))?.fingerprint == fingerprint { return }
        try model.save(toDirectory: directory)
    }
}
