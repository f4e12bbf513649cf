import Foundation

// Hand-written SVG charts. Each chart is a value that renders to one `<svg>` element (or nil when
// it has nothing to draw, so that the page can say so instead). Colours and strokes are
// presentation attributes, so an SVG copied out of the page still looks the same.

/// Colours of the report, one per kind of series.
enum Palette {
    static let train = "#2563eb"
    static let validation = "#ea580c"
    static let throughput = "#16a34a"
    static let learningRate = "#0891b2"
    static let zipf = "#9333ea"
    static let lengths = "#0d9488"
    static let sources = "#4f46e5"
    static let reference = "#9ca3af"
    static let grid = "#eceef2"
    static let minorGrid = "#f5f6f8"
    static let axis = "#9aa1ad"
    static let text = "#5b6270"
    static let strongText = "#1f2937"
}

/// Appends SVG elements to a string.
struct SVGWriter {
    private(set) var out = ""

    init(width: Double, height: Double, title: String) {
        out = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Markup.coord(width)) "
            + "\(Markup.coord(height))\" width=\"\(Markup.coord(width))\" height=\"\(Markup.coord(height))\" "
            + "role=\"img\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif\" "
            + "font-size=\"11\"><title>\(Markup.escape(title))</title>\n"
    }

    mutating func raw(_ s: String) { out += s }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String,
                       width: Double = 1, dash: String? = nil, opacity: Double = 1) {
        out += "<line x1=\"\(Markup.coord(x1))\" y1=\"\(Markup.coord(y1))\" x2=\"\(Markup.coord(x2))\" "
            + "y2=\"\(Markup.coord(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(Markup.coord(width))\""
            + (opacity < 1 ? " stroke-opacity=\"\(Markup.fixed(opacity, 2))\"" : "")
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>\n"
    }

    /// Text at (x, y), vertically centred on y; `anchor` is start, middle or end.
    mutating func text(_ s: String, _ x: Double, _ y: Double, anchor: String = "start", fill: String = Palette.text,
                       rotate: Bool = false) {
        let transform = rotate ? " transform=\"rotate(-90 \(Markup.coord(x)) \(Markup.coord(y)))\"" : ""
        out += "<text x=\"\(Markup.coord(x))\" y=\"\(Markup.coord(y))\" dy=\"0.35em\" text-anchor=\"\(anchor)\" "
            + "fill=\"\(fill)\"\(transform)>\(Markup.escape(s))</text>\n"
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double, opacity: Double,
                           dash: String?) {
        let list = points.map { "\(Markup.coord($0.0)),\(Markup.coord($0.1))" }.joined(separator: " ")
        out += "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Markup.coord(width))\" "
            + "stroke-linejoin=\"round\" stroke-linecap=\"round\""
            + (opacity < 1 ? " stroke-opacity=\"\(Markup.fixed(opacity, 2))\"" : "")
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>\n"
    }

    mutating func circle(_ x: Double, _ y: Double, r: Double, fill: String) {
        out += "<circle cx=\"\(Markup.coord(x))\" cy=\"\(Markup.coord(y))\" r=\"\(Markup.coord(r))\" fill=\"\(fill)\" "
            + "stroke=\"#ffffff\" stroke-width=\"1\"/>\n"
    }

    /// A filled rectangle with an optional hover tooltip.
    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, tooltip: String? = nil,
                       radius: Double = 0) {
        let r = radius > 0 ? " rx=\"\(Markup.coord(radius))\"" : ""
        let open = "<rect class=\"bar\" x=\"\(Markup.coord(x))\" y=\"\(Markup.coord(y))\" width=\"\(Markup.coord(w))\" "
            + "height=\"\(Markup.coord(h))\"\(r) fill=\"\(fill)\""
        if let tooltip {
            out += open + "><title>\(Markup.escape(tooltip))</title></rect>\n"
        } else {
            out += open + "/>\n"
        }
    }

    mutating func finish() -> String {
        out += "</svg>"
        return out
    }
}

