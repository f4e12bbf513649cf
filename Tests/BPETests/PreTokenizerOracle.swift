// Inputs and Python oracles for the pre-tokenizer tests.
import BPE
import Foundation
import TestSupport

/// The peers' splits of many texts, from one Python process per pattern.
///
/// - `hf`: Hugging Face tokenizers (Oniguruma). For gpt2 its `ByteLevel(add_prefix_space=False,
///   use_regex=True)` pre-tokenizer (our reference), for the others `Split(Regex(pattern), "isolated")`,
///   with cl100k's `\p{N}{1,3}+` written `\p{N}{1,3}` (see `onigurumaReadsIntervalPlusAsRepeat`).
/// - `regex`: Python's `regex` module, `finditer` of the same pattern text.
/// - `tiktoken`: tiktoken's fancy-regex, with the pattern as tiktoken spells it (r50k for gpt2).
///   tiktoken reports tokens, not pieces, so the script builds a vocabulary from *our* pieces plus
///   every pair of adjacent ones: if tiktoken's pieces are ours, each is one token; if not, some piece
///   of tiktoken's is not ours and becomes other tokens (were it two of ours merged, BPE would have
///   merged the pair, which is in the vocabulary). Where they differ, the script re-encodes that text
///   with every substring in the vocabulary, which yields tiktoken's true pieces (for texts of up to
///   300 characters; a longer text shows tiktoken's tokens, which differ from our pieces all the same).
///
/// Splits are lists of [start, end] byte offsets; a gap would show as a missing range.
struct OracleSplits: Decodable {
    var regexText: String
    var tiktokenText: String
    var hf: [[[Int]]]?
    var regex: [[[Int]]]?
    var tiktoken: [[[Int]]]?
    var errors: [String: String]
}

enum PreTokenizerOracle {
    static let available = Run.pythonHas("regex") && Run.pythonHas("tokenizers") && Run.pythonHas("tiktoken")

