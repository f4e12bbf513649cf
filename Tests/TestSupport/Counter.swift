import Foundation

/// A thread-safe counter, for `shouldContinue` closures that stop a job after n questions.
public final class Counter: @unchecked Sendable {
    // Safety (Sendable): `value` is read and written under `lock` only.
    private let lock = NSLock()
    private var value = 0

    public init() {}

    /// The value before this call.
    public func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}