/// The plot area inside a chart, in SVG units.
struct PlotFrame {
    let left: Double, top: Double, width: Double, height: Double
    var right: Double { left + width }
    var bottom: Double { top + height }
    func x(_ f: Double) -> Double { left + f * width }
    func y(_ f: Double) -> Double { top + (1 - f) * height }

    /// Grid lines, axis lines, tick labels and axis titles for a pair of axes.
    func drawAxes(_ xAxis: ChartAxis, _ yAxis: ChartAxis, into svg: inout SVGWriter, chartHeight: Double) {
        for v in xAxis.minorTicks { if let f = xAxis.fraction(v) { svg.line(x(f), top, x(f), bottom, stroke: Palette.minorGrid) } }
        for v in yAxis.minorTicks { if let f = yAxis.fraction(v) { svg.line(left, y(f), right, y(f), stroke: Palette.minorGrid) } }
        for t in xAxis.ticks { if let f = xAxis.fraction(t.value) { svg.line(x(f), top, x(f), bottom, stroke: Palette.grid) } }
        for t in yAxis.ticks { if let f = yAxis.fraction(t.value) { svg.line(left, y(f), right, y(f), stroke: Palette.grid) } }
        svg.line(left, bottom, right, bottom, stroke: Palette.axis)
        svg.line(left, top, left, bottom, stroke: Palette.axis)
        for t in xAxis.ticks {
            guard let f = xAxis.fraction(t.value) else { continue }
            svg.line(x(f), bottom, x(f), bottom + 4, stroke: Palette.axis)
            if !t.label.isEmpty { svg.text(t.label, x(f), bottom + 13, anchor: "middle") }
        }
        for t in yAxis.ticks {
            guard let f = yAxis.fraction(t.value) else { continue }
            svg.line(left - 4, y(f), left, y(f), stroke: Palette.axis)
            if !t.label.isEmpty { svg.text(t.label, left - 7, y(f), anchor: "end") }
        }
        if !xAxis.title.isEmpty { svg.text(xAxis.title, x(0.5), chartHeight - 9, anchor: "middle", fill: Palette.strongText) }
        if !yAxis.title.isEmpty { svg.text(yAxis.title, 13, y(0.5), anchor: "middle", fill: Palette.strongText, rotate: true) }
    }
}

/// One line on a `LineChart`.
struct LineSeries {
    var name: String
    /// Points in data units; a point that cannot be drawn (NaN, or ≤ 0 on a log axis) breaks the line.
    var points: [(x: Double, y: Double)]
    var color: String
    var width = 1.75
    var opacity = 1.0
    var dash: String? = nil
    /// Dots on every point (for sparse series such as validation losses).
    var markers = false
    var inLegend = true
    /// A guide line (e.g. Zipf's 1/rank): it does not widen the axes and is clipped to the plot.
    var reference = false
}

/// Lines over shared x and y axes, with a legend when two or more series are named.
struct LineChart {
    var title: String
    var xTitle: String
    var yTitle: String
    var xLog = false
    var yLog = false
    var series: [LineSeries]
    var width = 500.0
    var height = 280.0
    /// Most points drawn per series; longer series are thinned with `Downsample.minMax`.
    var maxPoints = 600

