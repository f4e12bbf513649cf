// The fast pre-tokenizers: one hand-written scanner per regex, over raw UTF-8 bytes.
//
// Each scanner stands at the start of a piece and decides, in the order of the regex's
// alternatives, which one matches first and where it ends, as a backtracking engine would. The
// comments name the alternative each branch implements; PreTokenizer+Reference.swift is the regex
// transcribed literally, and the tests hold the two equal on random input.
//
// Whitespace runs are the only place where the regexes backtrack; one pass over the run records
// what every whitespace alternative needs:
//   `\s+(?!\S)`      the run minus its last character, unless the run ends the text (then all of it);
//                    a run of one character before a non-space fails, and `\s+` / `\s` takes it;
//   `\s*[\r\n]`(+)   the run up to and including its last \r or \n;
//   `\s++$`          the run, if it ends the text.

/// Scans one text. Flags are those of `UnicodeClass` (letter 1, number 2, space 4, upper 8, lower 16).
///
/// Safety: `text` points to `end` readable bytes for the life of the scanner (the caller's buffer);
/// every read is at an index below `end`, checked before the read.
@usableFromInline
struct PreTokenizerScanner {
    @usableFromInline let text: UnsafePointer<UInt8>
    @usableFromInline let end: Int
    @usableFromInline let table: UnicodeClassTable

    @inlinable static var letter: UInt8 { 1 }
    @inlinable static var number: UInt8 { 2 }
    @inlinable static var space: UInt8 { 4 }
    @inlinable static var upper: UInt8 { 8 }
    @inlinable static var lower: UInt8 { 16 }
    /// Letter, number or space: a character with none of them is what `[^\s\p{L}\p{N}]` matches.
    @inlinable static var notOther: UInt8 { 7 }

    @inlinable
    init(text: UnsafePointer<UInt8>, end: Int, table: UnicodeClassTable) {
        self.text = text
        self.end = end
        self.table = table
    }

    // MARK: Building blocks

    @inlinable @inline(__always)
    func classify(_ i: Int) -> (flags: UInt8, length: Int) { table.classify(text, i, end) }

    /// The end of the run from `i` of characters with any of `mask`'s flags.
    @inlinable @inline(__always)
    func skip(from i: Int, whileAny mask: UInt8) -> Int { skip(from: i, mask, present: true) }

    /// The end of the run of letters (`\p{L}`) from `i`.
    @inlinable @inline(__always)
    func skipLetters(from i: Int) -> Int {
        skip(from: skipASCIILetters(from: i, lowercaseOnly: false), Self.letter, present: true)
    }

    /// The end of the run of o200k's W = [\p{Ll}\p{Lm}\p{Lo}\p{M}] from `i`.
    @inlinable @inline(__always)
    func skipLower(from i: Int) -> Int {
        skip(from: skipASCIILetters(from: i, lowercaseOnly: true), Self.lower, present: true)
    }

    /// The end of the run from `i` of characters with none of `mask`'s flags.
    @inlinable @inline(__always)
    func skip(from i: Int, whileNone mask: UInt8) -> Int { skip(from: i, mask, present: false) }

    /// The end of the run from `i` of characters for which `flags & mask != 0` is `present`.
    @inlinable @inline(__always)
    func skip(from i: Int, _ mask: UInt8, present: Bool) -> Int {
        var j = i
        while j < end {
            let byte = text[j]
            if byte < 0x80 {
                if (table.blocks[Int(byte)] & mask != 0) != present { break }
                j &+= 1
            } else {
                let (flags, length) = table.classifyMultibyte(text, j, end)
                if (flags & mask != 0) != present { break }
                j &+= length
            }
        }
        return j
    }

