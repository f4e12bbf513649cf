import Foundation
import Pipeline
import TestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Report inputs for the tests: a realistic run, hostile strings, and a parsed XML tree to look into.
enum ReportFixtures {
    static let tokensPerStep: UInt64 = 8 * 256

    /// A plausible demo run: 1,000 steps with a loss falling from ~10.8 to ~3.3 plus noise,
    /// validation every 100 steps, warm-up then cosine learning rate, ~10k tokens/s; a 4,096-token
    /// vocabulary with Zipf-like counts (some ids unused), log-normal document lengths, five sources.
    static func realistic(steps stepCount: Int = 1000, seed: UInt64 = 7) -> ReportInput {
        var rng = SeededRNG(seed: seed)
        func gaussian() -> Double {
            let u = Double.random(in: Double.ulpOfOne..<1, using: &rng), v = Double.random(in: 0..<1, using: &rng)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        var steps: [StepRecord] = []
        for s in 0..<stepCount {
            let t = Double(s)
            let mean = 3.3 + 7.5 * exp(-t / 110) + 0.4 * exp(-t / 600)
            let lr = s < 50 ? 6e-4 * Double(s + 1) / 50
                : 6e-5 + 0.5 * (6e-4 - 6e-5) * (1 + cos(.pi * Double(s - 50) / Double(max(1, stepCount - 50))))
            let rate = s == 0 ? 3100 : 9800 + 350 * gaussian()
            let validation: Double? = s % 100 == 0 || s == stepCount - 1 ? mean + 0.06 + 0.01 * gaussian() : nil
            steps.append(StepRecord(step: s, trainLoss: mean + 0.09 * gaussian(), validationLoss: validation,
                                    learningRate: lr, tokensPerSecond: rate, tokens: UInt64(s) * tokensPerStep))
        }
        let counts = (0..<4096).map { r -> UInt64 in
            r >= 4030 ? 0 : UInt64(max(1, (2.4e6 / pow(Double(r) + 2.7, 1.07)) * (1 + 0.05 * gaussian())))
        }
        let lengths = (0..<6000).map { _ in UInt64(max(1, exp(5.4 + 1.1 * gaussian()))) }
        let sources = [("data/sun/sun-00.txt.gz", 1_830_211), ("data/sun/sun-01.txt.gz", 1_790_044),
                       ("data/sun/sun-02.txt.gz", 1_402_876), ("data/wiki/astronomy.jsonl.gz", 903_117),
                       ("data/misc/notes.txt", 41_553)]
        return ReportInput(
            title: "demo run — out/demo",
            summary: [ReportFact("corpus", "data/ (5 files, 6,000 documents, 23.4 MB of text)"),
                      ReportFact("vocabulary", "4,096 tokens, byte-level BPE (gpt2 pre-tokenizer)"),
                      ReportFact("model", "GPT-2: 4 layers, 4 heads, 128 channels, 1.3M parameters"),
                      ReportFact("training", "\(stepCount) steps × 8 × 256 tokens, AdamW lr 6e-4"),
                      ReportFact("final loss", "train 3.31 · validation 3.37"),
                      ReportFact("files", "out/demo (tokenizer.json, shards/, log.jsonl, model_00001000.bin)")],
            steps: steps,
            tokenCounts: counts,
            documentLengths: LengthBucket.log2Buckets(lengths),
            sourceShares: sources.map { SourceShare(name: $0.0, tokens: UInt64($0.1)) },
            samples: [GeneratedSample(prompt: "The sun", text: " is a star at the centre of the solar system. It is a nearly perfect ball of hot plasma, heated to incandescence by nuclear fusion reactions in its core."),
                      GeneratedSample(prompt: "In 1543, Copernicus", text: " published \"De revolutionibus\", placing the sun <near> the centre & the earth in orbit around it.\nA second paragraph follows."),
                      GeneratedSample(prompt: "Solar wind", text: " streams outward at 400 km/s…")])
    }

    /// A string that breaks naive HTML: closing tags, markup, both quotes, an ampersand.
    static let hostile = "</script><b>&\"'</title><!-- x -->]]>"

    /// Every string field hostile.
    static func hostileInput() -> ReportInput {
        var input = realistic(steps: 20)
        input.title = hostile
        input.summary = [ReportFact(hostile, hostile)]
        input.sourceShares = [SourceShare(name: hostile, tokens: 10), SourceShare(name: "ok.txt", tokens: 5)]
        input.samples = [GeneratedSample(prompt: hostile, text: hostile + "\u{0}\u{1B}\u{7F}")]
        return input
    }
}

/// A tiny element tree built with XMLParser, so tests can check the page is well-formed XML and
/// look into it.
final class XMLElementNode {
    let name: String
    let attributes: [String: String]
    var children: [XMLElementNode] = []
    /// Text directly inside this element and all its descendants, in order.
    var text = ""
    weak var parent: XMLElementNode?

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// This element and every element below it, in document order.
    var all: [XMLElementNode] { [self] + children.flatMap(\.all) }
    func descendants(_ name: String) -> [XMLElementNode] { all.filter { $0.name == name && $0 !== self } }
    func first(_ name: String) -> XMLElementNode? { descendants(name).first }
    var classes: [Substring] { (attributes["class"] ?? "").split(separator: " ") }

    /// The figure (or section) whose `data-chart` is `name`.
    func chart(_ name: String) -> XMLElementNode? { all.first { $0.attributes["data-chart"] == name } }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    /// Parses `text`; throws when it is not well-formed XML.
    static func parse(_ text: String) throws -> XMLElementNode {
        let builder = TreeBuilder()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = builder
        // On Linux XMLParser recovers from some errors yet records them; treat any as failure.
        let ok = parser.parse()
        if !ok || parser.parserError != nil {
            throw ParseError(description: "not well-formed at line \(parser.lineNumber), column \(parser.columnNumber): "
                             + "\(parser.parserError.map { "\($0)" } ?? "unknown error")")
        }
        guard let root = builder.root else { throw ParseError(description: "no root element") }
        return root
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var root: XMLElementNode?
        var stack: [XMLElementNode] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            let node = XMLElementNode(name: name, attributes: attributes)
            node.parent = stack.last
            stack.last?.children.append(node)
            if root == nil { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            for node in stack { node.text += string }
        }
    }
}