    /// The chart, or nil when no series has a point that can be drawn.
    func svg() -> String? {
        let drawable = { (p: (x: Double, y: Double)) -> Bool in
            p.x.isFinite && p.y.isFinite && (!self.xLog || p.x > 0) && (!self.yLog || p.y > 0)
        }
        let domainPoints = series.filter { !$0.reference }.flatMap { $0.points.filter(drawable) }
        guard let first = domainPoints.first else { return nil }
        var (x0, x1, y0, y1) = (first.x, first.x, first.y, first.y)
        for p in domainPoints {
            x0 = min(x0, p.x); x1 = max(x1, p.x); y0 = min(y0, p.y); y1 = max(y1, p.y)
        }
        let xAxis = xLog ? ChartAxis.log(min: x0, max: x1, title: xTitle, tight: true)
            : .linear(min: x0, max: x1, title: xTitle, tight: true)
        let yAxis = yLog ? ChartAxis.log(min: y0, max: y1, title: yTitle) : .linear(min: y0, max: y1, title: yTitle)
        let legend = series.filter { s in s.inLegend && s.points.contains(where: drawable) }
        let frame = PlotFrame(left: 58, top: legend.count >= 2 ? 28 : 12, width: width - 58 - 18,
                              height: height - (legend.count >= 2 ? 28 : 12) - 44)

        var svg = SVGWriter(width: width, height: height, title: title)
        frame.drawAxes(xAxis, yAxis, into: &svg, chartHeight: height)
        for s in series {
            svg.raw("<g class=\"series\" data-name=\"\(Markup.escape(s.name))\">\n")
            let position = { (p: (x: Double, y: Double)) -> (Double, Double)? in
                guard drawable(p), let fx = xAxis.fraction(p.x), let fy = yAxis.fraction(p.y) else { return nil }
                return (fx, fy)
            }
            for segment in segments(s.points.map(position)) {
                var fractions = segment
                if s.reference { fractions = clip(segment) }
                guard !fractions.isEmpty else { continue }
                let points = fractions.map { (frame.x($0.0), frame.y($0.1)) }
                if points.count == 1 {
                    svg.circle(points[0].0, points[0].1, r: 3.5, fill: s.color)
                } else {
                    svg.polyline(points, stroke: s.color, width: s.width, opacity: s.opacity, dash: s.dash)
                }
                if s.markers, points.count > 1 {
                    for p in points { svg.circle(p.0, p.1, r: 2.5, fill: s.color) }
                }
            }
            svg.raw("</g>\n")
        }
        if legend.count >= 2 {
            var x = frame.left
            svg.raw("<g class=\"legend\">\n")
            for s in legend {
                svg.line(x, 13, x + 16, 13, stroke: s.color, width: max(2, s.width), dash: s.dash,
                         opacity: max(0.45, s.opacity))
                svg.text(s.name, x + 21, 13)
                x += 21 + Double(s.name.count) * 6.3 + 16
            }
            svg.raw("</g>\n")
        }
        return svg.finish()
    }

    /// Runs of drawable points (as axis fractions), thinned to the point budget.
    private func segments(_ positions: [(Double, Double)?]) -> [[(Double, Double)]] {
        var runs: [[(Double, Double)]] = [[]]
        for p in positions {
            if let p { runs[runs.count - 1].append(p) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
        }
        runs.removeAll { $0.isEmpty }
        let total = runs.reduce(0) { $0 + $1.count }
        guard total > maxPoints else { return runs }
        return runs.map { run in
            let budget = max(4, maxPoints * run.count / total)
            return Downsample.minMax(run.map(\.1), maxPoints: budget).map { run[$0] }
        }
    }

    /// The part of a polyline (in axis fractions) inside the unit square; for straight guide
    /// lines given by two or more points, keeps the first and last crossing points.
    private func clip(_ points: [(Double, Double)]) -> [(Double, Double)] {
        var kept: [(Double, Double)] = []
        for (a, b) in zip(points, points.dropFirst()) {
            // Liang–Barsky on the segment a→b against 0 ≤ x, y ≤ 1.
            let dx = b.0 - a.0, dy = b.1 - a.1
            var t0 = 0.0, t1 = 1.0
            var inside = true
            for (p, q) in [(-dx, a.0), (dx, 1 - a.0), (-dy, a.1), (dy, 1 - a.1)] {
                if p == 0 {
                    if q < 0 { inside = false }
                } else {
                    let r = q / p
                    if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
                }
            }
            guard inside, t0 <= t1 else { continue }
            if kept.isEmpty { kept.append((a.0 + t0 * dx, a.1 + t0 * dy)) }
            kept.append((a.0 + t1 * dx, a.1 + t1 * dy))
        }
        return kept
    }
}

/// Vertical bars over consecutive buckets, labelled at the bucket edges.
struct HistogramChart {
    var title: String
    var xTitle: String
    var yTitle: String
    /// `counts.count + 1` edge labels.
    var edges: [String]
    var counts: [UInt64]
    /// Hover text per bar.
    var tooltips: [String]
    var color: String
    var width = 500.0
    var height = 280.0

