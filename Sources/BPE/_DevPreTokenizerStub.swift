// TEMPORARY development stub (GPT-2 pattern only, naive). Replaced by the pretok branch.
public enum PreTokenizerPattern: String, Sendable, CaseIterable, Codable { case gpt2, cl100k, o200k, llama3 }

public struct PreTokenizer: Sendable {
    public let pattern: PreTokenizerPattern
    public init(_ pattern: PreTokenizerPattern) { self.pattern = pattern }
    public var regex: String { "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+" }

    enum K { case l, n, s, o }
    static func kind(_ v: UInt32) -> K {
        guard let u = Unicode.Scalar(v) else { return .o }
        let p = u.properties
        if p.isWhitespace { return .s }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .l
        case .decimalNumber, .letterNumber, .otherNumber: return .n
        default: return .o
        }
    }

    public func split(_ text: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        // decode scalars with byte offsets; invalid bytes are 'other' of length 1
        var starts: [Int] = [], vals: [UInt32] = [], kinds: [K] = []
        var i = 0
        let n = text.count
        while i < n {
            let b = text[i]
            var len = 1, v = UInt32(b)
            if b >= 0xC0 {
                let need = b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : 2)
                if i + need <= n {
                    let s = Array(String(decoding: UnsafeBufferPointer(rebasing: text[i..<(i + need)]), as: UTF8.self).unicodeScalars)
                    if s.count == 1, s[0].value != 0xFFFD { v = s[0].value; len = need }
                }
            }
            starts.append(i); vals.append(v); kinds.append(b >= 0x80 && len == 1 ? .o : PreTokenizer.kind(v))
            i += len
        }
        starts.append(n)
        let m = vals.count
        var p = 0
        while p < m {
            let start = p
            // contractions
            if vals[p] == 0x27, p + 1 < m {
                let c1 = vals[p + 1]
                if [0x73, 0x74, 0x6D, 0x64].contains(c1) { body(starts[p], starts[p + 2]); p += 2; continue }
                if p + 2 < m {
                    let c2 = vals[p + 2]
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                        body(starts[p], starts[p + 3]); p += 3; continue
                    }
                }
            }
            var q = p
            if vals[q] == 0x20 && q + 1 < m && kinds[q + 1] != .s { q += 1 }
            let k = kinds[q]
            if k == .l || k == .n || (k == .o) {
                if kinds[q] == .s { } else {
                    var r = q
                    while r < m && kinds[r] == k { r += 1 }
                    body(starts[start], starts[r]); p = r; continue
                }
            }
            // whitespace
            var r = p
            while r < m && kinds[r] == .s { r += 1 }
            if r < m && r - p > 1 { r -= 1 }
            body(starts[p], starts[r]); p = r
        }
    }
    public func pieces(_ text: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        text.withUnsafeBufferPointer { b in split(b) { out.append(Array(b[$0..<$1])) } }
        return out
    }
}