    /// Skips ASCII letters (`[A-Za-z]`, or `[a-z]` when `lowercaseOnly`) eight bytes at a time and
    /// returns where the run of them ends (or where fewer than eight bytes are left). Words are short,
    /// so the win is less the bytes than the branch: a byte loop mispredicts at nearly every word's
    /// end, this finds the end by arithmetic. The byte loop after it handles the rest.
    @inlinable @inline(__always)
    func skipASCIILetters(from i: Int, lowercaseOnly: Bool) -> Int {
        let high: UInt64 = 0x8080_8080_8080_8080
        var j = i
        while j &+ 8 <= end {
            let x = UInt64(littleEndian: UnsafeRawPointer(text + j).loadUnaligned(as: UInt64.self))
            // Per byte: y = the byte (folded to lower case unless lowercaseOnly) without its top bit;
            // y + 0x1F sets the top bit iff y >= 0x61 ("a"), y + 0x05 iff y >= 0x7B (past "z").
            // No carry crosses a byte because y <= 0x7F.
            let y = (lowercaseOnly ? x : x | 0x2020_2020_2020_2020) & ~high
            let letters = (y &+ 0x1F1F_1F1F_1F1F_1F1F) & ~(y &+ 0x0505_0505_0505_0505) & ~x & high
            let stops = ~letters & high
            if stops != 0 { return j &+ stops.trailingZeroBitCount &>> 3 }
            j &+= 8
        }
        return j
    }

    /// The end of `[\r\n]*` (or `[\r\n/]*` when `slash`) from `i`.
    @inlinable @inline(__always)
    func skipNewlines(from i: Int, slash: Bool) -> Int {
        var j = i
        while j < end {
            let byte = text[j]
            guard byte == 0x0A || byte == 0x0D || (slash && byte == 0x2F) else { break }
            j &+= 1
        }
        return j
    }

    /// `\p{N}{1,3}` at `i`, whose first character (`length` bytes) is known to be a number.
    @inlinable @inline(__always)
    func numberEnd(_ i: Int, _ length: Int) -> Int {
        var j = i &+ length, count = 1
        while count < 3 && j < end {
            let (flags, length) = classify(j)
            if flags & Self.number == 0 { break }
            j &+= length
            count &+= 1
        }
        return j
    }

    /// The whitespace run from `i`: its end, the start of its last character, and the end of its
    /// last \r or \n (0 if none).
    @inlinable @inline(__always)
    func whitespaceRun(_ i: Int) -> (end: Int, lastStart: Int, newlineEnd: Int) {
        var j = i, lastStart = i, newlineEnd = 0
        while j < end {
            let byte = text[j]
            if byte < 0x80 {
                if table.blocks[Int(byte)] & Self.space == 0 { break }
                lastStart = j
                j &+= 1
                if byte == 0x0A || byte == 0x0D { newlineEnd = j }
            } else {
                let (flags, length) = table.classifyMultibyte(text, j, end)
                if flags & Self.space == 0 { break }
                lastStart = j
                j &+= length
            }
        }
        return (j, lastStart, newlineEnd)
    }

    /// `\s+(?!\S)|\s+` (or `|\s`) at `i`, given the run: the whole run at the end of the text,
    /// else all but its last character, else (one character before a non-space) that character.
    @inlinable @inline(__always)
    func spacesBeforeNonSpace(_ i: Int, _ run: (end: Int, lastStart: Int, newlineEnd: Int)) -> Int {
        if run.end == end { return end }
        return run.lastStart > i ? run.lastStart : run.end
    }

    /// The end of `'s|'t|'re|'ve|'m|'ll|'d` at `i` (where `text[i]` is an apostrophe), or -1.
    /// Case-sensitive, as GPT-2 has it.
    @inlinable @inline(__always)
    func contraction(_ i: Int) -> Int {
        guard i &+ 1 < end else { return -1 }
        switch text[i &+ 1] {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return i &+ 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return i &+ 2 < end && text[i &+ 2] == UInt8(ascii: "e") ? i &+ 3 : -1
        case UInt8(ascii: "l"):
            return i &+ 2 < end && text[i &+ 2] == UInt8(ascii: "l") ? i &+ 3 : -1
        default: return -1
        }
    }

