// The slow twin of the pre-tokenizers: each regex written down literally as a tree, and a small
// backtracking matcher that runs it the way Perl-style engines do (leftmost alternative first,
// greedy quantifiers, possessive ones that never give back, `$` at the end of the text only).
//
// It is obviously right rather than fast (quadratic on long whitespace runs, closures everywhere):
// the tests compare it with the hand-written scanners on random input, and `PreTokenizer.regex`
// is rendered from these trees, so the text the peers run and the tree we run are one.

/// A regex syntax tree, as much of it as the pre-tokenizer patterns use.
package indirect enum RegexNode: Sendable {
    /// One literal character.
    case character(Unicode.Scalar)
    /// A character class, rendered as `text`, matched by `matches(scalar, class)`; an invalid UTF-8
    /// byte has no scalar and no class.
    case characterClass(String, @Sendable (Unicode.Scalar?, UnicodeClass) -> Bool)
    case sequence([RegexNode])
    case choice([RegexNode])
    /// Greedy repetition; `possessive` never gives back (`?+`, `*+`, `++`, `{m,n}+`).
    case repetition(RegexNode, min: Int, max: Int?, possessive: Bool)
    /// `(?i:…)`: letters match by simple case folding.
    case caseless(RegexNode)
    /// `(?!…)`
    case notFollowedBy(RegexNode)
    /// `$` without multi-line mode: the end of the text.
    case endOfText

    /// The regex text.
    package var rendered: String { render(grouped: false) }

    private func render(grouped: Bool) -> String {
        switch self {
        case .character(let scalar):
            switch scalar {
            case "\r": return "\\r"
            case "\n": return "\\n"
            case "\\", "|", "(", ")", "[", "]", "{", "}", "?", "*", "+", ".", "^", "$": return "\\\(scalar)"
            default: return String(scalar)
            }
        case .characterClass(let text, _): return text
        case .sequence(let items): return items.map { $0.render(grouped: true) }.joined()
        case .choice(let items):
            let inner = items.map { $0.render(grouped: false) }.joined(separator: "|")
            return grouped ? "(?:\(inner))" : inner
        case .repetition(let item, let min, let max, let possessive):
            var operand = item.render(grouped: true)
            if case .sequence(let items) = item, items.count > 1 { operand = "(?:\(operand))" }
            let quantifier: String
            switch (min, max) {
            case (0, 1?): quantifier = "?"
            case (0, nil): quantifier = "*"
            case (1, nil): quantifier = "+"
            case (_, let max?): quantifier = min == max ? "{\(min)}" : "{\(min),\(max)}"
            case (_, nil): quantifier = "{\(min),}"
            }
            return operand + quantifier + (possessive ? "+" : "")
        case .caseless(let item): return "(?i:\(item.render(grouped: false)))"
        case .notFollowedBy(let item): return "(?!\(item.render(grouped: false)))"
        case .endOfText: return "$"
        }
    }
}

