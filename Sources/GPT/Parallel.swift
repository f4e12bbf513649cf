import Dispatch

/// Runs independent tasks on a fixed number of workers.
///
/// Work is cut into tasks whose boundaries never depend on timing, and every task writes its own
/// outputs, so results are the same however the tasks land on threads. Reductions are never
/// split across tasks in a timing-dependent way: a kernel that reduces over rows gives each task
/// a slice of *columns* and walks the rows in order, so it adds in the same order as the naive
/// loop.
package struct Parallel: Sendable {
    /// Number of workers (1 = run on the caller's thread).
    package let threads: Int

    package init(threads: Int) { self.threads = max(1, threads) }

    /// Calls `body(task, worker)` for every `task` in `0..<count`; `worker` is in `0..<threads`
    /// and no two calls with the same `worker` run at the same time (per-worker scratch is safe).
    /// Tasks go to workers round-robin.
    @inline(__always)
    package func forEach(_ count: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if threads == 1 || count <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let workers = min(threads, count)
        withoutActuallyEscaping(body) { body in
            let shared = SharedBody(call: body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < count {
                    shared.call(i, w)
                    i += workers
                }
            }
        }
    }

    /// Splits `0..<total` into one contiguous range per worker (at least `minimum` items each) and
    /// calls `body` on each. Use only where each item's result does not depend on the split.
    @inline(__always)
    package func forEachRange(_ total: Int, minimum: Int = 1, _ body: (Range<Int>) -> Void) {
        let parts = max(1, min(threads, total / max(minimum, 1)))
        if parts == 1 {
            if total > 0 { body(0..<total) }
            return
        }
        forEach(parts) { p, _ in
            body(Parallel.slice(total, part: p, of: parts))
        }
    }

    /// The `part`-th of `parts` near-equal contiguous slices of `0..<total`.
    @inline(__always)
    package static func slice(_ total: Int, part: Int, of parts: Int) -> Range<Int> {
        let base = total / parts, extra = total % parts
        let start = part * base + min(part, extra)
        return start..<(start + base + (part < extra ? 1 : 0))
    }
}

/// A task body shared with the workers of one `concurrentPerform`.
// Sendable: the workers only call it, each on its own tasks, and concurrentPerform returns after
// the last call, so it never outlives the caller's frame. What it touches is the kernels'
// contract: every task writes its own outputs, and the inputs are not written while it runs.
private struct SharedBody: @unchecked Sendable {
    let call: (_ task: Int, _ worker: Int) -> Void
}
