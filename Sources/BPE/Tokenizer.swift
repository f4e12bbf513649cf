import Common
import Foundation

/// A loaded byte-level BPE vocabulary, ready to encode and decode. Immutable and shareable
/// across threads; each thread encodes through its own `TokenEncoder` (which owns a cache).
///
///     let tok = try Tokenizer.load("out/vocab")            // DIR/tokenizer.json, or a file
///     var enc = tok.makeEncoder()
///     let ids = enc.encode(Array("Hello world".utf8))     // e.g. [1012, 2241]
///     tok.decode(ids) == Array("Hello world".utf8)        // true for every byte string
///
/// `@unchecked Sendable` because its tables (`ByteKeyTable`, `PairTable`) hold raw pointers,
/// which the compiler cannot see are safe to share. They are: every stored property is a `let`
/// set in `init`, and nothing writes to the tables after it (encoders only look up in them).
public final class Tokenizer: @unchecked Sendable {
    public let model: BPEModel
    /// The Hugging Face tokenizer.json this tokenizer was loaded from, unchanged (nil when it
    /// came from a rank file, a sidecar directory or a model in memory). Lets a caller copy
    /// the file instead of loading it again to compare fingerprints.
    public let jsonFile: String?
    /// Hash of everything that decides ids: tokens, merge rule, pattern and special tokens.
    public let fingerprint: String
    /// The end-of-text token (`<|endoftext|>`, or Llama 3's `<|end_of_text|>`), if the vocabulary has one.
    public let eotID: UInt32?
    let preTokenizer: PreTokenizer
    /// pair key → rank << 32 | merged id
    let pairs: PairTable
    /// bytes → id of every non-special token (for the whole-piece shortcut and lookups)
    package let wholeTokens: ByteKeyTable
    let byteID: [UInt32]
    /// Whether a piece that is itself a token is emitted whole before merging (tiktoken's rule,
    /// HF's `ignore_merges`).
    let wholePieceFirst: Bool
    let specialFirstBytes: [Bool]

    public var vocabSize: Int { model.vocabSize }
    public var pattern: PreTokenizerPattern { model.pattern }
    public var specials: [SpecialToken] { model.specials }

    public convenience init(_ model: BPEModel) throws {
        try self.init(model, jsonFile: nil)
    }

    init(_ model: BPEModel, jsonFile: String?) throws {
        self.model = model
        self.jsonFile = jsonFile
        preTokenizer = PreTokenizer(model.pattern)
        let specialIDs = Set(model.specials.map(\.id))
        var whole = ByteKeyTable(capacity: model.tokens.count)
        var byteID = [UInt32](repeating: UInt32.max, count: 256)
        for (id, t) in model.tokens.enumerated() where !t.isEmpty && !specialIDs.contains(UInt32(id)) {
            t.withUnsafeBufferPointer { b in
                let h = fastHash(b.baseAddress!, b.count)
                if whole.lookup(b.baseAddress!, b.count, hash: h) == nil {
                    whole.set(b.baseAddress!, b.count, UInt64(id), hash: h)
                }
            }
            if t.count == 1 && byteID[Int(t[0])] == UInt32.max { byteID[Int(t[0])] = UInt32(id) }
        }
        if let missing = byteID.firstIndex(of: UInt32.max) {
            throw TokenizerFileError("tokenizer", "no token for byte 0x\(String(missing, radix: 16)): not a byte-level vocabulary")
        }
        self.byteID = byteID
        self.wholeTokens = whole

        // The pair table's entries are found on every core (each a lookup or two in `whole`, and
        // close to a million of them for cl100k), then inserted in order.
        let found = Tokenizer.pairEntries(model, whole: whole, specialIDs: specialIDs)
        if let bad = found.failedMerge {
            throw TokenizerFileError("tokenizer", "merge \(bad) makes bytes that are not a token")
        }
        var pairs = PairTable(capacity: max(found.count, 16))
        let firstWins = model.merges != nil  // a merge listed twice keeps its lowest rank
        for part in found.parts {
            var i = 0
            while i < part.count {
                if !firstWins || pairs.lookup(part[i]) == nil { pairs.set(part[i], part[i + 1]) }
                i += 2
            }
        }
        wholePieceFirst = model.merges == nil ? true : model.ignoreMerges
        self.pairs = pairs

        var first = [Bool](repeating: false, count: 256)
        for s in model.specials where !s.text.isEmpty { first[Int(s.text.utf8.first!)] = true }
        specialFirstBytes = first
        eotID = model.specials.first { $0.text == "<|endoftext|>" }?.id
            ?? model.specials.first { $0.text == "<|end_of_text|>" }?.id
        fingerprint = Tokenizer.computeFingerprint(model)
    }

