import Foundation
import Pipeline
import TestSupport
import Testing

@Suite struct ReportTests {
    static let lineCharts = ["loss-steps", "loss-tokens", "throughput", "learning-rate", "zipf"]

    /// Texts of the chart's legend entries, in order.
    static func legend(_ figure: XMLElementNode) -> [String] {
        (figure.first("svg")?.descendants("g").first { $0.classes.contains("legend") })?
            .descendants("text").map(\.text) ?? []
    }

    /// The polylines of the series named `name` in a chart, as lists of points.
    static func polylines(_ figure: XMLElementNode, series name: String) -> [[(x: Double, y: Double)]] {
        let group = figure.descendants("g").first { $0.attributes["data-name"] == name }
        return (group?.descendants("polyline") ?? []).map { line in
            (line.attributes["points"] ?? "").split(separator: " ").compactMap { pair in
                let xy = pair.split(separator: ",").compactMap { Double($0) }
                return xy.count == 2 ? (xy[0], xy[1]) : nil
            }
        }
    }

    static func tickLabels(_ figure: XMLElementNode) -> Set<String> {
        Set(figure.first("svg")?.descendants("text").map(\.text) ?? [])
    }

    static func note(_ figure: XMLElementNode?) -> String? {
        figure?.all.first { $0.classes.contains("nodata") }?.text
    }

