import ArgumentParser
import Foundation
import GPT
import Pipeline
import Shards

/// `--quiet` and `--log-json FILE`, shared by the long-running commands.
struct ProgressOptions: ParsableArguments {
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    @Option(name: .long, help: ArgumentHelp("Also write progress events as JSON lines to FILE.", valueName: "FILE"))
    var logJSON: String?

    func display(_ stage: String) throws -> ProgressDisplay {
        try ProgressDisplay(stage: stage, quiet: quiet, logJSON: logJSON)
    }
}

/// Shows how far a long stage is, on stderr: one live line on a terminal (done of total, rate,
/// ETA), a plain line every few seconds otherwise, nothing when quiet. Optionally writes every
/// update as a JSON event too.
final class ProgressDisplay: @unchecked Sendable {
    // Safety (Sendable): the `var`s are read and written under `lock` only (`update`, `finish`,
    // `note`); the rest is set in `init`.
    enum Unit { case bytes, count(String) }

    let stage: String
    let quiet: Bool
    let isTerminal: Bool
    let start = Date()
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var drewLive = false
    private let log: FileHandle?
    /// Seconds between plain lines when stderr is not a terminal.
    private let plainInterval: Double = 5

    init(stage: String, quiet: Bool, logJSON: String?) throws {
        self.stage = stage
        self.quiet = quiet
        isTerminal = isatty(2) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        if let logJSON {
            if !FileManager.default.fileExists(atPath: logJSON) {
                _ = FileManager.default.createFile(atPath: logJSON, contents: nil)
            }
            guard let h = FileHandle(forWritingAtPath: logJSON) else {
                throw CommandError("\(logJSON): cannot open for writing")
            }
            h.seekToEndOfFile()
            log = h
        } else {
            log = nil
        }
    }

    /// Reports progress; cheap enough to call often (draws at most every 0.1 s).
    func update(phase: String, done: Int64, total: Int64?, unit: Unit, extra: String = "", fields: [String: Any] = [:]) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        let interval = isTerminal ? 0.1 : plainInterval
        let finished = total.map { done >= $0 } ?? false
        guard now.timeIntervalSince(lastDraw) >= interval || finished else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var line = "\(stage) \(phase): "
        switch unit {
        case .bytes:
            line += formatBytes(done)
            if let total { line += " of \(formatBytes(total))" }
            line += ", \(formatBytes(Int64(rate)))/s"
        case let .count(name):
            line += "\(done)"
            if let total { line += " of \(total)" }
            line += " \(name), \(String(format: "%.0f", rate))/s"
        }
        if let total, total > 0 {
            line += String(format: " (%.0f%%)", 100 * Double(done) / Double(total))
            if rate > 0 && done < total { line += ", ETA \(formatDuration(Double(total - done) / rate))" }
        }
        if !extra.isEmpty { line += ", " + extra }
        if !quiet {
            if isTerminal {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
                drewLive = true
            } else {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        var event: [String: Any] = ["time": now.timeIntervalSince1970, "stage": stage, "phase": phase, "done": done, "elapsed": elapsed]
        if let total { event["total"] = total }
        for (k, v) in fields { event[k] = v }
        writeEvent(event)
    }

    /// Ends the live line and prints a final message.
    func finish(_ message: String, fields: [String: Any] = [:]) {
        lock.lock()
        defer { lock.unlock() }
        if !quiet {
            if drewLive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
        }
        var event: [String: Any] = ["time": Date().timeIntervalSince1970, "stage": stage, "phase": "done",
                                    "elapsed": Date().timeIntervalSince(start), "message": message]
        for (k, v) in fields { event[k] = v }
        writeEvent(event)
        drewLive = false
    }

    /// A line that is not progress (a warning): always shown unless quiet.
    func note(_ message: String) {
        lock.lock()
        defer { lock.unlock() }
        if !quiet {
            if drewLive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            drewLive = false
        }
    }

    private func writeEvent(_ event: [String: Any]) {
        guard let log, let data = try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]) else { return }
        log.write(data + Data("\n".utf8))
    }
}

/// One way to show each job's progress, shared by its command and by `tokenmill run`.
extension ProgressDisplay {
    func show(_ p: LearnProgress) {
        switch p {
        case let .counting(done, total, documents, textBytes):
            update(phase: "counting", done: done, total: total, unit: .bytes,
                   extra: "\(documents) docs, \(formatBytes(textBytes)) text",
                   fields: ["documents": documents, "text_bytes": textBytes])
        case let .merging(done, total):
            update(phase: "merging", done: Int64(done), total: Int64(total), unit: .count("merges"))
        }
    }

    func show(_ p: ShardJobProgress) {
        update(phase: "encoding", done: p.bytesDone, total: p.bytesTotal, unit: .bytes,
               extra: "\(p.documents) docs, \(p.tokens) tokens", fields: ["documents": p.documents, "tokens": p.tokens])
    }

    func show(_ p: TrainingProgress) {
        var extra = String(format: "loss %.4f", p.trainLoss)
        if let v = p.validationLoss { extra += String(format: ", val %.4f", v) }
        extra += String(format: ", lr %.2e, %.0f ms/step, %.0f tok/s", p.learningRate, p.milliseconds, p.tokensPerSecond)
        var fields: [String: Any] = ["train_loss": p.trainLoss, "lr": p.learningRate]
        if let v = p.validationLoss { fields["val_loss"] = v }
        update(phase: "step", done: Int64(p.step + 1), total: Int64(p.totalSteps), unit: .count("steps"), extra: extra, fields: fields)
    }
}

func formatBytes(_ n: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n)
    var u = 0
    while v >= 1000 && u < units.count - 1 {
        v /= 1000
        u += 1
    }
    return u == 0 ? "\(n) B" : String(format: v >= 100 ? "%.0f %@" : "%.1f %@", v, units[u])
}

func formatDuration(_ s: Double) -> String {
    if s < 60 { return String(format: "%.0fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
}
