import Foundation

// tiktoken's rank file (`.tiktoken`): base64 token bytes and rank per line.

extension BPEModel {
    /// tiktoken's `.tiktoken` text: one `base64(token bytes) rank` line per non-special token,
    /// in rank (id) order. Load it with `tiktoken.Encoding(mergeable_ranks=load_tiktoken_bpe(…))`.
    public func tiktokenFile() -> String {
        var out = ""
        out.reserveCapacity(tokens.count * 16)
        let specialIDs = Set(specials.map(\.id))
        for (id, t) in tokens.enumerated() where !t.isEmpty && !specialIDs.contains(UInt32(id)) {
            out += Data(t).base64EncodedString()
            out += " \(id)\n"
        }
        return out
    }

    /// Reads a tiktoken rank file. Ranks become ids; `specials` are added with their own ids.
    public static func loadTiktoken(_ data: Data, path: String, pattern: PreTokenizerPattern,
                                    specials: [SpecialToken]) throws -> BPEModel {
        // One pass over the bytes: base64 decoded by hand and tokens checked for repeats in a
        // `ByteKeyTable` (no string per line for Foundation's decoder, no array per token for a
        // `Set<[UInt8]>`).
        var tokens: [[UInt8]] = []
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var seen = ByteKeyTable(capacity: Swift.max(256, data.count / 16))  // ~16 bytes a line; it grows
            var token: [UInt8] = []
            let lines = bytes.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } + 1
            var lineNumber = 0
            var start = 0
            while start < bytes.count {
                lineNumber += 1
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                defer { start = end + 1 }
                var last = end
                if last > start && bytes[last - 1] == UInt8(ascii: "\r") { last -= 1 }
                if last == start { continue }
                let line = UnsafeBufferPointer(rebasing: bytes[start..<last])
                guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                      Base64.decode(UnsafeBufferPointer(rebasing: line[..<space]), into: &token),
                      let rank = Self.decimal(UnsafeBufferPointer(rebasing: line[(space + 1)...])), rank < Int(UInt32.max) else {
                    throw TokenizerFileError("\(path):\(lineNumber)", "expected \"<base64 token> <rank>\"")
                }
                if rank >= tokens.count {
                    // Ranks usually come in order, a line each: room for as many as there are lines.
                    if rank >= tokens.capacity { tokens.reserveCapacity(Swift.max(rank + 1, lines)) }
                    tokens.append(contentsOf: repeatElement([], count: rank + 1 - tokens.count))
                }
                if !tokens[rank].isEmpty { throw TokenizerFileError("\(path):\(lineNumber)", "rank \(rank) appears twice") }
                let repeated = token.isEmpty || token.withUnsafeBufferPointer { t in
                    let h = fastHash(t.baseAddress!, t.count)
                    if seen.lookup(t.baseAddress!, t.count, hash: h) != nil { return true }
                    seen.set(t.baseAddress!, t.count, UInt64(rank), hash: h)
                    return false
                }
                if repeated { throw TokenizerFileError("\(path):\(lineNumber)", "token is empty or appears twice") }
                tokens[rank] = token
            }
        }
        if tokens.isEmpty { throw TokenizerFileError(path, "empty rank file") }
        for s in specials {
            if Int(s.id) < tokens.count && !tokens[Int(s.id)].isEmpty {
                throw TokenizerFileError(path, "special token \(s.text) id \(s.id) is also the rank of a token")
            }
            if Int(s.id) >= tokens.count { tokens += [[UInt8]](repeating: [], count: Int(s.id) + 1 - tokens.count) }
            tokens[Int(s.id)] = Array(s.text.utf8)
        }
        var singles = 0
        for t in tokens where t.count == 1 { singles += 1 }
        if singles < 256 { throw TokenizerFileError(path, "only \(singles) of the 256 single-byte tokens are present (not a byte-level vocabulary)") }
        return BPEModel(tokens: tokens, specials: specials, merges: nil, pattern: pattern)
    }
}

extension BPEModel {
    /// A rank: decimal digits only, nil otherwise (or beyond 10 digits).
    static func decimal(_ digits: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 10 else { return nil }
        var value = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(d - UInt8(ascii: "0"))
        }
        return value
    }
}