    func svg() -> String? {
        guard !counts.isEmpty, let top = counts.max(), top > 0 else { return nil }
        let yAxis = ChartAxis.linear(min: 0, max: Double(top), title: yTitle)
        let frame = PlotFrame(left: 58, top: 12, width: width - 58 - 18, height: height - 12 - 44)
        var svg = SVGWriter(width: width, height: height, title: title)
        // The y axis as usual; the x axis is categorical, drawn here.
        let none = ChartAxis(scale: .linear, lo: 0, hi: 1, ticks: [], minorTicks: [], title: xTitle)
        frame.drawAxes(none, yAxis, into: &svg, chartHeight: height)
        let band = frame.width / Double(counts.count)
        let labelEvery = max(1, Int((Double(counts.count) * 44 / frame.width).rounded(.up)))
        for (i, label) in edges.enumerated() where i <= counts.count {
            let x = frame.left + Double(i) * band
            svg.line(x, frame.bottom, x, frame.bottom + 4, stroke: Palette.axis)
            if i % labelEvery == 0 { svg.text(label, x, frame.bottom + 13, anchor: "middle") }
        }
        svg.raw("<g class=\"series\" data-name=\"\(Markup.escape(yTitle))\">\n")
        for (i, count) in counts.enumerated() where count > 0 {
            let h = max(1, frame.height * (yAxis.fraction(Double(count)) ?? 0))
            let gap = min(2, band * 0.15)
            svg.rect(frame.left + Double(i) * band + gap / 2, frame.bottom - h, band - gap, h, fill: color,
                     tooltip: i < tooltips.count ? tooltips[i] : nil)
        }
        svg.raw("</g>\n")
        return svg.finish()
    }
}

/// Horizontal bars, one row per item: name on the left, bar, share and amount on the right.
struct ShareBarChart {
    struct Row {
        var label: String
        var tooltip: String
        var share: Double
        var amount: String
    }

    var title: String
    var xTitle: String
    var rows: [Row]
    var color: String
    var width = 1050.0
    static let rowHeight = 24.0

    func svg() -> String? {
        guard !rows.isEmpty, let top = rows.map(\.share).max(), top > 0 else { return nil }
        let height = 10 + Double(rows.count) * Self.rowHeight + 44
        let percent = ChartAxis.linear(min: 0, max: top * 100, title: xTitle)
        let axis = ChartAxis(scale: .linear, lo: percent.lo, hi: percent.hi,
                             ticks: percent.ticks.map { ($0.value, $0.label + "%") }, minorTicks: [], title: xTitle)
        // Room on the left for the longest name (about 6.3 units a character at font size 11).
        let labelWidth = min(300, max(100, Double(rows.map(\.label.count).max() ?? 0) * 6.3 + 16))
        let frame = PlotFrame(left: labelWidth, top: 10, width: width - labelWidth - 170,
                              height: Double(rows.count) * Self.rowHeight)
        var svg = SVGWriter(width: width, height: height, title: title)
        let none = ChartAxis(scale: .linear, lo: 0, hi: 1, ticks: [], minorTicks: [], title: "")
        frame.drawAxes(axis, none, into: &svg, chartHeight: height)
        svg.raw("<g class=\"series\" data-name=\"\(Markup.escape(title))\">\n")
        for (i, row) in rows.enumerated() {
            let mid = frame.top + (Double(i) + 0.5) * Self.rowHeight
            let w = max(1, frame.width * (axis.fraction(row.share * 100) ?? 0))
            svg.text(row.label, frame.left - 10, mid, anchor: "end", fill: Palette.strongText)
            svg.rect(frame.left, mid - 8, w, 16, fill: color, tooltip: row.tooltip, radius: 2)
            svg.text(Markup.percent(row.share) + "  ·  " + row.amount, frame.left + w + 8, mid)
        }
        svg.raw("</g>\n")
        return svg.finish()
    }
}
