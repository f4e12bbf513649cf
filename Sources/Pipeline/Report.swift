import Common
import Foundation

/// A run report: one self-contained HTML page with inline SVG charts, no scripts and no network.
///
///     let html = Report.html(ReportInput(title: "demo run — out/demo", steps: steps))
///     try Report.write(input, to: "out/demo/report.html")
///
/// The page has a summary of key facts, then
/// - Training: loss against steps and against tokens seen (train, smoothed when the run is long,
///   and validation), tokens per second, learning rate;
/// - Data: the rank-frequency plot of token ids (log-log, with a 1/rank guide), the histogram of
///   document lengths, the share of tokens per source;
/// - Samples: each prompt (bold) and its continuation.
///
/// A chart with nothing to draw says so in a short note. Long series are thinned to a few hundred
/// points that keep their first, last, lowest and highest values. The same input always gives
/// the same bytes; the page is well-formed XML as well as HTML.
public enum Report {
    /// Every chart's `data-chart` name, in page order.
    public static let chartNames = ["loss-steps", "loss-tokens", "throughput", "learning-rate",
                                    "zipf", "doc-lengths", "sources", "samples"]

    public static func html(_ input: ReportInput) -> String {
        var page = ""
        page += """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="generator" content="TokenMill"/>
        <title>\(Markup.escape(input.title)) · TokenMill report</title>
        <style>\(stylesheet)</style>
        </head>
        <body>
        <main>
        <header><p class="kicker">TokenMill run report</p><h1>\(Markup.escape(input.title))</h1></header>

        """
        if !input.summary.isEmpty {
            page += "<section id=\"summary\"><dl class=\"facts\">\n"
            for fact in input.summary {
                page += "<div class=\"fact\"><dt>\(Markup.escape(fact.key))</dt><dd>\(Markup.escape(fact.value))</dd></div>\n"
            }
            page += "</dl></section>\n"
        }
        let training = TrainingCharts(input.steps)
        page += "<section id=\"training\"><h2>Training</h2><div class=\"grid\">\n"
        page += training.lossBySteps() + training.lossByTokens() + training.throughput() + training.learningRate()
        page += "</div></section>\n"
        page += "<section id=\"data\"><h2>Data</h2><div class=\"grid\">\n"
        page += DataCharts.zipf(input.tokenCounts) + DataCharts.documentLengths(input.documentLengths)
        page += DataCharts.sources(input.sourceShares)
        page += "</div></section>\n"
        page += samples(input.samples)
        page += """
        <footer>Written by <code>tokenmill report</code>. A static page: no scripts, nothing loaded from the network.</footer>
        </main>
        </body>
        </html>

        """
        return page
    }

    /// Writes the page to `path` (through a temporary file, so a reader never sees half a page).
    public static func write(_ input: ReportInput, to path: String) throws(ReportError) {
        do {
            try FileSystem.writeAtomically(path, Array(html(input).utf8))
        } catch {
            throw ReportError(path: path, message: "cannot write the report: \(error.path == path ? error.message : error.description)")
        }
    }

    /// A chart card: title, caption and the chart, or a note when there is nothing to draw.
    static func figure(_ name: String, title: String, caption: String, svg: String?, note: String,
                       wide: Bool = false) -> String {
        var out = "<figure class=\"card\(wide ? " wide" : "")\" id=\"\(name)\" data-chart=\"\(name)\">\n"
        out += "<figcaption><h3>\(Markup.escape(title))</h3>"
        if svg != nil, !caption.isEmpty { out += "<p>\(Markup.escape(caption))</p>" }
        out += "</figcaption>\n"
        if let svg {
            out += svg + "\n"
        } else {
            out += "<p class=\"nodata\">\(Markup.escape(note))</p>\n"
        }
        return out + "</figure>\n"
    }

    static func samples(_ samples: [GeneratedSample]) -> String {
        var out = "<section id=\"samples\" data-chart=\"samples\"><h2>Samples</h2>\n"
        if samples.isEmpty {
            out += "<p class=\"nodata\">No samples were generated.</p>\n"
        } else {
            out += "<div class=\"samples\">\n"
            for (i, s) in samples.enumerated() {
                out += "<article class=\"sample\"><p class=\"sample-n\">Sample \(i + 1)</p>"
                out += "<pre><b>\(Markup.escape(s.prompt))</b>\(Markup.escape(s.text))</pre></article>\n"
            }
            out += "</div>\n"
        }
        return out + "</section>\n"
    }

