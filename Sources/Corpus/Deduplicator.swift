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
/// guard it with a lock (`DocumentDeduplicator` does).
///
/// Safety: `table` points to `mask + 1` initialized slots, allocated here and freed by `grow`
/// (which first allocates the larger table) or `deinit`; it never leaves this object but
/// for the duration of `drainSorted`'s `body`.
public final class Deduplicator {
    private var table: UnsafeMutablePointer<ContentHash>
    private var mask: Int
    private var stored = 0
    /// (0, 0) marks an empty slot; whether the all-zero hash itself was inserted is kept apart.
    private var hasZero = false

    public convenience init() { self.init(slots: 1024) }

    /// A table of `slots` slots to start with (a power of two, at least 2).
    init(slots: Int) {
        precondition(slots >= 2 && slots & (slots - 1) == 0, "slots must be a power of two")
        mask = slots - 1
        table = .allocate(capacity: slots)
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

    /// Hashes in the table (the zero hash aside, which takes no slot).
    var tableCount: Int { stored }

    /// Moves the table's hashes (the zero hash aside) to its front in ascending order, hands
    /// them to `body`, then empties the table, which keeps its size. Sorts in place: no memory
    /// beyond the table. If `body` throws, the table is put back as it was (its hashes
    /// rehashed) and the error passed on.
    func drainSorted(_ body: (UnsafeBufferPointer<ContentHash>) throws -> Void) rethrows {
        var n = 0
        for i in 0...mask where table[i] != ContentHash(hi: 0, lo: 0) {
            table[n] = table[i]
            n += 1
        }
        sortInPlace(UnsafeMutableBufferPointer(start: table, count: n))
        do {
            try body(UnsafeBufferPointer(start: table, count: n))
        } catch {
            let hashes = Array(UnsafeBufferPointer(start: table, count: n))
            empty()
            for h in hashes { insert(h) }
            throw error
        }
        empty()
    }

    /// Marks every slot free, keeping the table's size.
    private func empty() {
        table.update(repeating: ContentHash(hi: 0, lo: 0), count: mask + 1)
        stored = 0
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

/// Sorts `a` ascending in place (quicksort, median of three, insertion sort below 24
/// elements; recursing into the smaller side keeps the stack at O(log n)). The standard
/// library's sort would allocate a buffer of half the elements.
func sortInPlace(_ a: UnsafeMutableBufferPointer<ContentHash>) {
    var lo = 0, hi = a.count - 1
    while hi - lo >= 24 {
        let mid = lo + (hi - lo) / 2
        if a[mid] < a[lo] { a.swapAt(mid, lo) }
        if a[hi] < a[lo] { a.swapAt(hi, lo) }
        if a[hi] < a[mid] { a.swapAt(hi, mid) }
        let pivot = a[mid]
        var i = lo, j = hi
        while i <= j {
            while a[i] < pivot { i += 1 }
            while pivot < a[j] { j -= 1 }
            if i <= j {
                a.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if j - lo < hi - i {
            sortInPlace(UnsafeMutableBufferPointer(rebasing: a[lo...j]))
            lo = i
        } else {
            sortInPlace(UnsafeMutableBufferPointer(rebasing: a[i...hi]))
            hi = j
        }
    }
    if lo >= hi { return }
    for k in (lo + 1)...hi {
        let x = a[k]
        var m = k
        while m > lo && x < a[m - 1] {
            a[m] = a[m - 1]
            m -= 1
        }
        a[m] = x
    }
}
