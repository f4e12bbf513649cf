import Foundation

// The names of tokenizer.json: vocabulary names (byte-level text) looked up by their bytes, and
// strings written as JSON.

/// Vocabulary names (byte-level text) to ids, keyed by their UTF-8 bytes: hashing a `String`
/// normalises it first, which is slow for these mostly non-ASCII names.
struct NameTable {
    private var table: ByteKeyTable
    private var joined: [UInt8] = []

    init(capacity: Int) { table = ByteKeyTable(capacity: max(16, capacity)) }

    private static func withBytes<R>(_ name: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = name.utf8.withContiguousStorageIfAvailable(body) { return r }
        return Array(name.utf8).withUnsafeBufferPointer(body)
    }

    mutating func set(_ name: UnsafeBufferPointer<UInt8>, _ id: UInt32) {
        let p = name.baseAddress ?? UnsafePointer(bitPattern: 1)!
        table.set(p, name.count, UInt64(id), hash: fastHash(p, name.count))
    }

    subscript(name: UnsafeBufferPointer<UInt8>) -> UInt32? {
        table.lookup(name.baseAddress ?? UnsafePointer(bitPattern: 1)!, name.count).map { UInt32(truncatingIfNeeded: $0) }
    }

    subscript(name: String) -> UInt32? {
        Self.withBytes(name) { self[$0] }
    }

    /// Whether `left` followed by `right` is a name.
    mutating func contains(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Bool {
        joined.removeAll(keepingCapacity: true)
        joined.append(contentsOf: left)
        joined.append(contentsOf: right)
        return table.lookup(joined) != nil
    }
}

/// `jsonString` for UTF-8 bytes, appended to `out`.
func appendJSONString(_ utf8: [UInt8], to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for b in utf8 {
        switch b {
        case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
        case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
        case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
        case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
        case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
        case ..<0x20: out.append(contentsOf: String(format: "\\u%04x", UInt32(b)).utf8)
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
}

/// JSON string literal for `s` (quotes, backslashes and control characters escaped).
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                out += String(format: "\\u%04x", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