/// The four patterns as trees, and the slow matcher that runs them.
package enum PreTokenizerReference {
    // A small vocabulary for writing the patterns down.
    private static func text(_ s: String) -> RegexNode {
        let scalars = s.unicodeScalars.map { RegexNode.character($0) }
        return scalars.count == 1 ? scalars[0] : .sequence(scalars)
    }
    private static func optional(_ n: RegexNode, possessive: Bool = false) -> RegexNode {
        .repetition(n, min: 0, max: 1, possessive: possessive)
    }
    private static func star(_ n: RegexNode, possessive: Bool = false) -> RegexNode {
        .repetition(n, min: 0, max: nil, possessive: possessive)
    }
    private static func plus(_ n: RegexNode, possessive: Bool = false) -> RegexNode {
        .repetition(n, min: 1, max: nil, possessive: possessive)
    }
    private static func set(_ text: String, _ test: @escaping @Sendable (Unicode.Scalar?, UnicodeClass) -> Bool) -> RegexNode {
        .characterClass(text, test)
    }
    private static func isNewline(_ s: Unicode.Scalar?) -> Bool { s == "\r" || s == "\n" }

    private static let L = set(#"\p{L}"#) { $1.contains(.letter) }
    private static let N = set(#"\p{N}"#) { $1.contains(.number) }
    private static let S = set(#"\s"#) { $1.contains(.space) }
    private static let notS = set(#"\S"#) { !$1.contains(.space) }
    private static let other = set(#"[^\s\p{L}\p{N}]"#) { $1.isDisjoint(with: [.space, .letter, .number]) }
    private static let prefix = set(#"[^\r\n\p{L}\p{N}]"#) { !isNewline($0) && $1.isDisjoint(with: [.letter, .number]) }
    private static let newline = set(#"[\r\n]"#) { s, _ in isNewline(s) }
    private static let newlineOrSlash = set(#"[\r\n/]"#) { s, _ in isNewline(s) || s == "/" }
    private static let upperish = set(#"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"#) { $1.contains(.upper) }
    private static let lowerish = set(#"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"#) { $1.contains(.lower) }
    private static let contractions = RegexNode.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map(text))

    /// The tree of `pattern`.
    package static func regex(_ pattern: PreTokenizerPattern) -> RegexNode {
        switch pattern {
        case .gpt2:
            return .choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map(text) + [
                .sequence([optional(text(" ")), plus(L)]),
                .sequence([optional(text(" ")), plus(N)]),
                .sequence([optional(text(" ")), plus(other)]),
                .sequence([plus(S), .notFollowedBy(notS)]),
                plus(S),
            ])
        case .cl100k:
            return .choice([
                .sequence([text("'"), .caseless(.choice([set("[sdmt]") { s, _ in "sdmt".unicodeScalars.contains { $0 == s } },
                                                         text("ll"), text("ve"), text("re")]))]),
                .sequence([optional(prefix, possessive: true), plus(L, possessive: true)]),
                .repetition(N, min: 1, max: 3, possessive: true),
                .sequence([optional(text(" ")), plus(other, possessive: true), star(newline, possessive: true)]),
                .sequence([plus(S, possessive: true), .endOfText]),
                .sequence([star(S), newline]),
                .sequence([plus(S), .notFollowedBy(notS)]),
                S,
            ])
        case .o200k:
            return .choice([
                .sequence([optional(prefix), star(upperish), plus(lowerish), optional(.caseless(contractions))]),
                .sequence([optional(prefix), plus(upperish), star(lowerish), optional(.caseless(contractions))]),
                .repetition(N, min: 1, max: 3, possessive: false),
                .sequence([optional(text(" ")), plus(other), star(newlineOrSlash)]),
                .sequence([star(S), plus(newline)]),
                .sequence([plus(S), .notFollowedBy(notS)]),
                plus(S),
            ])
        case .llama3:
            return .choice([
                .caseless(contractions),
                .sequence([optional(prefix), plus(L)]),
                .repetition(N, min: 1, max: 3, possessive: false),
                .sequence([optional(text(" ")), plus(other), star(newline)]),
                .sequence([star(S), plus(newline)]),
                .sequence([plus(S), .notFollowedBy(notS)]),
                plus(S),
            ])
        }
    }

    /// The byte ranges of the successive matches of `pattern` in `text`, as a regex engine's
    /// find-all reports them (a position where nothing matches is skipped, leaving a gap).
    package static func matches(_ pattern: PreTokenizerPattern, _ text: [UInt8]) -> [Range<Int>] {
        let matcher = Matcher(text)
        let root = regex(pattern)
        var out: [Range<Int>] = []
        var position = 0
        while position < matcher.count {
            var found = -1
            _ = matcher.match(root, position, caseless: false) { end in found = end; return true }
            if found > position {
                out.append(matcher.offsets[position]..<matcher.offsets[found])
                position = found
            } else {
                position += 1
            }
        }
        return out
    }

    /// Decodes UTF-8 the plain way (an ill-formed byte is a character of its own with no scalar),
    /// then matches over characters with continuations: `match(node, at, then)` is true when `node`
    /// matches at `at` and `then(end)` accepts some end, trying ends in the engine's order.
    private struct Matcher {
        var scalars: [Unicode.Scalar?] = []
        var classes: [UnicodeClass] = []
        var offsets: [Int] = []   // byte offset of each character, plus the text length
        var count: Int { scalars.count }

        init(_ text: [UInt8]) {
            var i = 0
            while i < text.count {
                offsets.append(i)
                let (scalar, length) = Self.decode(text, i)
                scalars.append(scalar)
                classes.append(scalar.map { UnicodeClass.bySearch($0.value) } ?? [])
                i += length
            }
            offsets.append(text.count)
        }

        /// The scalar at `i` and its length, or nil and 1 when the bytes there are not well-formed.
        static func decode(_ text: [UInt8], _ i: Int) -> (Unicode.Scalar?, Int) {
            let lead = text[i]
            let length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0
            guard length > 0, i + length <= text.count else { return (nil, 1) }
            var value = length == 1 ? UInt32(lead) : UInt32(lead) & (0xFF >> (length + 1))
            for k in 1..<length {
                let byte = text[i + k]
                guard byte & 0xC0 == 0x80 else { return (nil, 1) }
                value = value << 6 | UInt32(byte & 0x3F)
            }
            let shortest: UInt32 = [0, 0, 0x80, 0x800, 0x10000][length]
            guard value >= shortest, let scalar = Unicode.Scalar(value) else { return (nil, 1) }
            return (scalar, length)
        }

        /// The scalars equal to `scalar` under simple case folding (its orbit under one-scalar
        /// upper-, lower- and title-case mappings): `s`, `S` and `ſ` for any of them.
        static func caseVariants(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
            var out = [scalar], k = 0
            while k < out.count {
                let p = out[k].properties
                k += 1
                for mapping in [p.lowercaseMapping, p.uppercaseMapping, p.titlecaseMapping] {
                    let mapped = Array(mapping.unicodeScalars)
                    if mapped.count == 1 && !out.contains(mapped[0]) { out.append(mapped[0]) }
                }
            }
            return out
        }

        func matchOne(_ node: RegexNode, _ at: Int, caseless: Bool) -> Bool {
            guard at < count else { return false }
            let candidates: [Unicode.Scalar?] = caseless ? scalars[at].map(Self.caseVariants) ?? [nil] : [scalars[at]]
            switch node {
            case .character(let c): return candidates.contains { $0 == c }
            case .characterClass(_, let test): return candidates.contains { test($0, classes[at]) }
            default: return false
            }
        }

        func match(_ node: RegexNode, _ at: Int, caseless: Bool, _ then: (Int) -> Bool) -> Bool {
            switch node {
            case .character, .characterClass:
                return matchOne(node, at, caseless: caseless) && then(at + 1)
            case .sequence(let items):
                return matchSequence(items[...], at, caseless: caseless, then)
            case .choice(let items):
                for item in items where match(item, at, caseless: caseless, then) { return true }
                return false
            case .repetition(let item, let min, let max, let possessive):
                if possessive {
                    var end = -1
                    _ = match(.repetition(item, min: min, max: max, possessive: false), at, caseless: caseless) {
                        end = $0
                        return true
                    }
                    return end >= 0 && then(end)
                }
                return repeatGreedy(item, at, done: 0, min: min, max: max, caseless: caseless, then)
            case .caseless(let item):
                return match(item, at, caseless: true, then)
            case .notFollowedBy(let item):
                return !match(item, at, caseless: caseless) { _ in true } && then(at)
            case .endOfText:
                return at == count && then(at)
            }
        }

        func matchSequence(_ items: ArraySlice<RegexNode>, _ at: Int, caseless: Bool, _ then: (Int) -> Bool) -> Bool {
            guard let first = items.first else { return then(at) }
            return match(first, at, caseless: caseless) { matchSequence(items.dropFirst(), $0, caseless: caseless, then) }
        }

        func repeatGreedy(_ item: RegexNode, _ at: Int, done: Int, min: Int, max: Int?,
                          caseless: Bool, _ then: (Int) -> Bool) -> Bool {
            switch item {
            case .character, .characterClass:
                // One character per step: count them all, then give back one at a time.
                var n = 0
                while max.map({ done + n < $0 }) ?? true, matchOne(item, at + n, caseless: caseless) { n += 1 }
                var k = n
                while k >= 0 && done + k >= min {
                    if then(at + k) { return true }
                    k -= 1
                }
                return false
            default:
                if max.map({ done < $0 }) ?? true {
                    let more = match(item, at, caseless: caseless) { end in
                        end > at && repeatGreedy(item, end, done: done + 1, min: min, max: max, caseless: caseless, then)
                    }
                    if more { return true }
                }
                return done >= min && then(at)
            }
        }
    }
}