    /// The end of `'(?i:[sdmt]|ll|ve|re)` at `i` (where `text[i]` is an apostrophe), or -1.
    /// Case-insensitive by simple case folding: only `s` has a non-ASCII twin, U+017F `ſ` (C5 BF).
    @inlinable @inline(__always)
    func caselessContraction(_ i: Int) -> Int {
        guard i &+ 1 < end else { return -1 }
        let first = text[i &+ 1]
        switch first | 0x20 {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return i &+ 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
            guard i &+ 2 < end else { return -1 }
            let want = first | 0x20 == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return text[i &+ 2] | 0x20 == want ? i &+ 3 : -1
        case 0xE5:   // 0xC5 | 0x20: check for ſ exactly
            return first == 0xC5 && i &+ 2 < end && text[i &+ 2] == 0xBF ? i &+ 3 : -1
        default: return -1
        }
    }

    // MARK: GPT-2

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    @inlinable
    func gpt2(_ body: (Int, Int) -> Void) {
        var i = 0
        while i < end {
            let (flags, length) = classify(i)
            var j: Int
            if flags & Self.letter != 0 {                                    // \p{L}+
                j = skipLetters(from: i &+ length)
            } else if flags & Self.number != 0 {                             // \p{N}+
                j = skip(from: i &+ length, whileAny: Self.number)
            } else if flags & Self.space == 0 {
                j = text[i] == 0x27 ? contraction(i) : -1                    // 's|'t|…
                if j < 0 { j = skip(from: i &+ length, whileNone: Self.notOther) }   // [^\s\p{L}\p{N}]+
            } else {
                j = -1
                if text[i] == 0x20 && i &+ 1 < end {                        // " ?" then a class
                    let (next, nextLength) = classify(i &+ 1)
                    if next & Self.letter != 0 {
                        j = skipLetters(from: i &+ 1 &+ nextLength)
                    } else if next & Self.number != 0 {
                        j = skip(from: i &+ 1 &+ nextLength, whileAny: Self.number)
                    } else if next & Self.space == 0 {
                        j = skip(from: i &+ 1 &+ nextLength, whileNone: Self.notOther)
                    }
                }
                if j < 0 { j = spacesBeforeNonSpace(i, whitespaceRun(i)) }   // \s+(?!\S)|\s+
            }
            body(i, j)
            i = j
        }
    }

    // MARK: cl100k and Llama 3

    /// cl100k: `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    ///
    /// The two differ only in cl100k's `\s++$`, which takes a final whitespace run whole even when it
    /// holds a newline (`whitespaceAtEndWhole`); the possessive quantifiers never change a match here.
    @inlinable
    func tiktoken(_ body: (Int, Int) -> Void, whitespaceAtEndWhole: Bool) {
        var i = 0
        while i < end {
            let byte = text[i]
            let (flags, length) = classify(i)
            var j = byte == 0x27 ? caselessContraction(i) : -1               // contractions
            if j >= 0 {
            } else if flags & Self.letter != 0 {                             // \p{L}+
                j = skipLetters(from: i &+ length)
            } else if flags & Self.number != 0 {                             // \p{N}{1,3}
                j = numberEnd(i, length)
            } else {
                // Space or other; `[^\r\n\p{L}\p{N}]?\p{L}+` takes it as a prefix of a word.
                let next = i &+ length < end ? classify(i &+ length) : (flags: UInt8(0), length: 0)
                if next.flags & Self.letter != 0 && byte != 0x0A && byte != 0x0D {
                    j = skipLetters(from: i &+ length &+ next.length)
                } else if flags & Self.space == 0 {                          // [^\s\p{L}\p{N}]+[\r\n]*
                    j = skipNewlines(from: skip(from: i &+ length, whileNone: Self.notOther), slash: false)
                } else if byte == 0x20 && next.length > 0 && next.flags & Self.notOther == 0 {   // " " + the same
                    j = skipNewlines(from: skip(from: i &+ 1 &+ next.length, whileNone: Self.notOther), slash: false)
                } else {
                    let run = whitespaceRun(i)
                    if whitespaceAtEndWhole && run.end == end {              // \s++$
                        j = end
                    } else if run.newlineEnd > 0 {                           // \s*[\r\n]
                        j = run.newlineEnd
                    } else {                                                 // \s+(?!\S)|\s
                        j = spacesBeforeNonSpace(i, run)
                    }
                }
            }
            body(i, j)
            i = j
        }
    }

