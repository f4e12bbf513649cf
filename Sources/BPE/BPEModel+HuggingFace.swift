import Foundation

// Hugging Face `tokenizer.json` (byte-level BPE): written so that `Tokenizer.from_file` loads it
// as is, and read from files written by others (merges as ["a","b"] pairs or "a b" strings).

extension PreTokenizerPattern {
    /// The pattern text as Hugging Face's `Split` pre-tokenizer takes it. Oniguruma reads
    /// cl100k's possessive `\p{N}{1,3}+` as "repeat {1,3}", keeping whole digit runs; the greedy
    /// `{1,3}` splits as tiktoken does (nothing follows it inside its branch to backtrack into).
    var hfRegex: String {
        PreTokenizer(self).regex.replacingOccurrences(of: #"\p{N}{1,3}+"#, with: #"\p{N}{1,3}"#)
    }
}

extension BPEModel {
    /// The `tokenizer.json` text. Hugging Face's `Tokenizer.from_file` loads it and gives the
    /// same ids; `vocab` is written in id order and merges as `["a", "b"]` pairs.
    public func huggingFaceJSON() -> String {
        var out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        for (i, s) in specials.sorted(by: { $0.id < $1.id }).enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += "    {\"id\": \(s.id), \"content\": \(jsonString(s.text)), \"single_word\": false, "
            out += "\"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }
        out += specials.isEmpty ? "],\n" : "\n  ],\n"
        out += "  \"normalizer\": null,\n"
        switch pattern {
        case .gpt2:
            out += "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n"
        default:
            out += "  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n"
            out += "    {\"type\": \"Split\", \"pattern\": {\"Regex\": \(jsonString(pattern.hfRegex))}, \"behavior\": \"Isolated\", \"invert\": false},\n"
            out += "    {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}\n  ]},\n"
        }
        out += "  \"post_processor\": null,\n"
        out += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
        out += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
        // A rank-rule vocabulary emits a piece that is itself a token whole (tiktoken's rule):
        // HF's `ignore_merges` does the same.
        out += "    \"byte_fallback\": false,\n    \"ignore_merges\": \(ignoreMerges || merges == nil),\n    \"vocab\": {"
        // The vocabulary and merges (100k+ entries each for a large vocabulary) are written as
        // bytes: names as JSON strings one after the other, name k ending at `ends[k]`.
        let specialIDs = Set(specials.map(\.id))
        var names: [UInt8] = [], ends: [Int] = []
        names.reserveCapacity(tokens.count * 12)
        ends.reserveCapacity(tokens.count)
        for (id, t) in tokens.enumerated() {
            if specialIDs.contains(UInt32(id)) {
                appendJSONString(Array(String(decoding: t, as: UTF8.self).utf8), to: &names)
            } else {
                names.append(UInt8(ascii: "\""))
                for b in t {  // stand-ins are printable, never escaped
                    let c = ByteLevel.scalar[Int(b)]
                    if c < 0x80 {
                        if c == 0x22 || c == 0x5C { names.append(UInt8(ascii: "\\")) }
                        names.append(UInt8(c))
                    } else {  // below 0x800: two bytes of UTF-8
                        names.append(0xC0 | UInt8(c >> 6))
                        names.append(0x80 | UInt8(c & 0x3F))
                    }
                }
                names.append(UInt8(ascii: "\""))
            }
            ends.append(names.count)
        }
        func name(_ id: Int) -> ArraySlice<UInt8> { names[(id == 0 ? 0 : ends[id - 1])..<ends[id]] }
        var body: [UInt8] = []
        body.reserveCapacity(names.count * 4)
        var first = true
        for (id, t) in tokens.enumerated() where !t.isEmpty {
            body.append(contentsOf: first ? Array("\n      ".utf8) : Array(",\n      ".utf8))
            first = false
            body.append(contentsOf: name(id))
            body.append(contentsOf: ": \(id)".utf8)
        }
        body.append(contentsOf: "\n    },\n    \"merges\": [".utf8)
        for (i, m) in (merges ?? derivedMerges()).enumerated() {
            body.append(contentsOf: i == 0 ? Array("\n      [".utf8) : Array(",\n      [".utf8))
            body.append(contentsOf: name(Int(m.left)))
            body.append(contentsOf: ", ".utf8)
            body.append(contentsOf: name(Int(m.right)))
            body.append(UInt8(ascii: "]"))
        }
        body.append(contentsOf: "\n    ]\n  }\n}\n".utf8)
        return out + String(decoding: body, as: UTF8.self)
    }

