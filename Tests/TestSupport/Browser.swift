import Foundation

/// Renders HTML in a real headless Chromium (Debian's `chromium` package; `scripts/setup.sh`
/// installs it). Each run gets a fresh profile directory, so runs in parallel do not meet.
///
///     try Browser.screenshot("/tmp/report.html", to: "/tmp/report.png", width: 1200, height: 3000)
///     let dom = try Browser.dumpDOM("/tmp/report.html")
///     let image = try RGBImage.readPNG("/tmp/report.png")
public enum Browser {
    /// The Chromium binary: `$CHROMIUM`, else the first of chromium, chromium-browser,
    /// google-chrome on PATH.
    public static let path: String? = {
        if let p = ProcessInfo.processInfo.environment["CHROMIUM"] {
            return FileManager.default.isExecutableFile(atPath: p) ? p : nil
        }
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for dir in dirs where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }()

    /// Whether the browser tests can run: Chromium to render, python3 to inflate its PNGs.
    public static var available: Bool { path != nil && Run.pythonPath != nil }

    /// The flags every run uses. `--headless` is the new headless mode (the old one left the
    /// main binary in Chromium 132); `--no-sandbox` because tests may run as root;
    /// `--disable-dev-shm-usage` because containers have a small /dev/shm.
    public static let flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-dev-shm-usage",
        "--force-device-scale-factor=1", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
        "--mute-audio",
    ]

    /// "Chromium 156.0.8078.108 built on Debian …".
    public static func version() throws -> String {
        let r = try run(["--version"], timeout: 30)
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Renders the HTML file at `htmlPath` in a `width`×`height` window and writes a PNG of it.
    public static func screenshot(_ htmlPath: String, to pngPath: String, width: Int = 1200, height: Int = 3000,
                                  timeout: Double = 60) throws {
        try? FileManager.default.removeItem(atPath: pngPath)
        let r = try run(["--window-size=\(width),\(height)", "--screenshot=\(pngPath)", fileURL(htmlPath)],
                        timeout: timeout)
        guard r.status == 0, FileManager.default.fileExists(atPath: pngPath) else {
            throw BrowserError.failed(status: r.status, stderr: tail(r.err))
        }
    }

    /// The DOM after loading (and running any scripts in) the HTML file, serialised as HTML.
    public static func dumpDOM(_ htmlPath: String, width: Int = 1200, height: Int = 3000,
                               timeout: Double = 60) throws -> String {
        let r = try run(["--window-size=\(width),\(height)", "--dump-dom", fileURL(htmlPath)], timeout: timeout)
        guard r.status == 0, !r.stdout.isEmpty else { throw BrowserError.failed(status: r.status, stderr: tail(r.err)) }
        return r.out
    }

    static func fileURL(_ path: String) -> String { URL(fileURLWithPath: path).absoluteString }

    static func tail(_ text: String) -> String {
        // Chromium logs harmless D-Bus complaints on machines without a session bus; keep the rest.
        let lines = text.split(separator: "\n").filter { !$0.contains("dbus") && !$0.contains("D-Bus") }
        return lines.suffix(5).joined(separator: "\n")
    }

    /// Runs Chromium with `flags + arguments` in a fresh profile, under coreutils `timeout` (which
    /// stops it after `timeout` seconds and kills it 5 s later if it lingers).
    static func run(_ arguments: [String], timeout: Double) throws -> ProcessResult {
        guard let path else { throw BrowserError.notInstalled }
        let profile = try TempDir(prefix: "tokenmill-chromium")
        let chromium = [path] + flags + ["--user-data-dir=\(profile.path)"] + arguments
        guard FileManager.default.isExecutableFile(atPath: timeoutPath) else {
            return try Run.process(path, Array(chromium.dropFirst()))
        }
        let r = try Run.process(timeoutPath, ["-k", "5", String(Int(timeout.rounded(.up)))] + chromium)
        if r.status == 124 || r.status == 137 { throw BrowserError.timedOut(seconds: timeout, arguments: arguments) }
        return r
    }

    static let timeoutPath = "/usr/bin/timeout"
}

public enum BrowserError: Error, CustomStringConvertible {
    case notInstalled
    case timedOut(seconds: Double, arguments: [String])
    case failed(status: Int32, stderr: String)

    public var description: String {
        switch self {
        case .notInstalled: return "chromium not found (apt-get install chromium, or set $CHROMIUM)"
        case let .timedOut(s, args): return "chromium did not finish in \(Int(s)) s: \(args.joined(separator: " "))"
        case let .failed(status, stderr): return "chromium failed with status \(status): \(stderr)"
        }
    }
}