    @Test func realisticReportIsWellFormedAndHasEveryChart() throws {
        let input = ReportFixtures.realistic()
        let root = try XMLElementNode.parse(Report.html(input))
        #expect(root.name == "html")
        #expect(root.first("h1")?.text == "demo run — out/demo")
        #expect(root.descendants("dt").map(\.text) == input.summary.map(\.key))
        #expect(root.descendants("dd").map(\.text) == input.summary.map(\.value))
        for name in Report.chartNames.dropLast() {
            let figure = try #require(root.chart(name), "\(name) missing")
            #expect(Self.note(figure) == nil, "\(name) says no data")
            let svg = try #require(figure.first("svg"), "\(name) has no SVG")
            #expect(svg.first("title")?.text.isEmpty == false)
            #expect(figure.first("h3")?.text.isEmpty == false)
            #expect(svg.descendants("text").count >= 8, "\(name) lacks tick labels")
            let lines = svg.descendants("polyline").filter { ($0.attributes["points"] ?? "").contains(" ") }
            let bars = svg.descendants("rect").filter { $0.classes.contains("bar") }
            #expect(lines.count + bars.count > 0, "\(name) draws nothing")
            // Every mark lies inside the chart.
            let box = (svg.attributes["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) }
            try #require(box.count == 4)
            for line in lines {
                for pair in (line.attributes["points"] ?? "").split(separator: " ") {
                    let xy = pair.split(separator: ",").compactMap { Double($0) }
                    #expect(xy.count == 2 && (0...box[2]).contains(xy[0]) && (0...box[3]).contains(xy[1]),
                            "\(name): point \(pair) outside the chart")
                }
            }
        }
        let figures = Dictionary(uniqueKeysWithValues: Report.chartNames.compactMap { n in root.chart(n).map { (n, $0) } })
        #expect(Self.legend(try #require(figures["loss-steps"])) == ["train (raw)", "train (smoothed)", "validation"])
        #expect(Self.legend(try #require(figures["zipf"])) == ["token ids", "∝ 1/rank (Zipf)"])
        #expect(Self.legend(try #require(figures["throughput"])) == [])
        #expect(Self.tickLabels(try #require(figures["loss-steps"])).isSuperset(of: ["0", "200", "400", "800", "step", "loss"]))
        #expect(Self.tickLabels(try #require(figures["loss-tokens"])).isSuperset(of: ["500k", "1M", "1.5M", "2M"]))
        #expect(Self.tickLabels(try #require(figures["learning-rate"])).isSuperset(of: ["0", "2e-4", "4e-4", "6e-4"]))
        #expect(Self.tickLabels(try #require(figures["zipf"])).isSuperset(of: ["1", "10", "100", "1k", "100", "10k", "1M"]))
        #expect(Self.tickLabels(try #require(figures["doc-lengths"])).isSuperset(of: ["32", "128", "512", "2,048"]))
        let sources = try #require(figures["sources"])
        #expect(sources.descendants("rect").filter { $0.classes.contains("bar") }.count == 5)
        #expect(Self.tickLabels(sources).contains("30.7%  ·  1.83M tokens"))
        #expect(figures["zipf"]?.first("figcaption")?.text.contains("4,096 ids, 4,030 occur, 66 never") == true)
        // Samples: prompt in bold, then the continuation.
        let samples = try #require(root.chart("samples"))
        let pres = samples.descendants("pre")
        #expect(pres.map(\.text) == input.samples.map { $0.prompt + $0.text })
        #expect(pres.compactMap { $0.first("b")?.text } == input.samples.map(\.prompt))
    }

    @Test func hostileStringsAreEscapedEverywhere() throws {
        let hostile = ReportFixtures.hostile
        let html = Report.html(ReportFixtures.hostileInput())
        #expect(!html.contains("<script"))
        #expect(!html.contains("<!--"))
        #expect(!html.contains(hostile))
        let root = try XMLElementNode.parse(html)
        #expect(root.first("title")?.text == hostile + " · TokenMill report")
        #expect(root.first("h1")?.text == hostile)
        #expect(root.first("dt")?.text == hostile && root.first("dd")?.text == hostile)
        // One <b>, the prompt; control characters shown as their pictures.
        #expect(root.descendants("b").map(\.text) == [hostile])
        #expect(root.chart("samples")?.first("pre")?.text == hostile + hostile + "\u{2400}\u{241B}\u{2421}")
        let bars = root.chart("sources")?.descendants("rect").filter { $0.classes.contains("bar") } ?? []
        #expect(bars.first?.first("title")?.text == hostile + ": 10 tokens")
        #expect(Self.tickLabels(try #require(root.chart("sources"))).contains(hostile))
    }

    @Test func emptyInputGivesNotesNotCharts() throws {
        let root = try XMLElementNode.parse(Report.html(ReportInput(title: "empty")))
        #expect(root.descendants("svg").isEmpty)
        #expect(root.first("dl") == nil)
        let notes = Dictionary(uniqueKeysWithValues: Report.chartNames.map { ($0, Self.note(root.chart($0))) })
        #expect(notes == [
            "loss-steps": "No training steps logged yet.", "loss-tokens": "No training steps logged yet.",
            "throughput": "No training steps logged yet.", "learning-rate": "No training steps logged yet.",
            "zipf": "No token counts.", "doc-lengths": "No document lengths.", "sources": "No sources.",
            "samples": "No samples were generated.",
        ])
    }

    @Test func oneStepIsADotAndNoValidationMeansNoLegend() throws {
        let step = StepRecord(step: 0, trainLoss: 10.9, learningRate: 3e-4, tokensPerSecond: 9000, tokens: 0)
        let root = try XMLElementNode.parse(Report.html(ReportInput(title: "t", steps: [step])))
        for name in ["loss-steps", "loss-tokens", "throughput", "learning-rate"] {
            let figure = try #require(root.chart(name))
            let svg = try #require(figure.first("svg"), "\(name) has no SVG")
            #expect(svg.descendants("circle").count == 1, "\(name)")
            #expect(svg.descendants("polyline").isEmpty, "\(name)")
            #expect(Self.legend(figure).isEmpty)
        }
        #expect(root.chart("loss-steps")?.first("figcaption")?.text.contains("train 10.900 at step 0") == true)
    }

    @Test func nonFiniteLossesBreakTheLineAndAreCounted() throws {
        var steps = (0..<10).map { StepRecord(step: $0, trainLoss: 10 - Double($0) * 0.5, tokens: UInt64($0) * 64) }
        steps[4].trainLoss = .nan
        steps[7].trainLoss = .infinity
        steps[9].validationLoss = .nan
        let root = try XMLElementNode.parse(Report.html(ReportInput(title: "t", steps: steps)))
        let figure = try #require(root.chart("loss-steps"))
        #expect(Self.polylines(figure, series: "train").map(\.count) == [4, 2, 2])
        #expect(figure.descendants("circle").isEmpty)
        #expect(figure.first("figcaption")?.text.contains("3 non-finite losses not drawn") == true)
        // Only a NaN validation loss: no validation series, no legend.
        #expect(Self.legend(figure).isEmpty)
        #expect(Self.note(root.chart("throughput")) == "The log has no tokens-per-second figures.")
        #expect(Self.note(root.chart("learning-rate")) == "The log has no learning rates.")

        let allBad = (0..<3).map { StepRecord(step: $0, trainLoss: .nan) }
        let bad = try XMLElementNode.parse(Report.html(ReportInput(title: "t", steps: allBad)))
        #expect(Self.note(bad.chart("loss-steps")) == "No finite loss to draw: every logged loss is NaN or infinite.")
        #expect(Self.note(bad.chart("loss-tokens")) == "The log does not say how many tokens each step saw.")
    }

    @Test func zeroCountsAndSingleSources() throws {
        let input = ReportInput(title: "t", tokenCounts: [0, 10, 100, 0, 1000, 0],
                                documentLengths: [LengthBucket(lowerTokens: 4, upperTokens: 8, count: 3)],
                                sourceShares: [SourceShare(name: "only.txt", tokens: 1110)])
        let root = try XMLElementNode.parse(Report.html(input))
        let zipf = try #require(root.chart("zipf"))
        #expect(Self.polylines(zipf, series: "token ids").map(\.count) == [3])
        #expect(zipf.first("figcaption")?.text.contains("6 ids, 3 occur, 3 never") == true)
        let sources = try #require(root.chart("sources"))
        #expect(sources.descendants("rect").filter { $0.classes.contains("bar") }.count == 1)
        #expect(Self.tickLabels(sources).contains("100.0%  ·  1.11k tokens"))
        let lengths = try #require(root.chart("doc-lengths"))
        #expect(lengths.descendants("rect").filter { $0.classes.contains("bar") }.first?.first("title")?.text
                == "4–7 tokens: 3 documents")

        let zeros = ReportInput(title: "t", tokenCounts: [0, 0], documentLengths: [LengthBucket(lowerTokens: 0, upperTokens: 2, count: 0)],
                                sourceShares: [SourceShare(name: "a", tokens: 0)])
        let empty = try XMLElementNode.parse(Report.html(zeros))
        #expect(Self.note(empty.chart("zipf")) == "No token occurs: every count is zero.")
        #expect(Self.note(empty.chart("doc-lengths")) == "Every length bucket is empty.")
        #expect(Self.note(empty.chart("sources")) == "No source has any tokens.")
    }

    @Test func manySourcesEndInAnOtherRow() throws {
        let shares = (0..<20).map { SourceShare(name: "part-\($0).txt", tokens: UInt64(1000 - $0)) }
        let root = try XMLElementNode.parse(Report.html(ReportInput(title: "t", sourceShares: shares)))
        let labels = root.chart("sources")?.descendants("text").map(\.text) ?? []
        #expect(labels.filter { $0.hasPrefix("part-") }.count == 11)
        #expect(labels.contains("other (9 sources)"))
    }

    @Test func longSeriesAreThinnedKeepingTheirEnds() throws {
        let steps = (0..<100_000).map { s in
            StepRecord(step: s, trainLoss: 3 + 8 * exp(-Double(s) / 5000) + (s == 61_234 ? 10 : 0),
                       validationLoss: s % 1000 == 0 ? 3.5 : nil, learningRate: 3e-4, tokensPerSecond: 1e4,
                       tokens: UInt64(s) * 4096)
        }
        let counts = (0..<200_000).map { UInt64(1e7 / Double($0 + 1)) }
        let html = Report.html(ReportInput(title: "long", steps: steps, tokenCounts: counts))
        #expect(html.utf8.count < 150_000, "report is \(html.utf8.count) bytes")
        let root = try XMLElementNode.parse(html)
        let lossSteps = try #require(root.chart("loss-steps"))
        for series in ["train (raw)", "train (smoothed)"] {
            let lines = Self.polylines(lossSteps, series: series)
            let points = try #require(lines.first)
            #expect(lines.count == 1 && points.count <= 600 && points.count >= 200, "\(series): \(points.count)")
            #expect(points.first?.x == 58 && points.last?.x == 482, "\(series) lost an end")
        }
        // The one spike at step 61,234 survives thinning.
        let raw = try #require(Self.polylines(lossSteps, series: "train (raw)").first)
        let top = try #require(raw.map(\.y).min())
        #expect(raw.contains { $0.y == top && abs($0.x - (58 + 424 * 61_234 / 99_999)) < 0.2 })
        let zipfFigure = try #require(root.chart("zipf"))
        let zipf = try #require(Self.polylines(zipfFigure, series: "token ids").first)
        #expect(zipf.count <= 401 && zipf.first?.x == 58 && zipf.last?.x == 482)
    }

    @Test func downsampleKeepsFirstLastAndEachRunsExtremes() {
        var rng = SeededRNG(seed: 3)
        for trial in 0..<200 {
            let n = Int.random(in: 0...3000, using: &rng)
            let maxPoints = Int.random(in: 4...700, using: &rng)
            let values = (0..<n).map { _ in Double.random(in: -5...5, using: &rng) }
            let kept = Downsample.minMax(values, maxPoints: maxPoints)
            if n <= maxPoints {
                #expect(kept == Array(0..<n))
                continue
            }
            #expect(kept.count <= maxPoints, "trial \(trial)")
            #expect(zip(kept, kept.dropFirst()).allSatisfy { $0 < $1 }, "trial \(trial): not ascending")
            #expect(kept.first == 0 && kept.last == n - 1)
            // The slow twin: cut into runs by the rule and check each run's min and max are kept.
            let runs = max(1, maxPoints / 4)
            for r in 0..<runs {
                let slice = values[(r * n / runs)..<((r + 1) * n / runs)]
                guard let lo = slice.indices.min(by: { slice[$0] < slice[$1] }),
                      let hi = slice.indices.max(by: { slice[$0] < slice[$1] }) else { continue }
                #expect(kept.contains(lo) && kept.contains(hi), "trial \(trial), run \(r)")
            }
        }
        #expect(Downsample.minMax([5, 1, 7, 3, 2, 9, 4, 6], maxPoints: 4) == [0, 1, 5, 7])
        #expect(Downsample.logSpaced(count: 1000, maxPoints: 4) == [0, 9, 99, 999])
        let spaced = Downsample.logSpaced(count: 123_457, maxPoints: 300)
        #expect(spaced.first == 0 && spaced.last == 123_456 && spaced.count <= 301)
        #expect(zip(spaced, spaced.dropFirst()).allSatisfy { $0 < $1 })
        #expect(Downsample.logSpaced(count: 5, maxPoints: 300) == [0, 1, 2, 3, 4])
    }

    @Test func sameInputSameBytesAndCodableRoundTrip() throws {
        var input = ReportFixtures.realistic(steps: 300)
        input.steps[5].trainLoss = .nan
        input.steps[6].validationLoss = .infinity
        let html = Report.html(input)
        #expect(Report.html(input) == html)
        let json = try JSONEncoder().encode(input)
        let decoded = try JSONDecoder().decode(ReportInput.self, from: json)
        #expect(decoded.steps[5].trainLoss.isNaN && decoded.steps[6].validationLoss?.isNaN == true)
        // Infinity comes back as NaN (JSON has neither); both are simply not drawn.
        var expected = input
        expected.steps[6].validationLoss = .nan
        #expect(decoded == expected)
        #expect(Report.html(decoded).count > 0)
    }

    @Test func writeReplacesTheFileAndNamesItOnFailure() throws {
        let dir = try TempDir()
        let path = dir.file("report.html")
        try Report.write(ReportInput(title: "one"), to: path)
        try Report.write(ReportInput(title: "two"), to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == Report.html(ReportInput(title: "two")))
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        // Missing directories are made; a file where a directory should be is named.
        let nested = dir.file("new/dir/report.html")
        try Report.write(ReportInput(title: "three"), to: nested)
        #expect(try String(contentsOfFile: nested, encoding: .utf8) == Report.html(ReportInput(title: "three")))
        let blocked = path + "/report.html"
        let error = #expect(throws: ReportError.self) { try Report.write(ReportInput(title: "x"), to: blocked) }
        #expect(error?.path == blocked)
        #expect(error?.description == blocked + ": cannot write the report: " + path + ": exists and is not a directory")
    }

    @Test func log2BucketsCountEachPowerOfTwo() {
        let buckets = LengthBucket.log2Buckets([1, 5, 6, 0, 1024, 1023] as [UInt64])
        #expect(buckets.map { [$0.lowerTokens, $0.upperTokens, $0.count] } == [
            [0, 2, 2], [2, 4, 0], [4, 8, 2], [8, 16, 0], [16, 32, 0], [32, 64, 0], [64, 128, 0], [128, 256, 0],
            [256, 512, 0], [512, 1024, 1], [1024, 2048, 1],
        ])
        #expect(LengthBucket.log2Buckets([UInt64]()).isEmpty)
        #expect(LengthBucket.log2Buckets([UInt64.max]).map(\.upperTokens) == [UInt64.max])
    }
}