    /// The page's CSS. It must stay free of '<' and '&' so the page remains well-formed XML.
    static let stylesheet = """

    :root { color-scheme: light; }
    * { box-sizing: border-box; }
    body { margin: 0; background: #f4f5f7; color: #1f2937;
      font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
    main { max-width: 1120px; margin: 0 auto; padding: 28px 20px 40px; }
    header h1 { font-size: 24px; font-weight: 650; margin: 0 0 16px; overflow-wrap: anywhere; }
    .kicker { margin: 0 0 2px; color: #6b7280; font-size: 12px; letter-spacing: .08em; text-transform: uppercase; }
    h2 { font-size: 15px; font-weight: 650; margin: 30px 0 10px; color: #374151; letter-spacing: .02em; }
    .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 10px 28px;
      margin: 0; padding: 14px 18px; background: #fff; border: 1px solid #e3e6eb; border-radius: 8px; }
    .fact dt { color: #6b7280; font-size: 11px; letter-spacing: .06em; text-transform: uppercase; }
    .fact dd { margin: 1px 0 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
    .grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
    .card { margin: 0; padding: 12px 14px 10px; background: #fff; border: 1px solid #e3e6eb; border-radius: 8px; }
    .card.wide { grid-column: 1 / -1; }
    figcaption { margin-bottom: 6px; min-height: 56px; }
    figcaption h3 { margin: 0; font-size: 14px; font-weight: 600; }
    figcaption p { margin: 2px 0 0; color: #6b7280; font-size: 12px; font-variant-numeric: tabular-nums; }
    svg.chart { display: block; width: 100%; height: auto; }
    .nodata { display: flex; align-items: center; justify-content: center; min-height: 120px; margin: 0;
      color: #8a919c; font-size: 13px; border: 1px dashed #d5d9e0; border-radius: 6px; background: #fafbfc; }
    .card .nodata { min-height: 240px; }
    .samples { display: grid; gap: 10px; }
    .sample { padding: 10px 14px 12px; background: #fff; border: 1px solid #e3e6eb; border-radius: 8px; }
    .sample-n { margin: 0 0 4px; color: #6b7280; font-size: 11px; letter-spacing: .06em; text-transform: uppercase; }
    .sample pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere;
      font: 13px/1.55 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; color: #374151; }
    .sample pre b { color: #111827; background: #eef2ff; border-radius: 3px; }
    footer { margin-top: 32px; color: #9aa1ad; font-size: 12px; }
    @media (max-width: 760px) { .grid { grid-template-columns: 1fr; } }

    """
}

/// The four training charts, from the logged steps.
struct TrainingCharts {
    let steps: [StepRecord]
    /// Smoothed training loss, present when the run is long enough to need it.
    let smoothed: [Double]?

    init(_ steps: [StepRecord]) {
        self.steps = steps
        smoothed = steps.count >= 50
            ? Self.centredMean(steps.map(\.trainLoss), halfWidth: min(100, max(2, steps.count / 100))) : nil
    }

    /// The mean of the finite values within `halfWidth` places either side (fewer at the ends).
    /// Unlike an exponential average it does not lag behind a falling loss. Non-finite values
    /// stay NaN.
    static func centredMean(_ values: [Double], halfWidth: Int) -> [Double] {
        var sums = [0.0], counts = [0]
        for v in values {
            sums.append(sums[sums.count - 1] + (v.isFinite ? v : 0))
            counts.append(counts[counts.count - 1] + (v.isFinite ? 1 : 0))
        }
        return values.indices.map { i in
            guard values[i].isFinite else { return .nan }
            let lo = max(0, i - halfWidth), hi = min(values.count, i + halfWidth + 1)
            return (sums[hi] - sums[lo]) / Double(counts[hi] - counts[lo])
        }
    }

    private func lossSeries(x: (StepRecord) -> Double?) -> [LineSeries] {
        let xs = steps.map { x($0) ?? .nan }
        var series: [LineSeries] = []
        let train = zip(xs, steps).map { (x: $0, y: $1.trainLoss) }
        if let smoothed {
            series.append(LineSeries(name: "train (raw)", points: train, color: Palette.train, width: 1, opacity: 0.3))
            series.append(LineSeries(name: "train (smoothed)", points: zip(xs, smoothed).map { (x: $0, y: $1) },
                                     color: Palette.train, width: 2))
        } else {
            series.append(LineSeries(name: "train", points: train, color: Palette.train, width: 2))
        }
        let validation = zip(xs, steps).compactMap { x, s in s.validationLoss.map { (x: x, y: $0) } }
        if !validation.isEmpty {
            series.append(LineSeries(name: "validation", points: validation, color: Palette.validation, width: 2,
                                     markers: validation.count <= 60))
        }
        return series
    }