    /// For a rank-rule vocabulary: the merge list that gives the same result. Each multi-byte
    /// token's two parts are found by running the rank rule on its bytes with only the tokens
    /// ranked below it (as tiktoken's and Hugging Face's converters do); the merges come in rank order.
    /// (Tokens are looked up by the bytes they span, in a `ByteKeyTable`, not as new arrays,
    /// which would allocate one per lookup.)
    public func derivedMerges() -> [TokenPair] {
        let specialIDs = Set(specials.map(\.id))
        var idOf = ByteKeyTable(capacity: tokens.count)
        for (i, t) in tokens.enumerated() where !t.isEmpty && !specialIDs.contains(UInt32(i)) {
            t.withUnsafeBufferPointer { b in
                let h = fastHash(b.baseAddress!, b.count)
                idOf.set(b.baseAddress!, b.count, UInt64(i), hash: h)  // a repeated token: the last id, as before
            }
        }
        var out: [TokenPair] = []
        var starts: [Int] = []  // where each part starts; a part ends where the next starts
        for (i, t) in tokens.enumerated() where t.count >= 2 && !specialIDs.contains(UInt32(i)) {
            let rank = UInt64(i)
            t.withUnsafeBufferPointer { b in
                let p = b.baseAddress!
                starts.removeAll(keepingCapacity: true)
                starts.append(contentsOf: 0...b.count)  // parts k = starts[k]..<starts[k + 1]
                while starts.count > 3 {
                    var best: (at: Int, rank: UInt64)? = nil
                    for k in 0..<(starts.count - 2) {
                        if let r = idOf.lookup(p + starts[k], starts[k + 2] - starts[k]), r < rank, best == nil || r < best!.rank {
                            best = (k, r)
                        }
                    }
                    guard let found = best else { break }
                    starts.remove(at: found.at + 1)
                }
                if starts.count == 3, let l = idOf.lookup(p, starts[1]), let r = idOf.lookup(p + starts[1], b.count - starts[1]) {
                    out.append(TokenPair(UInt32(l), UInt32(r)))
                }
            }
        }
        return out
    }

    /// Reads a Hugging Face `tokenizer.json` holding a byte-level BPE model.
    ///
    /// The document is streamed: `model.vocab` and `model.merges` (tens of thousands of
    /// entries) go straight into byte tables, without a string or a tree node per entry;
    /// the other members, which are small, are read as `JSONTree`s.
    public static func loadHuggingFaceJSON(_ data: Data, path: String) throws -> BPEModel {
        try data.withUnsafeBytes { raw in try loadHuggingFaceJSON(raw.bindMemory(to: UInt8.self), path: path) }
    }

    /// The parts of a tokenizer.json, as streamed.
    private struct HuggingFaceParts {
        var root: [(key: String, value: JSONTree)] = []
        var model: [(key: String, value: JSONTree)]?
        /// `model.vocab`'s names, one after the other (name k ends at `nameEnds[k]`), and ids.
        var vocab: (names: [UInt8], nameEnds: [Int], ids: [UInt32])?
        /// `model.merges`: left and right names one after the other (merge k's left ends at
        /// `ends[2k]`, its right at `ends[2k + 1]`).
        var merges: (bytes: [UInt8], ends: [Int]) = ([], [])
    }

