import Foundation
import Pipeline
import TestSupport
import Testing

/// The report rendered by a real headless Chromium: a screenshot whose chart regions must hold
/// ink in each chart's own colour, and the browser's DOM. Set TOKENMILL_REPORT_SHOTS=DIR to keep
/// the HTML and the PNG for a look.
@Suite(.enabled(if: Browser.available, "needs chromium and python3 (scripts/setup.sh installs them)"),
       .timeLimit(.minutes(2)))
struct ReportBrowserTests {
    /// Appended to a copy of the report: writes where every chart (and its SVG) landed, and the
    /// page height, into a hidden <pre id="layout"> that --dump-dom shows.
    static let layoutProbe = #"""
    <script>
    (function () {
      var lines = [];
      document.querySelectorAll('[data-chart]').forEach(function (f) {
        var r = f.getBoundingClientRect(), s = f.querySelector('svg');
        var v = [r.left, r.top + window.scrollY, r.width, r.height];
        if (s) { var q = s.getBoundingClientRect(); v = v.concat([q.left, q.top + window.scrollY, q.width, q.height]); }
        lines.push(f.getAttribute('data-chart') + ' ' + v.map(Math.round).join(' '));
      });
      lines.push('page ' + Math.ceil(document.documentElement.scrollHeight));
      var pre = document.createElement('pre');
      pre.id = 'layout';
      pre.style.display = 'none';
      pre.textContent = lines.join('\n');
      document.body.appendChild(pre);
    })();
    </script>
    """#

    struct Placement {
        var figure: RGBImage.Rect
        var svg: RGBImage.Rect?
    }

    /// Reads the probe's output from a dumped DOM.
    static func layout(_ dom: String) throws -> (charts: [String: Placement], pageHeight: Int) {
        let start = try #require(dom.range(of: "<pre id=\"layout\""))
        let body = dom[start.upperBound...]
        let open = try #require(body.firstIndex(of: ">"))
        let close = try #require(body.range(of: "</pre>"))
        var charts: [String: Placement] = [:]
        var pageHeight = 0
        for line in body[body.index(after: open)..<close.lowerBound].split(separator: "\n") {
            let parts = line.split(separator: " ")
            let numbers = parts.dropFirst().compactMap { Int($0) }
            if parts.first == "page" { pageHeight = numbers.first ?? 0; continue }
            guard numbers.count >= 4 else { continue }
            let figure = (numbers[0], numbers[1], numbers[2], numbers[3])
            let svg = numbers.count >= 8 ? (numbers[4], numbers[5], numbers[6], numbers[7]) : nil
            charts[String(parts[0])] = Placement(figure: figure, svg: svg)
        }
        return (charts, pageHeight)
    }

    @Test func chartsRenderWithInkInChromium() throws {
        let dir = try TempDir(prefix: "tokenmill-report")
        let html = Report.html(ReportFixtures.realistic())
        let page = try dir.write("report.html", html)
        let probe = try dir.write("probe.html", html.replacingOccurrences(of: "</body>", with: Self.layoutProbe + "</body>"))

        // The browser's DOM: every chart is there, as SVG with its marks, and no "no data" note.
        let dom = try Browser.dumpDOM(probe, width: 1200, height: 1200)
        let (charts, pageHeight) = try Self.layout(dom)
        #expect(Set(charts.keys) == Set(Report.chartNames))
        #expect(dom.components(separatedBy: "<svg").count - 1 == 7)
        #expect(dom.components(separatedBy: "<polyline").count - 1 >= 10)
        #expect(dom.components(separatedBy: "<rect class=\"bar\"").count - 1 >= 10)
        #expect(!dom.contains("class=\"nodata\""))
        #expect(pageHeight > 1500 && pageHeight < 6000)

        // The screenshot: each chart's SVG holds ink, in its own colours, across its width.
        let png = dir.file("report.png")
        try Browser.screenshot(page, to: png, width: 1200, height: pageHeight)
        if let keep = ProcessInfo.processInfo.environment["TOKENMILL_REPORT_SHOTS"] {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            for name in ["report.html", "report.png"] {
                try? FileManager.default.removeItem(atPath: keep + "/" + name)
                try FileManager.default.copyItem(atPath: dir.file(name), toPath: keep + "/" + name)
            }
        }
        let image = try RGBImage.readPNG(png)
        #expect(image.width == 1200 && image.height == pageHeight)
        let white = RGBImage.color("#ffffff")
        let expected: [(chart: String, colors: [String], minSpan: Double)] = [
            ("loss-steps", ["#2563eb", "#ea580c"], 0.6), ("loss-tokens", ["#2563eb", "#ea580c"], 0.6),
            ("throughput", ["#16a34a"], 0.6), ("learning-rate", ["#0891b2"], 0.6), ("zipf", ["#9333ea"], 0.6),
            ("doc-lengths", ["#0d9488"], 0.6), ("sources", ["#4f46e5"], 0.3),
        ]
        for (chart, colors, minSpan) in expected {
            let svg = try #require(charts[chart]?.svg, "\(chart) has no SVG")
            #expect(svg.width > 400 && svg.height > 150, "\(chart) is \(svg.width)×\(svg.height)")
            let inked = image.count(in: svg) { !RGBImage.isNear($0, white, 6) }
            #expect(inked > svg.width * svg.height / 50, "\(chart): only \(inked) inked pixels")
            for hex in colors {
                let color = RGBImage.color(hex)
                let near = { (p: RGBImage.Pixel) in RGBImage.isNear(p, color, 12) }
                let count = image.count(in: svg, where: near)
                #expect(count > 150, "\(chart): \(count) pixels of \(hex)")
                let box = image.boundingBox(in: svg, where: near)
                let span = Double(box?.width ?? 0) / Double(svg.width)
                // Validation is a sparse series: it still spans the run but with fewer pixels.
                #expect(span >= (hex == "#ea580c" ? 0.5 : minSpan), "\(chart): \(hex) spans \(span) of the width")
            }
        }
        // The samples section shows text.
        let samples = try #require(charts["samples"]?.figure)
        #expect(image.count(in: samples) { $0.r < 120 && $0.g < 120 && $0.b < 120 } > 2000)
    }

    @Test func hostileStringsStayText() throws {
        let dir = try TempDir(prefix: "tokenmill-report")
        let page = try dir.write("hostile.html", Report.html(ReportFixtures.hostileInput()))
        let dom = try Browser.dumpDOM(page, width: 1200, height: 1200)
        #expect(!dom.contains("<script"))
        #expect(!dom.contains("<!-- x -->"))
        #expect(dom.contains("&lt;/script&gt;&lt;b&gt;&amp;\"'&lt;/title&gt;&lt;!-- x --&gt;]]&gt;"))
        // Bold elements: only the sample's prompt.
        #expect(dom.components(separatedBy: "<b>").count - 1 == 1)
    }
}
