import Foundation

/// Escaping and number formatting shared by the report's HTML and SVG. Everything here is
/// locale-free, so the same input always gives the same bytes.
enum Markup {
    /// Escapes `text` for HTML and XML, in content and in quoted attribute values alike. Control
    /// characters other than tab and newlines (which XML forbids) become their visible pictures
    /// (U+2400…), so model output of any kind cannot break the page.
    ///
    ///     Markup.escape("a<b & \"c\"") // "a&lt;b &amp; &quot;c&quot;"
    static func escape(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            switch u {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            case "'": out.append(contentsOf: "&#39;".unicodeScalars)
            case "\t", "\n", "\r": out.append(u)
            default:
                if u.value < 0x20 {
                    out.append(Unicode.Scalar(0x2400 + u.value) ?? "\u{FFFD}")
                } else if u.value == 0x7F {
                    out.append("\u{2421}")
                } else if u.value == 0xFFFE || u.value == 0xFFFF {
                    out.append("\u{FFFD}")
                } else {
                    out.append(u)
                }
            }
        }
        return String(out)
    }

    /// `x` with `decimals` digits after the point; never "-0".
    static func fixed(_ x: Double, _ decimals: Int) -> String {
        let s = String(format: "%.\(max(0, min(decimals, 12)))f", x)
        if s.hasPrefix("-"), s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { return String(s.dropFirst()) }
        return s
    }

    /// An SVG coordinate: one decimal, without a trailing ".0".
    static func coord(_ x: Double) -> String {
        let s = fixed(x, 1)
        return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }

    /// An integer with thousands separators: 1234567 → "1,234,567".
    static func grouped(_ n: UInt64) -> String {
        let digits = Array(String(n))
        var out = ""
        for (k, d) in digits.enumerated() {
            if k > 0, (digits.count - k) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }

    /// A short human number with three significant digits: 9893.1 → "9.89k", 32768000 → "32.8M",
    /// 3.412 → "3.41", 0.0003 → "3e-4". Non-finite → "n/a".
    static func compact(_ x: Double) -> String {
        guard x.isFinite else { return "n/a" }
        if x == 0 { return "0" }
        let a = abs(x)
        if a < 0.01 { return scientific(x, significant: 2) }
        let units: [(Double, String)] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")]
        for (scale, suffix) in units where a >= scale * 0.9995 || scale == 1 {
            return significant(x / scale, 3) + suffix
        }
        return significant(x, 3)
    }

    /// `x` to `digits` significant digits, trailing zeros removed (for |x| ≥ 0.01).
    static func significant(_ x: Double, _ digits: Int) -> String {
        let magnitude = x == 0 ? 0 : Int(floor(log10(abs(x))))
        var s = fixed(x, max(0, digits - 1 - magnitude))
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// "3e-4", "2.5e-5": mantissa to `significant` digits.
    static func scientific(_ x: Double, significant digits: Int) -> String {
        var exponent = Int(floor(log10(abs(x))))
        var mantissa = x / pow(10, Double(exponent))
        if abs(Double(significant(mantissa, digits)) ?? 0) >= 10 { exponent += 1; mantissa /= 10 }
        return significant(mantissa, digits) + "e" + String(exponent)
    }

    /// A percentage with a precision that suits its size: "48.2%", "0.31%", "<0.01%".
    static func percent(_ share: Double) -> String {
        let p = share * 100
        if p == 0 { return "0%" }
        if p < 0.01 { return "<0.01%" }
        return (p >= 10 ? fixed(p, 1) : fixed(p, 2)) + "%"
    }
}