    /// Loads a vocabulary from a directory (its `tokenizer.json`) or a file: `tokenizer.json`
    /// (Hugging Face) or a tiktoken rank file (`.tiktoken`), which needs a pattern and takes its
    /// special tokens from `specials`; a `preset` fills in either when it is not given
    /// (`TokenizerPreset.resolve`).
    ///
    ///     let gpt4 = try Tokenizer.load("cl100k_base.tiktoken", preset: .cl100k_base)
    public static func load(_ path: String, pattern: PreTokenizerPattern? = nil, preset: TokenizerPreset? = nil,
                            specials: [SpecialToken] = []) throws -> Tokenizer {
        let (pattern, specials) = TokenizerPreset.resolve(preset, pattern: pattern, specials: specials)
        var file = path
        guard FileSystem.exists(path) else { throw TokenizerFileError(path, "no such file or directory") }
        if FileSystem.isDirectory(path) {
            if let t = try loadSidecar(directory: path) {
                if let pattern, pattern != t.pattern {
                    throw TokenizerFileError(path, "the directory's tokenizer uses the \(t.pattern.rawValue) pattern, not \(pattern.rawValue)")
                }
                return t
            }
            file = FileSystem.join(path, "tokenizer.json")
            guard FileSystem.exists(file) else { throw TokenizerFileError(path, "directory has no tokenizer.json") }
        }
        let data = try readFile(file)
        let model: BPEModel
        let isJSON = data.first == UInt8(ascii: "{") || file.hasSuffix(".json")
        if isJSON {
            model = try BPEModel.loadHuggingFaceJSON(data, path: file)
            if let pattern, pattern != model.pattern {
                throw TokenizerFileError(file, "the file's pre-tokenizer is \(model.pattern.rawValue), not \(pattern.rawValue)")
            }
        } else {
            guard let pattern else {
                throw TokenizerFileError(file, "a tiktoken rank file needs a pre-tokenization pattern (--pattern gpt2|cl100k|o200k|llama3, or --preset)")
            }
            model = try BPEModel.loadTiktoken(data, path: file, pattern: pattern, specials: specials)
        }
        do {
            return try Tokenizer(model, jsonFile: isJSON ? file : nil)
        } catch let e as TokenizerFileError {
            throw TokenizerFileError(file, e.message)
        }
    }

    /// A new encoder for one thread.
    public func makeEncoder() -> TokenEncoder { TokenEncoder(self) }

    /// Encodes `text` (any bytes). Special tokens are matched only with `allowSpecial`.
    public func encode(_ text: [UInt8], allowSpecial: Bool = false) -> [UInt32] {
        var e = makeEncoder()
        return e.encode(text, allowSpecial: allowSpecial)
    }

    /// The bytes of `id` (a special token's text for a special), or nil for an unknown id.
    public func tokenBytes(_ id: UInt32) -> [UInt8]? {
        guard Int(id) < model.tokens.count, !model.tokens[Int(id)].isEmpty else { return nil }
        return model.tokens[Int(id)]
    }

    /// Decodes ids to bytes. Throws for an id outside the vocabulary.
    public func decode<C: Collection>(_ ids: C) throws -> [UInt8] where C.Element == UInt32 {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for (i, id) in ids.enumerated() {
            guard Int(id) < model.tokens.count, !model.tokens[Int(id)].isEmpty else {
                throw TokenizerError.unknownID(id, position: i, vocabSize: model.tokens.count)
            }
            out += model.tokens[Int(id)]
        }
        return out
    }