    static func loadHuggingFaceJSON(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws -> BPEModel {
        var parser = JSONTree.Parser(bytes)
        parser.skipByteOrderMark()
        if parser.peek() != UInt8(ascii: "{") {
            do { _ = try JSONTree.parse(UnsafeRawBufferPointer(bytes)) } catch { throw TokenizerFileError(path, "invalid JSON: \(error)") }
            throw TokenizerFileError(path, "not a JSON object")
        }
        let parts: HuggingFaceParts
        do {
            parts = try streamHuggingFaceJSON(&parser, path: path)
        } catch let error as JSONTree.SyntaxError {
            throw TokenizerFileError(path, "invalid JSON: \(error)")
        }
        let root = JSONTree.object(parts.root)
        guard let modelMembers = parts.model else { throw TokenizerFileError(path, "no \"model\" object") }
        let model = JSONTree.object(modelMembers)
        if let type = model["type"]?.string, type != "BPE" {
            throw TokenizerFileError(path, "model type \(type) is not supported (only byte-level BPE)")
        }
        guard let vocab = parts.vocab else { throw TokenizerFileError(path, "no \"model.vocab\" object") }
        let pattern = try detectPattern(root["pre_tokenizer"], path: path)

        // Special (added) tokens keep their text; everything else is byte-level text.
        var specials: [SpecialToken] = []
        for added in root["added_tokens"]?.array ?? [] where added.members != nil {
            guard let content = added["content"]?.string, let id = added["id"]?.integer(in: 0...Int64(UInt32.max - 1)) else {
                throw TokenizerFileError(path, "added_tokens entry without content or id")
            }
            specials.append(SpecialToken(content, id: UInt32(id)))
        }
        let specialIDs = Set(specials.map(\.id))
        return try vocab.names.withUnsafeBufferPointer { names throws -> BPEModel in
            func name(_ k: Int) -> UnsafeBufferPointer<UInt8> {
                let from = k == 0 ? 0 : vocab.nameEnds[k - 1]
                return UnsafeBufferPointer(rebasing: names[from..<vocab.nameEnds[k]])
            }
            var maxID = -1
            var byName = NameTable(capacity: vocab.ids.count)
            for k in vocab.ids.indices {
                byName.set(name(k), vocab.ids[k])
                maxID = max(maxID, Int(vocab.ids[k]))
            }
            for s in specials { maxID = max(maxID, Int(s.id)) }
            var tokens = [[UInt8]](repeating: [], count: maxID + 1)
            for k in vocab.ids.indices {
                // A name given twice keeps its last id, as a JSON object read into a dictionary would.
                guard let id = byName[name(k)], !specialIDs.contains(id) else { continue }
                guard let bytes = ByteLevel.decode(utf8: name(k)) else {
                    throw TokenizerFileError(path, "vocab entry \(String(decoding: name(k), as: UTF8.self).debugDescription) (id \(id)) is not byte-level text")
                }
                if !tokens[Int(id)].isEmpty {
                    if tokens[Int(id)] == bytes { continue }   // that name again
                    throw TokenizerFileError(path, "id \(id) is used twice in vocab")
                }
                tokens[Int(id)] = bytes
            }
            for s in specials { tokens[Int(s.id)] = Array(s.text.utf8) }

            var merges: [TokenPair] = []
            merges.reserveCapacity(parts.merges.ends.count / 2)
            try parts.merges.bytes.withUnsafeBufferPointer { all in
                let ends = parts.merges.ends
                for m in 0..<(ends.count / 2) {
                    let from = m == 0 ? 0 : ends[2 * m - 1]
                    let left = UnsafeBufferPointer(rebasing: all[from..<ends[2 * m]])
                    let right = UnsafeBufferPointer(rebasing: all[ends[2 * m]..<ends[2 * m + 1]])
                    func failure(_ what: String) -> TokenizerFileError {
                        TokenizerFileError(path, "merge \(m) (\(String(decoding: left, as: UTF8.self)) \(String(decoding: right, as: UTF8.self))) \(what)")
                    }
                    guard let l = byName[left], let r = byName[right] else { throw failure("names a token not in vocab") }
                    guard byName.contains(left, right) else { throw failure("makes a token not in vocab") }
                    merges.append(TokenPair(l, r))
                }
            }
            for b in 0..<256 where byName[ByteLevel.encode([UInt8(b)])] == nil {
                throw TokenizerFileError(path, "vocab lacks the byte token for 0x\(String(b, radix: 16)) (not a byte-level vocabulary)")
            }
            let ignore = model["ignore_merges"]?.bool ?? false
            return BPEModel(tokens: tokens, specials: specials, merges: merges, pattern: pattern, ignoreMerges: ignore)
        }
    }

    /// Reads the root object: `model.vocab` and `model.merges` into byte tables, every other
    /// member as a tree. A key given twice counts once, its last time (as in `JSONTree`).
    private static func streamHuggingFaceJSON(_ parser: inout JSONTree.Parser, path: String) throws -> HuggingFaceParts {
        var parts = HuggingFaceParts()
        try parser.beginObject()
        var first = true
        while try parser.nextMember(&first) {
            let key = String(decoding: try parser.key(), as: UTF8.self)
            parts.root.removeAll { $0.key == key }
            guard key == "model" else {
                parts.root.append((key, try parser.value()))
                continue
            }
            parts.model = nil
            parts.vocab = nil
            parts.merges = ([], [])
            guard parser.peek() == UInt8(ascii: "{") else {
                parts.root.append((key, try parser.value()))   // not an object: "no model object"
                continue
            }
            var members: [(key: String, value: JSONTree)] = []
            try parser.beginObject()
            var firstMember = true
            while try parser.nextMember(&firstMember) {
                let name = String(decoding: try parser.key(), as: UTF8.self)
                members.removeAll { $0.key == name }
                if name == "vocab" && parser.peek() == UInt8(ascii: "{") {
                    parts.vocab = try streamVocab(&parser, path: path)
                } else if name == "merges" && parser.peek() == UInt8(ascii: "[") {
                    parts.merges = try streamMerges(&parser, path: path)
                } else {
                    if name == "vocab" { parts.vocab = nil }
                    if name == "merges" { parts.merges = ([], []) }
                    members.append((name, try parser.value()))
                }
            }
            parts.model = members
        }
        try parser.expectEnd()
        return parts
    }

    private static func streamVocab(_ parser: inout JSONTree.Parser, path: String) throws -> (names: [UInt8], nameEnds: [Int], ids: [UInt32]) {
        var names: [UInt8] = [], ends: [Int] = [], ids: [UInt32] = []
        try parser.beginObject()
        var first = true
        while try parser.nextMember(&first) {
            let name = try parser.key()
            names.append(contentsOf: name)
            ends.append(names.count)
            guard let id = try parser.value().integer(in: 0...Int64(UInt32.max - 1)) else {
                let text = String(decoding: names[(ends.count > 1 ? ends[ends.count - 2] : 0)...], as: UTF8.self)
                throw TokenizerFileError(path, "vocab entry \(text.debugDescription) has no valid id")
            }
            ids.append(UInt32(id))
        }
        return (names, ends, ids)
    }

    /// Merges as `["a", "b"]` pairs or as legacy `"a b"` strings.
    private static func streamMerges(_ parser: inout JSONTree.Parser, path: String) throws -> (bytes: [UInt8], ends: [Int]) {
        var bytes: [UInt8] = [], ends: [Int] = []
        try parser.beginArray()
        var first = true
        var m = 0
        let bad = { (m: Int) in TokenizerFileError(path, "merge \(m) is neither a [\"a\",\"b\"] pair nor an \"a b\" string") }
        while try parser.nextItem(&first) {
            defer { m += 1 }
            switch parser.peek() {
            case UInt8(ascii: "["):
                try parser.beginArray()
                var firstItem = true
                for _ in 0..<2 {
                    guard try parser.nextItem(&firstItem), parser.peek() == UInt8(ascii: "\"") else { throw bad(m) }
                    bytes.append(contentsOf: try parser.stringBytes())
                    ends.append(bytes.count)
                }
                guard try !parser.nextItem(&firstItem) else { throw bad(m) }
            case UInt8(ascii: "\""):
                let legacy = try parser.stringBytes()
                let spaces = legacy.indices.filter { legacy[$0] == UInt8(ascii: " ") }
                guard spaces.count == 1 else {
                    throw TokenizerFileError(path, "merge \(m): \(String(decoding: legacy, as: UTF8.self).debugDescription) is not two tokens")
                }
                bytes.append(contentsOf: legacy[..<spaces[0]])
                ends.append(bytes.count)
                bytes.append(contentsOf: legacy[(spaces[0] + 1)...])
                ends.append(bytes.count)
            default:
                throw bad(m)
            }
        }
        return (bytes, ends)
    }

    /// Maps a `pre_tokenizer` object to one of our hand-written patterns.
    static func detectPattern(_ object: JSONTree?, path: String) throws -> PreTokenizerPattern {
        guard let pre = object, let type = pre["type"]?.string else {
            throw TokenizerFileError(path, "no pre_tokenizer: only byte-level BPE tokenizers are supported")
        }
        if type == "ByteLevel" {
            if pre["add_prefix_space"]?.bool == true {
                throw TokenizerFileError(path, "ByteLevel pre_tokenizer with add_prefix_space=true is not supported")
            }
            return .gpt2
        }
        if type == "Sequence", let list = pre["pretokenizers"]?.array,
           let split = list.first(where: { $0["type"]?.string == "Split" }),
           let regex = split["pattern"]?["Regex"]?.string {
            for p in PreTokenizerPattern.allCases where PreTokenizer(p).regex == regex || p.hfRegex == regex || p.knownVariants.contains(regex) {
                return p
            }
            throw TokenizerFileError(path, "pre_tokenizer regex is not one TokenMill implements (gpt2, cl100k, o200k, llama3): \(regex)")
        }
        throw TokenizerFileError(path, "pre_tokenizer \(type) is not supported (ByteLevel, or Split+ByteLevel with a known pattern)")
    }
}

extension PreTokenizerPattern {
    /// Other spellings of the same pattern found in published tokenizer.json files.
    var knownVariants: [String] {
        switch self {
        case .gpt2:
            return [#"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#]
        case .llama3:
            return [#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#]
        case .cl100k:
            return [#"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"#,
                    #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#]
        case .o200k:
            return []
        }
    }
}
