// Open-addressing hash tables for the hot paths: byte strings → UInt64 and UInt64 → UInt64.
//
// PERFORMANCE.md: a custom table (fast byte hash, keys in one byte arena, no per-lookup
// allocation, no ARC in the loop) is 5-9× faster than `Dictionary<[UInt8], Int>`. All unsafe
// pointer work of this module's tables lives in this file.

/// A fast, non-cryptographic 64-bit hash of a byte string (wyhash-style multiply-mix).
/// Deterministic across runs and platforms (little-endian loads).
@inlinable @inline(__always)
public func fastHash(_ p: UnsafePointer<UInt8>, _ n: Int, seed: UInt64 = 0x243F_6A88_85A3_08D3) -> UInt64 {
    @inline(__always) func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }
    let raw = UnsafeRawPointer(p)
    var h = seed ^ (UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15)
    var i = 0
    while i + 8 <= n {
        let v = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        h = mix(h ^ v, 0xA076_1D64_78BD_642F)
        i += 8
    }
    if i < n {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            v |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = mix(h ^ v, 0xE703_7ED1_A0B4_28DB)
    }
    return mix(h, 0x8EBC_6AF0_9C88_C6E3)
}

/// Owns the memory of a `ByteKeyTable`; frees it when the last table value goes away.
@usableFromInline
final class ByteKeyTableStorage {
    @usableFromInline var slots: UnsafeMutablePointer<ByteKeyTable.Slot>
    @usableFromInline var arena: UnsafeMutablePointer<UInt8>
    init(slots: UnsafeMutablePointer<ByteKeyTable.Slot>, arena: UnsafeMutablePointer<UInt8>) {
        self.slots = slots
        self.arena = arena
    }
    deinit {
        slots.deallocate()
        arena.deallocate()
    }
}

/// Byte string → UInt64, open addressing with linear probing; keys are copied into one arena.
///
///     var t = ByteKeyTable()
///     t.add(Array("the".utf8), 3)        // t["the"] == 3
///     t.add(Array("the".utf8), 2)        // t["the"] == 5
///
/// A value type holding raw pointers (no ARC in the loop); `storage` keeps them alive. Copies
/// share storage, so treat it as a unique owner (do not mutate two copies).
public struct ByteKeyTable {
    @usableFromInline
    struct Slot {
        @usableFromInline var hash: UInt64
        @usableFromInline var offset: UInt32      // key's start in the arena
        @usableFromInline var length: UInt32      // UInt32.max marks an empty slot
        @usableFromInline var value: UInt64
        @usableFromInline init(hash: UInt64, offset: UInt32, length: UInt32, value: UInt64) {
            self.hash = hash
            self.offset = offset
            self.length = length
            self.value = value
        }
    }

    @usableFromInline var storage: ByteKeyTableStorage
    @usableFromInline var slots: UnsafeMutablePointer<Slot>
    @usableFromInline var arena: UnsafeMutablePointer<UInt8>
    @usableFromInline var mask: Int
    @usableFromInline var arenaUsed: Int
    @usableFromInline var arenaCapacity: Int
    /// Number of keys.
    @usableFromInline var _count: Int
    public var count: Int { _count }

