/// The set of content hashes seen so far in one ingest: `insert` says whether a hash is new.
///
///     let seen = Deduplicator()
///     seen.insert(ContentHash(Array("a".utf8)))   // true
///     seen.insert(ContentHash(Array("a".utf8)))   // false: a duplicate
///
/// An open-addressing table of 16-byte entries at most half full (32-64 bytes per distinct
/// document). The hashes are already uniform, so `lo` picks the slot directly.
///
/// Not thread-safe: share one instance only between readers that run one after the other, or
/// guard it with a lock.
public final class Deduplicator: @unchecked Sendable {
    private var table: UnsafeMutablePointer<ContentHash>
    private var mask: Int
    private var stored = 0
    /// (0, 0) marks an empty slot; whether the all-zero hash itself was inserted is kept apart.
    private var hasZero = false

    public init() {
        mask = 1023
        table = .allocate(capacity: mask + 1)
        table.initialize(repeating: ContentHash(hi: 0, lo: 0), count: mask + 1)
    }

    deinit { table.deallocate() }

    /// Distinct hashes inserted so far.
    public var count: Int { stored + (hasZero ? 1 : 0) }

    /// Adds `h`; returns true if it was not there before.
    /// - Complexity: amortized O(1).
    @discardableResult
    public func insert(_ h: ContentHash) -> Bool {
        if h.hi == 0 && h.lo == 0 {
            defer { hasZero = true }
            return !hasZero
        }
        if 2 * (stored + 1) > mask + 1 { grow() }
        var i = Int(truncatingIfNeeded: h.lo) & mask
        while true {
            let slot = table[i]
            if slot.hi == 0 && slot.lo == 0 {
                table[i] = h
                stored += 1
                return true
            }
            if slot == h { return false }
            i = (i + 1) & mask
        }
    }

    /// Whether `h` was inserted.
    public func contains(_ h: ContentHash) -> Bool {
        if h.hi == 0 && h.lo == 0 { return hasZero }
        var i = Int(truncatingIfNeeded: h.lo) & mask
        while true {
            let slot = table[i]
            if slot == h { return true }
            if slot.hi == 0 && slot.lo == 0 { return false }
            i = (i + 1) & mask
        }
    }

    private func grow() {
        let old = table, oldSize = mask + 1
        mask = 2 * oldSize - 1
        table = .allocate(capacity: mask + 1)
        table.initialize(repeating: ContentHash(hi: 0, lo: 0), count: mask + 1)
        for j in 0..<oldSize {
            let h = old[j]
            if h.hi == 0 && h.lo == 0 { continue }
            var i = Int(truncatingIfNeeded: h.lo) & mask
            while !(table[i].hi == 0 && table[i].lo == 0) { i = (i + 1) & mask }
            table[i] = h
        }
        old.deallocate()
    }
}
