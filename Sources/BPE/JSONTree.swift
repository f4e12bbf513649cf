import Foundation

/// A small JSON reader for tokenizer files: bytes → a tree of `JSONTree` values.
///
/// Foundation's `JSONSerialization` builds bridged dictionaries and needs a dynamic cast per
/// value, slow for a tokenizer.json (a vocabulary object and a merges array of 8k–200k entries
/// each) that a command reads before it starts. This parser keeps objects as ordered
/// key/value arrays and strings as Swift strings, and reports errors with their byte offset.
///
///     let tree = try JSONTree.parse(Array(#"{"a": [1, "x"]}"#.utf8))
///     tree["a"]?[1]?.string == "x"
package enum JSONTree {
    case object([(key: String, value: JSONTree)])
    case array([JSONTree])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    package struct SyntaxError: Error, CustomStringConvertible {
        package var offset: Int
        package var message: String
        package var description: String { "\(message) at byte \(offset)" }
    }

    /// Parses one JSON value (RFC 8259), with only whitespace around it (and a UTF-8 byte order
    /// mark before it, which some editors write). Strings must be valid UTF-8 and may not hold
    /// lone surrogate escapes; nesting is limited to 512 levels.
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> JSONTree {
        var parser = Parser(bytes.bindMemory(to: UInt8.self))
        parser.skipByteOrderMark()
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        try parser.expectEnd()
        return value
    }

    package static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONTree {
        let result: Result<JSONTree, SyntaxError> = bytes.withUnsafeBytes { raw in
            do throws(SyntaxError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    // MARK: access

    /// The value of `key` in an object (the last one if the key repeats), else nil.
    package subscript(key: String) -> JSONTree? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    package subscript(index: Int) -> JSONTree? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    package var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    package var number: Double? {
        if case .number(let n) = self { return n }
        return nil
    }

    package var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    package var array: [JSONTree]? {
        if case .array(let items) = self { return items }
        return nil
    }

    package var members: [(key: String, value: JSONTree)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// A number that is a whole value in `range`.
    package func integer(in range: ClosedRange<Int64>) -> Int64? {
        guard let n = number, n.rounded() == n, n >= Double(range.lowerBound), n <= Double(range.upperBound) else { return nil }
        return Int64(n)
    }
}