    public init(capacity: Int = 1024) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        let s = UnsafeMutablePointer<Slot>.allocate(capacity: n)
        s.initialize(repeating: Slot(hash: 0, offset: 0, length: .max, value: 0), count: n)
        let cap = Swift.max(1024, capacity * 8)
        let a = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        storage = ByteKeyTableStorage(slots: s, arena: a)
        slots = s
        arena = a
        mask = n - 1
        arenaUsed = 0
        arenaCapacity = cap
        _count = 0
    }

    /// Empties the table in place, keeping its slots and key arena: no allocation, and no fresh
    /// pages to fault in when it fills again. (Like every mutation here, it acts on the storage
    /// that copies of this value share.)
    public mutating func removeAll() {
        slots.update(repeating: Slot(hash: 0, offset: 0, length: .max, value: 0), count: mask + 1)
        arenaUsed = 0
        _count = 0
    }

    /// Bytes of memory held (slots + key arena), for reports.
    public var memoryBytes: Int { (mask + 1) * MemoryLayout<Slot>.stride + arenaCapacity }

    @inlinable @inline(__always)
    func keyEquals(_ slot: Slot, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard Int(slot.length) == n else { return false }
        return memcmpBytes(arena + Int(slot.offset), p, n)
    }

    /// The slot index of `key` (hash `h`), inserting it with value 0 if absent.
    @inlinable
    public mutating func slotIndex(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s.length == .max { break }
            if s.hash == h && keyEquals(s, p, n) { return i }
            i = (i + 1) & mask
        }
        // Insert.
        if (count + 1) * 2 > mask + 1 {
            grow()
            return slotIndex(p, n, hash: h)
        }
        if arenaUsed + n > arenaCapacity { growArena(n) }
        (arena + arenaUsed).update(from: p, count: n)
        slots[i] = Slot(hash: h, offset: UInt32(arenaUsed), length: UInt32(n), value: 0)
        arenaUsed += n
        _count += 1
        return i
    }

    /// Adds `delta` to the value of `key`, inserting it (at 0) if absent.
    @inlinable @inline(__always)
    public mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, _ delta: UInt64) {
        let i = slotIndex(p, n, hash: fastHash(p, n))
        slots[i].value &+= delta
    }

    public mutating func add(_ key: [UInt8], _ delta: UInt64) {
        key.withUnsafeBufferPointer { b in
            let base = b.baseAddress ?? UnsafePointer(bitPattern: 1)!
            add(base, b.count, delta)
        }
    }

    /// Sets the value of `key`.
    @inlinable @inline(__always)
    public mutating func set(_ p: UnsafePointer<UInt8>, _ n: Int, _ value: UInt64, hash h: UInt64) {
        let i = slotIndex(p, n, hash: h)
        slots[i].value = value
    }

    /// The value of `key`, or nil.
    @inlinable @inline(__always)
    public func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> UInt64? {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s.length == .max { return nil }
            if s.hash == h && keyEquals(s, p, n) { return s.value }
            i = (i + 1) & mask
        }
    }

    @inlinable @inline(__always)
    public func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64? {
        lookup(p, n, hash: fastHash(p, n))
    }

    public func lookup(_ key: [UInt8]) -> UInt64? {
        key.withUnsafeBufferPointer { b in lookup(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count) }
    }

    /// Calls `body(key, value)` for every entry, in slot order.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, UInt64) -> Void) {
        for i in 0...mask where slots[i].length != .max {
            let s = slots[i]
            body(UnsafeBufferPointer(start: arena + Int(s.offset), count: Int(s.length)), s.value)
        }
    }

    /// Adds every entry of `other` into this table.
    public mutating func merge(_ other: ByteKeyTable) {
        for i in 0...other.mask where other.slots[i].length != .max {
            let s = other.slots[i]
            let j = slotIndex(other.arena + Int(s.offset), Int(s.length), hash: s.hash)
            slots[j].value &+= s.value
        }
    }

    @usableFromInline
    mutating func grow() {
        let newSize = (mask + 1) * 2
        let newMask = newSize - 1
        let s = UnsafeMutablePointer<Slot>.allocate(capacity: newSize)
        s.initialize(repeating: Slot(hash: 0, offset: 0, length: .max, value: 0), count: newSize)
        for i in 0...mask where slots[i].length != .max {
            var j = Int(truncatingIfNeeded: slots[i].hash) & newMask
            while s[j].length != .max { j = (j + 1) & newMask }
            s[j] = slots[i]
        }
        slots.deallocate()
        slots = s
        storage.slots = s
        mask = newMask
    }

    @usableFromInline
    mutating func growArena(_ need: Int) {
        var cap = arenaCapacity * 2
        while cap < arenaUsed + need { cap *= 2 }
        precondition(cap <= Int(UInt32.max), "ByteKeyTable: key arena over 4 GiB")
        let a = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        a.update(from: arena, count: arenaUsed)
        arena.deallocate()
        arena = a
        storage.arena = a
        arenaCapacity = cap
    }
}