    private var lossCaption: String {
        var parts: [String] = []
        if let i = steps.lastIndex(where: { $0.trainLoss.isFinite }) {
            if let smoothed, smoothed[i].isFinite {
                parts.append("train \(Markup.fixed(smoothed[i], 3)) (smoothed) at step \(steps[i].step)")
            } else {
                parts.append("train \(Markup.fixed(steps[i].trainLoss, 3)) at step \(steps[i].step)")
            }
        }
        let validation = steps.filter { $0.validationLoss?.isFinite == true }
        if let best = validation.min(by: { $0.validationLoss ?? 0 < $1.validationLoss ?? 0 }),
           let last = validation.last, let bestLoss = best.validationLoss, let lastLoss = last.validationLoss {
            parts.append("validation \(Markup.fixed(lastLoss, 3)), best \(Markup.fixed(bestLoss, 3)) at step \(best.step)")
        }
        let bad = steps.filter { !$0.trainLoss.isFinite }.count
            + steps.filter { $0.validationLoss.map { !$0.isFinite } ?? false }.count
        if bad > 0 { parts.append("\(bad) non-finite loss\(bad == 1 ? "" : "es") not drawn") }
        return parts.joined(separator: " · ")
    }

    private var lossNote: String {
        steps.isEmpty ? "No training steps logged yet." : "No finite loss to draw: every logged loss is NaN or infinite."
    }

    func lossBySteps() -> String {
        let chart = LineChart(title: "Loss by step", xTitle: "step", yTitle: "loss",
                              series: lossSeries { Double($0.step) })
        return Report.figure("loss-steps", title: "Loss by step", caption: lossCaption, svg: chart.svg(), note: lossNote)
    }

    func lossByTokens() -> String {
        let chart = LineChart(title: "Loss by tokens seen", xTitle: "tokens seen", yTitle: "loss",
                              series: lossSeries { $0.tokens.map { Double($0) } })
        var caption = ""
        if let last = steps.last(where: { $0.tokens != nil }), let tokens = last.tokens {
            caption = "\(Markup.compact(Double(tokens))) tokens by step \(last.step)"
            if last.step > 0 { caption += " · \(Markup.compact(Double(tokens) / Double(last.step))) per step" }
        }
        let note = steps.isEmpty ? lossNote
            : steps.allSatisfy({ $0.tokens == nil }) ? "The log does not say how many tokens each step saw."
            : "No finite loss to draw at a known token count."
        return Report.figure("loss-tokens", title: "Loss by tokens seen", caption: caption, svg: chart.svg(), note: note)
    }

    func throughput() -> String {
        let points = steps.map { (x: Double($0.step), y: $0.tokensPerSecond) }
        let chart = LineChart(title: "Throughput", xTitle: "step", yTitle: "tokens per second",
                              series: [LineSeries(name: "tokens/s", points: points, color: Palette.throughput)])
        let rates = steps.map(\.tokensPerSecond).filter(\.isFinite).sorted()
        var caption = ""
        if let last = steps.last(where: { $0.tokensPerSecond.isFinite }) {
            caption = "median \(Markup.compact(rates[rates.count / 2])) tokens/s · last \(Markup.compact(last.tokensPerSecond))"
        }
        return Report.figure("throughput", title: "Throughput", caption: caption, svg: chart.svg(),
                             note: steps.isEmpty ? lossNote : "The log has no tokens-per-second figures.")
    }

    func learningRate() -> String {
        let points = steps.map { (x: Double($0.step), y: $0.learningRate) }
        let chart = LineChart(title: "Learning rate", xTitle: "step", yTitle: "learning rate",
                              series: [LineSeries(name: "learning rate", points: points, color: Palette.learningRate)])
        var caption = ""
        if let peak = steps.filter({ $0.learningRate.isFinite }).max(by: { $0.learningRate < $1.learningRate }),
           let last = steps.last(where: { $0.learningRate.isFinite }) {
            caption = "peak \(Markup.compact(peak.learningRate)) at step \(peak.step) · last \(Markup.compact(last.learningRate))"
        }
        return Report.figure("learning-rate", title: "Learning rate", caption: caption, svg: chart.svg(),
                             note: steps.isEmpty ? lossNote : "The log has no learning rates.")
    }
}