    // MARK: o200k

    /// The end of a word at `p` by the first two alternatives of o200k, without their prefix and
    /// contraction, when the character at `p` is in U: `a` for `U*W+` (-1 if it fails), `b` for
    /// `U+W*` when `U*W+` fails, where U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and W = [\p{Ll}\p{Lm}\p{Lo}\p{M}].
    /// (A word that starts with an Ll, in W only, is just `W+`: the callers handle that case.)
    ///
    /// Greedy `U*` takes the U-run; if an Ll (W but not U) follows, `W+` takes the W-run from there.
    /// Otherwise `U*` gives back characters until one in both sets (Lm, Lo, M) is left for `W+`,
    /// which then cannot go further; if there is none, only `U+W*` matches, and it takes the U-run.
    @inlinable
    func o200kUpperWord(_ p: Int) -> (a: Int, b: Int) {
        var q = p, lastBothEnd = -1
        while q < end {
            let (flags, length) = classify(q)
            if flags & Self.upper == 0 {
                if flags & Self.lower != 0 { return (skipLower(from: q &+ length), -1) }
                break
            }
            q &+= length
            if flags & Self.lower != 0 { lastBothEnd = q }
        }
        return (lastBothEnd, q > p ? q : -1)
    }

    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|`
    /// `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|`
    /// `\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    @inlinable
    func o200k(_ body: (Int, Int) -> Void) {
        var i = 0
        while i < end {
            let byte = text[i]
            let (flags, length) = classify(i)
            var j = -1
            if flags & Self.letter != 0 {                                    // a word, no prefix
                if flags & Self.upper == 0 {
                    j = skipLower(from: i &+ length)
                } else {
                    let word = o200kUpperWord(i)
                    j = word.a >= 0 ? word.a : word.b
                }
            } else if flags & Self.number == 0 && byte != 0x0A && byte != 0x0D {
                // Prefix candidate. The regex tries: 1st alternative with the prefix, without it
                // (only a mark can start a word), 2nd alternative with the prefix, without it.
                var word = (a: -1, b: -1)
                if i &+ length < end {
                    let next = classify(i &+ length)
                    if next.flags & Self.upper != 0 {
                        word = o200kUpperWord(i &+ length)
                    } else if next.flags & Self.lower != 0 {
                        word.a = skipLower(from: i &+ length &+ next.length)
                    }
                }
                if word.a >= 0 {
                    j = word.a
                } else if flags & Self.upper != 0 {                          // a mark starts the word
                    j = o200kUpperWord(i).a
                } else {
                    j = word.b
                }
            }
            if j >= 0 {                                                      // (?i:'s|…)?
                if j < end && text[j] == 0x27 {
                    let c = caselessContraction(j)
                    if c >= 0 { j = c }
                }
            } else if flags & Self.number != 0 {                             // \p{N}{1,3}
                j = numberEnd(i, length)
            } else if flags & Self.notOther == 0 {                           // [^\s\p{L}\p{N}]+[\r\n/]*
                j = skipNewlines(from: skip(from: i &+ length, whileNone: Self.notOther), slash: true)
            } else {
                if byte == 0x20 && i &+ 1 < end {                           // " " + the same
                    let next = classify(i &+ 1)
                    if next.flags & Self.notOther == 0 {
                        j = skipNewlines(from: skip(from: i &+ 1 &+ next.length, whileNone: Self.notOther),
                                         slash: true)
                    }
                }
                if j < 0 {
                    let run = whitespaceRun(i)
                    j = run.newlineEnd > 0 ? run.newlineEnd : spacesBeforeNonSpace(i, run)   // \s*[\r\n]+ | \s+(?!\S) | \s+
                }
            }
            body(i, j)
            i = j
        }
    }
}
