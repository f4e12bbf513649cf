/// Standard base64 (RFC 4648, `+` `/`, `=` padding), as tiktoken's rank files write tokens.
package enum Base64 {
    static let value: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Decodes `text` into `out` (replacing it); false when it is not base64: a length that is
    /// not a multiple of 4, a character outside the alphabet, or padding anywhere but at the end.
    package static func decode(_ text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        guard text.count % 4 == 0 else { return false }
        var i = 0
        while i < text.count {
            let a = value[Int(text[i])], b = value[Int(text[i + 1])]
            let lastGroup = i + 4 == text.count
            let c3 = text[i + 2], c4 = text[i + 3]
            guard a != 0xFF, b != 0xFF else { return false }
            out.append(a << 2 | b >> 4)
            if lastGroup && c3 == UInt8(ascii: "=") {
                guard c4 == UInt8(ascii: "=") else { return false }
                return true
            }
            let c = value[Int(c3)]
            guard c != 0xFF else { return false }
            out.append(b << 4 | c >> 2)
            if lastGroup && c4 == UInt8(ascii: "=") { return true }
            let d = value[Int(c4)]
            guard d != 0xFF else { return false }
            out.append(c << 6 | d)
            i += 4
        }
        return true
    }
}