/// The charts about the corpus: token frequencies, document lengths, sources.
enum DataCharts {
    static func zipf(_ counts: [UInt64]) -> String {
        let sorted = counts.sorted(by: >)
        let used = sorted.firstIndex(of: 0) ?? sorted.count
        let total = sorted.reduce(0.0) { $0 + Double($1) }
        var svg: String?
        var caption = ""
        if used > 0 {
            let ranks = Downsample.logSpaced(count: used, maxPoints: 400)
            let points = ranks.map { (x: Double($0 + 1), y: Double(sorted[$0])) }
            let top = Double(sorted[0])
            let guide = [(x: 1.0, y: top), (x: Double(used), y: top / Double(used))]
            svg = LineChart(title: "Token frequency by rank", xTitle: "rank", yTitle: "count", xLog: true, yLog: true,
                            series: [LineSeries(name: "token ids", points: points, color: Palette.zipf, width: 2),
                                     LineSeries(name: "∝ 1/rank (Zipf)", points: guide, color: Palette.reference,
                                                width: 1.25, dash: "5 4", reference: true)]).svg()
            caption = "\(Markup.grouped(UInt64(sorted.count))) ids, \(Markup.grouped(UInt64(used))) occur"
            if used < sorted.count { caption += ", \(Markup.grouped(UInt64(sorted.count - used))) never" }
            caption += " · the most frequent is \(Markup.percent(top / total)) of \(Markup.compact(total)) tokens"
        }
        return Report.figure("zipf", title: "Token frequency by rank", caption: caption, svg: svg,
                             note: counts.isEmpty ? "No token counts." : "No token occurs: every count is zero.")
    }

    static func documentLengths(_ buckets: [LengthBucket]) -> String {
        func bound(_ n: UInt64) -> String { n == .max ? "∞" : Markup.grouped(n) }
        let edges = buckets.map { bound($0.lowerTokens) } + (buckets.last.map { [bound($0.upperTokens)] } ?? [])
        let tooltips = buckets.map { b in
            let upper = b.upperTokens == .max ? "∞" : Markup.grouped(b.upperTokens - 1)
            return "\(Markup.grouped(b.lowerTokens))–\(upper) tokens: \(Markup.grouped(b.count)) documents"
        }
        let svg = HistogramChart(title: "Document lengths", xTitle: "document length (tokens)", yTitle: "documents",
                                 edges: edges, counts: buckets.map(\.count), tooltips: tooltips,
                                 color: Palette.lengths).svg()
        var caption = ""
        let total = buckets.reduce(UInt64(0)) { $0 &+ $1.count }
        if total > 0 {
            var seen: UInt64 = 0
            let median = buckets.first { b in seen += b.count; return seen * 2 >= total } ?? buckets[0]
            let upper = median.upperTokens == .max ? "∞" : Markup.grouped(median.upperTokens - 1)
            caption = "\(Markup.grouped(total)) documents · median in \(Markup.grouped(median.lowerTokens))–\(upper) tokens"
        }
        return Report.figure("doc-lengths", title: "Document lengths", caption: caption, svg: svg,
                             note: buckets.isEmpty ? "No document lengths." : "Every length bucket is empty.")
    }

    /// Sources with the most tokens first; past `limit` rows the rest share one "other" row.
    static func sources(_ shares: [SourceShare], limit: Int = 12) -> String {
        let total = shares.reduce(0.0) { $0 + Double($1.tokens) }
        let ordered = shares.enumerated().sorted { a, b in
            a.element.tokens != b.element.tokens ? a.element.tokens > b.element.tokens : a.offset < b.offset
        }.map(\.element)
        var rows: [ShareBarChart.Row] = []
        if total > 0 {
            let shown = ordered.count > limit ? Array(ordered.prefix(limit - 1)) : ordered
            for s in shown {
                rows.append(.init(label: shortName(s.name), tooltip: "\(s.name): \(Markup.grouped(s.tokens)) tokens",
                                  share: Double(s.tokens) / total, amount: Markup.compact(Double(s.tokens)) + " tokens"))
            }
            if ordered.count > shown.count {
                let rest = ordered.dropFirst(shown.count)
                let tokens = rest.reduce(0.0) { $0 + Double($1.tokens) }
                rows.append(.init(label: "other (\(rest.count) sources)",
                                  tooltip: "\(rest.count) smaller sources: \(Markup.grouped(UInt64(tokens))) tokens",
                                  share: tokens / total, amount: Markup.compact(tokens) + " tokens"))
            }
        }
        let svg = ShareBarChart(title: "Tokens per source", xTitle: "share of all tokens", rows: rows,
                                color: Palette.sources).svg()
        let caption = "\(shares.count) source\(shares.count == 1 ? "" : "s") · \(Markup.compact(total)) tokens"
        return Report.figure("sources", title: "Tokens per source", caption: caption, svg: svg,
                             note: shares.isEmpty ? "No sources." : "No source has any tokens.", wide: true)
    }

    /// A file name short enough for a bar label: the end is kept, since paths differ there.
    static func shortName(_ name: String, limit: Int = 38) -> String {
        name.count <= limit ? name : "…" + name.suffix(limit - 1)
    }
}
