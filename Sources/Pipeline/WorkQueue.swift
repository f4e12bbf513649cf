import Foundation

/// A bounded first-in first-out queue between threads: `put` blocks while full, `take` blocks
/// while empty and returns nil once the queue is closed and drained. Bounding it bounds memory:
/// a fast reader can be at most `capacity` items ahead of the workers.
public final class WorkQueue<Item: Sendable>: @unchecked Sendable {
    // Safety (Sendable): `items`, `head` and `closed` are read and written with `condition`
    // locked; the items themselves are Sendable.
    private var items: [Item] = []
    private var head = 0
    private var closed = false
    private let capacity: Int
    private let condition = NSCondition()

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Adds an item, waiting for room. Returns false if the queue was closed meanwhile.
    @discardableResult
    public func put(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !closed { condition.wait() }
        if closed { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// The next item, or nil when the queue is closed and empty.
    public func take() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        if head == items.count { return nil }
        let item = items[head]
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return item
    }

    /// No more items will come; waiting takers get nil once the queue is drained.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Runs `count` threads executing `body(index)` and waits for all of them.
public func runThreads(_ count: Int, stackSize: Int = 8 << 20, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let t = Thread {
            body(i)
            group.leave()
        }
        t.stackSize = stackSize
        t.start()
    }
    group.wait()
}
