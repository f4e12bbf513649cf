import Foundation

/// A chart axis: its domain, ticks with labels and (on log axes) minor ticks.
///
///     let x = ChartAxis.linear(min: 0, max: 987, title: "step")
///     x.ticks.map(\.label)  // ["0", "200", "400", "600", "800", "1k"]
///     x.fraction(500)       // 0.5
struct ChartAxis {
    enum Scale { case linear, log }

    let scale: Scale
    /// Domain ends in axis units: the value itself, or its log10 on a log axis.
    let lo: Double, hi: Double
    let ticks: [(value: Double, label: String)]
    /// Log axes: 2×, 3×, … 9× each decade, drawn as faint grid lines.
    let minorTicks: [Double]
    let title: String

    /// Where `value` sits along the axis, 0 at the low end and 1 at the high end; nil when it
    /// cannot be drawn (non-finite, or not positive on a log axis).
    func fraction(_ value: Double) -> Double? {
        guard value.isFinite else { return nil }
        switch scale {
        case .linear: return (value - lo) / (hi - lo)
        case .log: return value > 0 ? (log10(value) - lo) / (hi - lo) : nil
        }
    }

    /// Whether `value` can be placed on this axis at all.
    func accepts(_ value: Double) -> Bool { fraction(value) != nil }

    /// A linear axis over `min...max` with round ticks (1, 2 or 5 × 10^k apart), widened to the
    /// ticks outside the data unless `tight`. An empty range is widened around its value (and,
    /// unless `tight`, an axis over non-negative data never goes below 0).
    static func linear(min: Double, max: Double, title: String, targetTicks: Int = 5, tight: Bool = false) -> ChartAxis {
        var lo = min, hi = max
        if !(hi > lo) {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            if tight {
                // One value (a run of one step): centre it, with a single tick.
                let label = tickLabel(min, step: pad, largest: abs(min) + pad)
                return ChartAxis(scale: .linear, lo: min - pad, hi: min + pad, ticks: [(min, label)], minorTicks: [],
                                 title: title)
            }
            lo -= pad
            hi += pad
            if min >= 0 { lo = Swift.max(lo, 0) }
        }
        let step = niceStep((hi - lo) / Double(targetTicks))
        let first = (lo / step).rounded(tight ? .up : .down), last = (hi / step).rounded(tight ? .down : .up)
        let largest = Swift.max(abs(first), abs(last)) * step
        let ticks = stride(from: first, through: last, by: 1).map { k in
            (value: k * step, label: tickLabel(k * step, step: step, largest: largest))
        }
        return ChartAxis(scale: .linear, lo: tight ? lo : first * step, hi: tight ? hi : last * step, ticks: ticks,
                         minorTicks: [], title: title)
    }

    /// A log10 axis over whole decades covering `min...max` (both > 0); when `tight` and the data
    /// spans two decade ticks or more, it ends at the data instead.
    static func log(min: Double, max: Double, title: String, tight: Bool = false) -> ChartAxis {
        let dataLo = log10(min), dataHi = log10(max)
        var lo = dataLo.rounded(.down), hi = dataHi.rounded(.up)
        if hi <= lo { hi = lo + 1 }
        let tightEnough = tight && dataHi.rounded(.down) - dataLo.rounded(.up) >= 1
        let labelEvery = hi - lo > 8 ? 2 : 1
        var ticks: [(value: Double, label: String)] = []
        var minor: [Double] = []
        for k in 0...Int(hi - lo) {
            let power = lo + Double(k)
            let value = pow(10, power)
            let inside = !tightEnough || (power >= dataLo - 1e-9 && power <= dataHi + 1e-9)
            if inside { ticks.append((value, k % labelEvery == 0 ? Markup.compact(value) : "")) }
            if power < hi {
                minor += (2...9).map { Double($0) * value }.filter { !tightEnough || log10($0) <= dataHi }
            }
        }
        if tightEnough { (lo, hi) = (dataLo, dataHi) }
        return ChartAxis(scale: .log, lo: lo, hi: hi, ticks: ticks, minorTicks: minor, title: title)
    }

    /// 1, 2 or 5 × 10^k, the smallest at least `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough.isFinite, rough > 0 else { return 1 }
        let power = pow(10, floor(log10(rough)))
        let f = rough / power
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power
    }

    /// A tick label with just enough decimals for `step`, trailing zeros trimmed, and an SI suffix
    /// chosen per value ("800", "1k", "1.5M"); "3e-4" style when the whole axis is tiny.
    static func tickLabel(_ value: Double, step: Double, largest: Double) -> String {
        if abs(value) < step * 1e-6 { return "0" }
        if largest < 0.01 {
            let exponent = floor(log10(largest))
            let unit = pow(10, exponent)
            return trimmed(Markup.fixed(value / unit, decimals(step / unit))) + "e" + String(Int(exponent))
        }
        let units: [(Double, String)] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        for (unit, suffix) in units where abs(value) >= unit {
            return trimmed(Markup.fixed(value / unit, decimals(step / unit))) + suffix
        }
        return Markup.fixed(value, decimals(step))
    }

    private static func trimmed(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    private static func decimals(_ step: Double) -> Int {
        max(0, Int(-floor(log10(step) + 1e-9)))
    }
}

/// Picks the points of a long series to draw, so that a chart stays small without losing what
/// the eye looks for.
public enum Downsample {
    /// Indices (ascending) of at most `maxPoints` of `values` (when `maxPoints` ≥ 4) that keep
    /// the line's shape: the values are cut into `maxPoints / 4` equal runs and each run keeps
    /// its first, lowest, highest and last point. So the first and last points and the global
    /// minimum and maximum always survive. Non-finite values are never picked as extremes.
    ///
    ///     Downsample.minMax([5, 1, 7, 3, 2, 9, 4, 6], maxPoints: 4) // [0, 1, 5, 7]
    ///
    /// - Complexity: O(n).
    public static func minMax(_ values: [Double], maxPoints: Int) -> [Int] {
        let n = values.count
        guard n > max(maxPoints, 4) else { return Array(0..<n) }
        let runs = max(1, maxPoints / 4)
        var picked: [Int] = []
        picked.reserveCapacity(runs * 4)
        for r in 0..<runs {
            let start = r * n / runs, end = (r + 1) * n / runs
            guard start < end else { continue }
            var low = start, high = start
            for i in start..<end {
                if values[i] < values[low] || !values[low].isFinite && values[i].isFinite { low = i }
                if values[i] > values[high] || !values[high].isFinite && values[i].isFinite { high = i }
            }
            for i in [start, min(low, high), max(low, high), end - 1] where picked.last != i {
                picked.append(i)
            }
        }
        return picked
    }

    /// Indices (ascending) of about `maxPoints` positions spaced evenly on a log scale over
    /// `0..<count` (for a log-x axis, where index i is drawn at i + 1), always with the first and
    /// the last.
    ///
    ///     Downsample.logSpaced(count: 1000, maxPoints: 4) // [0, 9, 99, 999]
    public static func logSpaced(count: Int, maxPoints: Int) -> [Int] {
        guard count > max(maxPoints, 2) else { return Array(0..<count) }
        let top = log(Double(count))
        var picked: [Int] = []
        for k in 0..<maxPoints {
            let i = min(count - 1, Int((exp(top * Double(k) / Double(maxPoints - 1))).rounded()) - 1)
            if picked.last.map({ $0 < i }) ?? true { picked.append(i) }
        }
        if picked.last != count - 1 { picked.append(count - 1) }
        return picked
    }
}