@inlinable @inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Owns the memory of a `PairTable`.
@usableFromInline
final class PairTableStorage {
    @usableFromInline var keys: UnsafeMutablePointer<UInt64>
    @usableFromInline var values: UnsafeMutablePointer<UInt64>
    init(keys: UnsafeMutablePointer<UInt64>, values: UnsafeMutablePointer<UInt64>) {
        self.keys = keys
        self.values = values
    }
    deinit {
        keys.deallocate()
        values.deallocate()
    }
}

/// UInt64 key → UInt64 value (e.g. a token pair `left << 32 | right` → count, or → rank/id).
/// Open addressing, linear probing; the key `UInt64.max` is reserved as "empty".
public struct PairTable {
    public static let emptyKey = UInt64.max
    @usableFromInline var storage: PairTableStorage
    @usableFromInline var keys: UnsafeMutablePointer<UInt64>
    @usableFromInline var values: UnsafeMutablePointer<UInt64>
    @usableFromInline var mask: Int
    @usableFromInline var _count: Int
    public var count: Int { _count }

    public init(capacity: Int = 1024) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        let k = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
        k.initialize(repeating: PairTable.emptyKey, count: n)
        let v = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
        v.initialize(repeating: 0, count: n)
        storage = PairTableStorage(keys: k, values: v)
        keys = k
        values = v
        mask = n - 1
        _count = 0
    }

    @inlinable @inline(__always)
    static func hash(_ key: UInt64) -> Int {
        let h = key &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// The slot of `key`, inserting it with value `initial` if absent.
    @inlinable @inline(__always)
    public mutating func slot(_ key: UInt64, initial: UInt64 = 0) -> Int {
        var i = PairTable.hash(key) & mask
        while true {
            let k = keys[i]
            if k == key { return i }
            if k == PairTable.emptyKey { break }
            i = (i + 1) & mask
        }
        if (count + 1) * 2 > mask + 1 {
            grow()
            return slot(key, initial: initial)
        }
        keys[i] = key
        values[i] = initial
        _count += 1
        return i
    }

    @inlinable @inline(__always)
    public func lookup(_ key: UInt64) -> UInt64? {
        var i = PairTable.hash(key) & mask
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == PairTable.emptyKey { return nil }
            i = (i + 1) & mask
        }
    }

    @inlinable @inline(__always)
    public subscript(valueAt slot: Int) -> UInt64 {
        get { values[slot] }
        nonmutating set { values[slot] = newValue }
    }

    @inlinable @inline(__always)
    public mutating func set(_ key: UInt64, _ value: UInt64) {
        let i = slot(key)
        values[i] = value
    }

    /// Calls `body(key, value)` for every entry, in slot order.
    public func forEach(_ body: (UInt64, UInt64) -> Void) {
        for i in 0...mask where keys[i] != PairTable.emptyKey { body(keys[i], values[i]) }
    }

    @usableFromInline
    mutating func grow() {
        let newSize = (mask + 1) * 2
        let newMask = newSize - 1
        let k = UnsafeMutablePointer<UInt64>.allocate(capacity: newSize)
        k.initialize(repeating: PairTable.emptyKey, count: newSize)
        let v = UnsafeMutablePointer<UInt64>.allocate(capacity: newSize)
        v.initialize(repeating: 0, count: newSize)
        for i in 0...mask where keys[i] != PairTable.emptyKey {
            var j = PairTable.hash(keys[i]) & newMask
            while k[j] != PairTable.emptyKey { j = (j + 1) & newMask }
            k[j] = keys[i]
            v[j] = values[i]
        }
        keys.deallocate()
        values.deallocate()
        keys = k
        values = v
        storage.keys = k
        storage.values = v
        mask = newMask
    }
}
