import Foundation

/// What the threads of a sharding job did and when, for `tokenmill shard --trace FILE`: one
/// event per task (read, process, encode, count, write) and per commit, written as Chrome
/// trace-event JSON, which Perfetto (ui.perfetto.dev) and chrome://tracing show as a timeline
/// per thread. Where an encoder waited, and on what, is then plain to see. Recording costs a
/// lock and an append per task (a task is one step of a batch of about a MiB, so they are few).
public final class TaskTrace: @unchecked Sendable {
    // Safety (Sendable): `events` and `threads` are read and written under `lock` only.
    public struct Event: Sendable, Equatable {
        public var name: String
        /// Worker thread: 0, 1, … in the order the threads first recorded something.
        public var thread: Int
        /// Microseconds since the trace began.
        public var start: Double
        public var duration: Double
        public var args: [String: Int] = [:]
    }

    private let lock = NSLock()
    private let origin = ContinuousClock.now
    private var events: [Event] = []
    private var threads: [UInt: Int] = [:]

    public init() {}

    /// Records `name` as having run from `start` until now on the calling thread.
    package func record(_ name: String, since start: ContinuousClock.Instant, args: [String: Int] = [:]) {
        let end = ContinuousClock.now
        #if canImport(Darwin)
        let me = UInt(bitPattern: pthread_self())
        #else
        let me = UInt(pthread_self())
        #endif
        lock.lock()
        defer { lock.unlock() }
        let thread = threads[me] ?? threads.count
        threads[me] = thread
        events.append(Event(name: name, thread: thread, start: microseconds(origin, start),
                            duration: microseconds(start, end), args: args))
    }

    /// The events so far, in the order they ended.
    public var recorded: [Event] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }

    /// Chrome trace-event JSON ("X" complete events; pid 1, one tid per worker thread).
    public func json() -> String {
        let events = recorded
        var out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
        for (i, e) in events.enumerated() {
            let args = e.args.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
            out += String(format: "{\"name\":\"%@\",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.1f,\"dur\":%.1f,\"args\":{%@}}%@\n",
                          e.name, e.thread, e.start, e.duration, args, i == events.count - 1 ? "" : ",")
        }
        return out + "]}\n"
    }

    /// Writes `json()` to `path` (replacing it).
    public func write(to path: String) throws {
        do {
            try json().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ShardsError(.io, path: path, "cannot write the trace: \(error.localizedDescription)")
        }
    }

    private func microseconds(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant) -> Double {
        let d = from.duration(to: to)
        return Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) * 1e-12
    }
}