    /// The pair table's entries (key, value, key, value, …) in parts that follow each other in
    /// rank order, found by `threads` threads (default: up to 8 for a large vocabulary).
    /// Merges: each merge's pair → its rank << 32 | the id of its joined bytes (`failedMerge`:
    /// the first merge whose joined bytes are not a token). Rank rule (no merges): two tokens
    /// whose joined bytes are a token merge into it, and its id is its rank, so every split of
    /// every token into two tokens.
    package static func pairEntries(_ model: BPEModel, whole: ByteKeyTable, specialIDs: Set<UInt32>, threads: Int? = nil)
        -> (parts: [[UInt64]], count: Int, failedMerge: Int?) {
        let items = model.merges?.count ?? model.tokens.count
        // Below ~64k items the threads' start-up costs about what they save.
        let threads = Swift.max(1, threads ?? (items >= 65_536 ? Swift.min(ProcessInfo.processInfo.activeProcessorCount, 8) : 1))
        let chunk = (items + threads - 1) / threads
        var parts = [[UInt64]](repeating: [], count: threads)
        var failed = [Int?](repeating: nil, count: threads)
        parts.withUnsafeMutableBufferPointer { partsBuffer in
            failed.withUnsafeMutableBufferPointer { failedBuffer in
                // Safety: iteration t writes parts[t] and failed[t] only, and concurrentPerform
                // returns after its last iteration, inside both buffers' scopes; `whole` is only read.
                nonisolated(unsafe) let parts = partsBuffer, failed = failedBuffer, whole = whole
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    var out: [UInt64] = []
                    let range = t * chunk..<Swift.min(items, (t + 1) * chunk)
                    if let merges = model.merges {
                        out.reserveCapacity(2 * range.count)
                        // The two tokens' bytes side by side in a scratch buffer (not a new array).
                        // Safety: `joined` holds `capacity` bytes, grown before n bytes are written.
                        var capacity = 256
                        var joined = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
                        defer { joined.deallocate() }
                        for rank in range {
                            let m = merges[rank]
                            let id: UInt64? = model.tokens[Int(m.left)].withUnsafeBufferPointer { l in
                                model.tokens[Int(m.right)].withUnsafeBufferPointer { r in
                                    let n = l.count + r.count
                                    if n > capacity {
                                        joined.deallocate()
                                        capacity = 2 * n
                                        joined = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
                                    }
                                    if let p = l.baseAddress { joined.update(from: p, count: l.count) }
                                    if let p = r.baseAddress { (joined + l.count).update(from: p, count: r.count) }
                                    return whole.lookup(joined, n)
                                }
                            }
                            guard let id else { failed[t] = rank; break }
                            out.append(m.key)
                            out.append(UInt64(rank) << 32 | id)
                        }
                    } else {
                        out.reserveCapacity(5 * range.count)  // ~2.3 pairs per token in cl100k
                        for id in range {
                            let t = model.tokens[id]
                            guard t.count >= 2, !specialIDs.contains(UInt32(id)) else { continue }
                            t.withUnsafeBufferPointer { b in
                                for k in 1..<b.count {
                                    if let l = whole.lookup(b.baseAddress!, k), let r = whole.lookup(b.baseAddress! + k, b.count - k) {
                                        out.append(UInt64(l) << 32 | r)
                                        out.append(UInt64(id) << 32 | UInt64(id))
                                    }
                                }
                            }
                        }
                    }
                    parts[t] = out
                }
            }
        }
        return (parts, parts.reduce(0) { $0 + $1.count / 2 }, failed.compactMap { $0 }.first)
    }

    static func computeFingerprint(_ m: BPEModel) -> String {
        var hash = FingerprintHash()
        hash.feed(Array("tokenmill-bpe-v1 \(m.pattern.rawValue) \(m.merges == nil ? "ranks" : "merges") \(m.ignoreMerges)".utf8))
        for t in m.tokens { hash.feed(t) }
        for s in m.specials { hash.feed(Array("\(s.id):\(s.text)".utf8)) }
        if let merges = m.merges {
            var buf: [UInt8] = []
            buf.reserveCapacity(merges.count * 8)
            for p in merges { withUnsafeBytes(of: p.key.littleEndian) { buf += $0 } }
            hash.feed(buf)
        }
        return String(format: "%016llx%016llx", hash.h1, hash.h2)
    }
}

/// Two 64-bit hashes of a sequence of byte strings (each seeded by the last), a `Tokenizer`'s
/// fingerprint.
struct FingerprintHash {
    var h1: UInt64 = 0x6A09_E667_F3BC_C908, h2: UInt64 = 0xBB67_AE85_84CA_A73B

    mutating func feed(_ bytes: [UInt8]) {
        let (a, b) = bytes.withUnsafeBufferPointer { b in
            let p = b.baseAddress ?? UnsafePointer(bitPattern: 1)!
            return (fastHash(p, b.count, seed: h1 ^ UInt64(b.count)), fastHash(p, b.count, seed: h2 &+ 0x3C6E_F372_FE94_F82B))
        }
        h1 = a
        h2 = b
    }
}

public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case unknownID(UInt32, position: Int, vocabSize: Int)
    public var description: String {
        switch self {
        case let .unknownID(id, position, vocabSize):
            return "token id \(id) at position \(position) is not in the vocabulary (size \(vocabSize))"
        }
    }
}