    static let script = #"""
import gc, json, sys
gc.disable()   # many small lists, no cycles: collection only costs time
req = json.load(sys.stdin)
pattern, texts, ours = req["pattern"], req["texts"], req["ours"]

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

def tiktoken_patterns():
    # The pattern texts as tiktoken ships them, without downloading any vocabulary.
    import tiktoken_ext.openai_public as op
    op.load_tiktoken_bpe = lambda *a, **k: {}
    return {"gpt2": op.r50k_pat_str, "cl100k": op.cl100k_base()["pat_str"], "o200k": op.o200k_base()["pat_str"]}

out = {"errors": {}}
try:
    tk = tiktoken_patterns()
except Exception as e:
    tk = {}
    out["errors"]["patterns"] = repr(e)
pat = {"gpt2": GPT2, "llama3": LLAMA3}.get(pattern) or tk[pattern]
tk_pat = tk.get(pattern, pat)
out["regexText"], out["tiktokenText"] = pat, tk_pat

def offsets(s):
    # UTF-8 byte offset of each character index, and of the end.
    o = [0]
    for ch in s:
        o.append(o[-1] + len(ch.encode()))
    return o

def spans_of_pieces(s, pieces):
    # Byte spans of consecutive substrings found in order.
    spans, pos, o = [], 0, offsets(s)
    for p in pieces:
        at = s.find(p, pos)
        spans.append([o[at], o[at + len(p)]])
        pos = at + len(p)
    return spans

try:
    from tokenizers import pre_tokenizers, Regex
    if pattern == "gpt2":
        pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        # Oniguruma (Ruby syntax) reads `{1,3}+` as `{1,3}` repeated one or more times, not as a
        # possessive interval; the plain interval is what tiktoken's means here.
        pre = pre_tokenizers.Split(Regex(pat.replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")), behavior="isolated")
    res = []
    for s in texts:
        o = offsets(s)
        res.append([[o[a], o[b]] for _, (a, b) in pre.pre_tokenize_str(s)])
    out["hf"] = res
except Exception as e:
    out["errors"]["hf"] = repr(e)

try:
    import regex
    r = regex.compile(pat)
    res = []
    for s in texts:
        o = offsets(s)
        res.append([[o[m.start()], o[m.end()]] for m in r.finditer(s)])
    out["regex"] = res
except Exception as e:
    out["errors"]["regex"] = repr(e)

try:
    import tiktoken
    def encoding(vocab):
        return tiktoken.Encoding("oracle", pat_str=tk_pat, mergeable_ranks=vocab, special_tokens={})
    vocab = {bytes([b]): b for b in range(256)}
    for s, spans in zip(texts, ours):
        b = s.encode()
        pieces = [b[x:y] for x, y in spans]
        for k, p in enumerate(pieces):
            vocab.setdefault(p, len(vocab))
            if k + 1 < len(pieces):
                vocab.setdefault(p + pieces[k + 1], len(vocab))
    enc = encoding(vocab)
    res = []
    for s, spans in zip(texts, ours):
        toks = [enc.decode_single_token_bytes(t) for t in enc.encode_ordinary(s)]
        o, got = 0, []
        for t in toks:
            got.append([o, o + len(t)])
            o += len(t)
        if got != spans and len(s) <= 300:
            own = {bytes([b]): b for b in range(256)}
            for i in range(len(s)):
                for j in range(i + 1, len(s) + 1):
                    own.setdefault(s[i:j].encode(), len(own))
            e2 = encoding(own)
            got = spans_of_pieces(s, [e2.decode_single_token_bytes(t).decode() for t in e2.encode_ordinary(s)])
        res.append(got)
    out["tiktoken"] = res
except Exception as e:
    out["errors"]["tiktoken"] = repr(e)

sys.stdout.write(json.dumps(out))
"""#

    private struct Request: Encodable {
        var pattern: String
        var texts: [String]
        var ours: [[[Int]]]
    }

    /// Runs the oracles on `texts` for `pattern`, sending our splits along (for the tiktoken check).
    static func splits(_ pattern: PreTokenizerPattern, _ texts: [String]) throws -> OracleSplits {
        let pre = PreTokenizer(pattern)
        let ours = texts.map { pre.ranges(Array($0.utf8)).map { [$0.lowerBound, $0.upperBound] } }
        let request = try JSONEncoder().encode(Request(pattern: pattern.rawValue, texts: texts, ours: ours))
        let result = try Run.python(script, stdin: Array(request))
        guard result.status == 0 else {
            throw OracleError(message: "oracle failed (\(result.status)): \(result.err)")
        }
        return try JSONDecoder().decode(OracleSplits.self, from: Data(result.stdout))
    }

    struct OracleError: Error, CustomStringConvertible { var message: String; var description: String { message } }
}

/// Texts that exercise every rule of the four patterns.
enum PreTokenizerInputs {
    /// Hand-picked cases.
    static let nasty: [String] = [
        "", " ", "  ", "a", "Hello world", "Hello world's end", "don't", "DON'T", "I'M", "we'LL", "they'Re",
        ".\"'s", "'s", "'S", "'ſ", "x'ſ", "’s", "it’s", "'", "''", "'''s", " 's", "  's", "'x", "' s", "'\n's",
        "ab'sdef", "ab'S", "AB'S", "aB'Ll", "Ab'Ve'D", "a'llo", "'re'", "'t", "x'm",
        "12345678", "1234567", "a1b22c333d4444", "3.14159", " 123", "  123", "$100,000.00",
        "a\r\n\r\nb", "a\n\nb", "a\r\rb", "\n", "\r\n", "a \n b", "a  \n  b", "x\n", "x\n ", "x \n", "x  ", "x \t",
        "a  b", "a   b", "  a", "\ta", "\t\ta", "a\t b", " \u{3000}a", "\u{3000}\u{3000}a", "\u{3000}a",
        "\u{A0}\u{A0}b", "a\u{A0}b", "a \u{A0}b", "\u{85}x", "\u{2028}\u{2029}x",
        "e\u{301}", "caf\u{E9}", "cafe\u{301} ok", " \u{301}a", "!\u{301}", "!!\u{301}", "\u{301}", "\u{301}\u{301}A",
        "\u{301}ABC d", "ABC\u{301}", "ABCd", "HELLO world", "helloWorld", "HTTPServer", "ǅemal", "ʰa", "Aʰ",
        "👍🏽", "👨‍👩‍👧", "🇫🇷🇩🇪", "a👍b", " 👍", "❤️", "東京タワー", "東京 タワー", "中文，标点。",
        "ภาษาไทย", "สวัสดีครับ", "مرحبا بالعالم", "१२३४ ५६", "٣٤٥٦", "Ⅻ Ⅻ", "ⅫⅫⅫⅫ", "½¾", "x²",
        "a/b//c/\n/", "path/to/file\r\n", "http://x.y/z", "foo();\n\tbar();\n",
        String(repeating: "a", count: 3000), String(repeating: "!", count: 3000),
        String(repeating: " ", count: 300) + "x", String(repeating: "\n", count: 50) + "x",
        String(repeating: "東", count: 500), String(repeating: "1", count: 100),
        "İstanbul", "ﬁne", "Straße", "ΣΑΣ σας", "Kelvin K", "\u{FEFF}bom", "\u{200B}zw", "a\u{0}b", "\u{1C}\u{1D}\u{1E}\u{1F}x",
        "\u{FFFD}", "tab\there", "trailing  \n\n  ",
    ]

    /// Short random strings over an alphabet of the characters the rules care about.
    static func tricky(_ rng: inout SeededRNG, count: Int) -> [String] {
        let alphabet: [String] = ["'", "s", "S", "ſ", "t", "T", "l", "L", "e", "E", "r", "v", "d", "m", " ", " ",
                                  "\t", "\r", "\n", "\u{3000}", "\u{A0}", "a", "B", "x", "1", "٣", "Ⅻ", "\u{301}",
                                  "é", ".", "/", "!", "東", "ǅ", "ʰ", "😀", "\u{200D}", "\u{FE0F}", "’", "\u{85}"]
        return (0..<count).map { _ in
            (0..<Int.random(in: 1...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
        }
    }

    /// Random strings from `SeededRNG.unicodeString` (every class, many scripts).
    static func unicode(_ rng: inout SeededRNG, count: Int) -> [String] {
        (0..<count).map { _ in rng.unicodeString(Int.random(in: 1...40, using: &rng)) }
    }

    /// Real text: `data/*.txt`, `data/*.gz` (text or JSON lines), a few licence texts and two Python
    /// standard-library sources, each cut to at most `limit` characters (Python reads and un-gzips).
    static func realText(limit: Int = 100_000) -> [String] {
        let script = #"""
import glob, gzip, json, os, sys
root, limit = sys.argv[1], int(sys.argv[2])
files = sorted(glob.glob(os.path.join(root, "data", "*.txt")) + glob.glob(os.path.join(root, "data", "*.gz")))
files += [p for p in ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0"] if os.path.exists(p)]
import textwrap, json.decoder   # some source code too: indentation, brackets, operators
files += [textwrap.__file__, json.decoder.__file__]
out = []
for f in files:
    raw = gzip.open(f).read(4 * limit) if f.endswith(".gz") else open(f, "rb").read(4 * limit)
    text = raw.decode("utf-8", "replace")
    if ".jsonl" in f:
        docs = []
        for line in text.splitlines():
            try:
                v = json.loads(line)
                docs.append(v.get("text", "") if isinstance(v, dict) else str(v))
            except Exception:
                pass
        text = "\n\n".join(docs)
    out.append(text[:limit])
sys.stdout.write(json.dumps(out))
"""#
        guard let result = try? Run.python(script, [Run.repoRoot, String(limit)]), result.status == 0,
              let texts = try? JSONDecoder().decode([String].self, from: Data(result.stdout)) else { return [] }
        return texts.filter { !$0.isEmpty }
    }

    /// Whether `text` holds a code point whose class differs between our table (Unicode 16, as the
    /// peers tiktoken and tokenizers have it) and Swift's own properties (Unicode 17 in Swift 6.3,
    /// as Python's `regex` has it): there the `regex` module is expected to disagree.
    static func hasVersionSensitiveScalar(_ text: String) -> Bool {
        text.unicodeScalars.contains { UnicodeClass.of($0.value) != swiftClass($0) }
    }

    /// The class of `scalar` from Swift's `Unicode.Scalar.Properties`.
    static func swiftClass(_ scalar: Unicode.Scalar) -> UnicodeClass {
        let p = scalar.properties
        switch p.generalCategory {
        case .uppercaseLetter, .titlecaseLetter: return [.letter, .upper]
        case .lowercaseLetter: return [.letter, .lower]
        case .modifierLetter, .otherLetter: return [.letter, .upper, .lower]
        case .nonspacingMark, .spacingMark, .enclosingMark: return [.upper, .lower]
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return p.isWhitespace ? .space : []
        }
    }
}

/// Shows a split for a failure message: the pieces as Swift string literals.
func describe(_ text: [UInt8], _ ranges: [[Int]]) -> String {
    ranges.map { r in
        r[0] <= r[1] && r[1] <= text.count ? String(decoding: text[r[0]..<r[1]], as: UTF8.self).debugDescription : "\(r)"
    }.joined(separator: " ")
}
