import Foundation

/// Items flowing from one producer through several workers to one consumer, handed to the
/// consumer in the order they were produced whatever order the workers finish in.
///
/// At most `capacity` items are between `put` and the consumer's `result` at any time (queued,
/// being worked on, or finished and waiting for an earlier one): that bounds memory.
final class OrderedWork<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queued: [(Int, Item)] = []
    private var queuedHead = 0
    private var finished: [Int: Item] = [:]
    private var produced = 0
    private var consumed = 0
    private var closed = false
    private var cancelled = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Producer: adds the next item, waiting for room. False once cancelled.
    @discardableResult
    func put(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while produced - consumed >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        queued.append((produced, item))
        produced += 1
        condition.broadcast()
        return true
    }

    /// Producer: no more items.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Anyone: stop everything (producer's `put` returns false, workers and consumer get nil).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// Worker: the next item to work on, or nil when there is none left (or on cancel).
    func take() -> (Int, Item)? {
        condition.lock()
        defer { condition.unlock() }
        while queuedHead == queued.count && !closed && !cancelled { condition.wait() }
        if cancelled || queuedHead == queued.count { return nil }
        let next = queued[queuedHead]
        queuedHead += 1
        if queuedHead > 64 && queuedHead * 2 > queued.count {
            queued.removeFirst(queuedHead)
            queuedHead = 0
        }
        return next
    }

    /// Worker: item `seq` is done.
    func complete(_ seq: Int, _ item: Item) {
        condition.lock()
        finished[seq] = item
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next item in production order if it is finished, without waiting.
    func tryResult() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled, let item = finished.removeValue(forKey: consumed) else { return nil }
        consumed += 1
        condition.broadcast()
        return item
    }

    /// Whether the producer may `put` without waiting: not closed, and there is room.
    var acceptsMore: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !closed && produced - consumed < capacity
    }

    /// Consumer: the next item in production order, waiting for it; nil when all are consumed
    /// and the producer closed (or on cancel).
    func result() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while finished[consumed] == nil && !(closed && consumed == produced) && !cancelled { condition.wait() }
        if cancelled { return nil }
        guard let item = finished.removeValue(forKey: consumed) else { return nil }
        consumed += 1
        condition.broadcast()
        return item
    }
}
