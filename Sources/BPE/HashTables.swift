// Open-addressing hash tables for the hot paths: byte strings → UInt64 and UInt64 → UInt64.
//
// A custom table (fast byte hash, keys in one byte arena, no per-lookup allocation, no ARC in
// the loop) instead of `Dictionary<[UInt8], Int>`, which allocates an array per lookup. All
// unsafe pointer work of this module's tables lives in this file; their memory is owned by
// `Allocation`s.

/// A fast, non-cryptographic 64-bit hash of a byte string (wyhash-style multiply-mix).
/// Deterministic across runs and platforms (little-endian loads).
@inlinable @inline(__always)
package func fastHash(_ p: UnsafePointer<UInt8>, _ n: Int, seed: UInt64 = 0x243F_6A88_85A3_08D3) -> UInt64 {
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

/// Byte string → UInt64, open addressing with linear probing; keys are copied into one arena.
///
///     var t = ByteKeyTable()
///     t.add(Array("the".utf8), 3)        // t["the"] == 3
///     t.add(Array("the".utf8), 2)        // t["the"] == 5
///
/// A value type holding raw pointers (no ARC in the loop) next to the allocations that own
/// them. Copies share the memory until one grows: mutate one copy only (a mutation through
/// another may be seen or overwritten, though never touches freed memory).
///
/// Safety: `slots` is `slotMemory.base` (`mask + 1` slots) and `arena` is `arenaMemory.base`
/// (`arenaCapacity` bytes), kept alive by this value. Every slot index is masked by `mask`; a
/// key is copied into the arena only after room is made for it; growing allocates anew and
/// copies, never freeing what another copy may still point to.
package struct ByteKeyTable {
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

    @usableFromInline var slotMemory: Allocation<Slot>
    @usableFromInline var arenaMemory: Allocation<UInt8>
    @usableFromInline var slots: UnsafeMutablePointer<Slot>
    @usableFromInline var arena: UnsafeMutablePointer<UInt8>
    @usableFromInline var mask: Int
    @usableFromInline var arenaUsed: Int
    @usableFromInline var arenaCapacity: Int
    /// Number of keys.
    @usableFromInline var _count: Int
    package var count: Int { _count }

    package init(capacity: Int = 1024) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        let cap = Swift.max(1024, capacity * 8)
        slotMemory = Allocation(count: n, repeating: Slot(hash: 0, offset: 0, length: .max, value: 0))
        arenaMemory = Allocation(count: cap)
        slots = slotMemory.base
        arena = arenaMemory.base
        mask = n - 1
        arenaUsed = 0
        arenaCapacity = cap
        _count = 0
    }

    /// Empties the table in place, keeping its slots and key arena: no allocation, and no fresh
    /// pages to fault in when it fills again. (Like every mutation here, it acts on the memory
    /// that copies of this value share.)
    package mutating func removeAll() {
        slots.update(repeating: Slot(hash: 0, offset: 0, length: .max, value: 0), count: mask + 1)
        arenaUsed = 0
        _count = 0
    }

    /// Bytes of memory held (slots + key arena), for reports.
    package var memoryBytes: Int { (mask + 1) * MemoryLayout<Slot>.stride + arenaCapacity }

    @inlinable @inline(__always)
    func keyEquals(_ slot: Slot, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard Int(slot.length) == n else { return false }
        return memcmpBytes(arena + Int(slot.offset), p, n)
    }

    /// The slot index of `key` (hash `h`), inserting it with value 0 if absent.
    @inlinable
    package mutating func slotIndex(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int {
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
    package mutating func add(_ p: UnsafePointer<UInt8>, _ n: Int, _ delta: UInt64) {
        let i = slotIndex(p, n, hash: fastHash(p, n))
        slots[i].value &+= delta
    }

    package mutating func add(_ key: [UInt8], _ delta: UInt64) {
        key.withUnsafeBufferPointer { b in
            let base = b.baseAddress ?? UnsafePointer(bitPattern: 1)!
            add(base, b.count, delta)
        }
    }

    /// Sets the value of `key`.
    @inlinable @inline(__always)
    package mutating func set(_ p: UnsafePointer<UInt8>, _ n: Int, _ value: UInt64, hash h: UInt64) {
        let i = slotIndex(p, n, hash: h)
        slots[i].value = value
    }

    /// The value of `key`, or nil.
    @inlinable @inline(__always)
    package func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> UInt64? {
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s.length == .max { return nil }
            if s.hash == h && keyEquals(s, p, n) { return s.value }
            i = (i + 1) & mask
        }
    }

    @inlinable @inline(__always)
    package func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64? {
        lookup(p, n, hash: fastHash(p, n))
    }

    package func lookup(_ key: [UInt8]) -> UInt64? {
        key.withUnsafeBufferPointer { b in lookup(b.baseAddress ?? UnsafePointer(bitPattern: 1)!, b.count) }
    }

    /// Calls `body(key, value)` for every entry, in slot order.
    package func forEach(_ body: (UnsafeBufferPointer<UInt8>, UInt64) -> Void) {
        for i in 0...mask where slots[i].length != .max {
            let s = slots[i]
            body(UnsafeBufferPointer(start: arena + Int(s.offset), count: Int(s.length)), s.value)
        }
    }

    /// Adds every entry of `other` into this table.
    package mutating func merge(_ other: ByteKeyTable) {
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
        let memory = Allocation(count: newSize, repeating: Slot(hash: 0, offset: 0, length: .max, value: 0))
        let s = memory.base
        for i in 0...mask where slots[i].length != .max {
            var j = Int(truncatingIfNeeded: slots[i].hash) & newMask
            while s[j].length != .max { j = (j + 1) & newMask }
            s[j] = slots[i]
        }
        slotMemory = memory
        slots = s
        mask = newMask
    }

    @usableFromInline
    mutating func growArena(_ need: Int) {
        var cap = arenaCapacity * 2
        while cap < arenaUsed + need { cap *= 2 }
        precondition(cap <= Int(UInt32.max), "ByteKeyTable: key arena over 4 GiB")
        let memory = Allocation<UInt8>(count: cap)
        memory.base.update(from: arena, count: arenaUsed)
        arenaMemory = memory
        arena = memory.base
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

/// UInt64 key → UInt64 value (e.g. a token pair `left << 32 | right` → count, or → rank/id).
/// Open addressing, linear probing; the key `UInt64.max` is reserved as "empty". Like
/// `ByteKeyTable`, a value holding raw pointers next to their allocations: mutate one copy only.
///
/// Safety: `keys` and `values` are `keyMemory.base` and `valueMemory.base` (`mask + 1` entries
/// each), kept alive by this value; every index is masked by `mask` (or is a slot a lookup
/// returned); growing allocates anew, never freeing what another copy may still point to.
package struct PairTable {
    package static let emptyKey = UInt64.max
    @usableFromInline var keyMemory: Allocation<UInt64>
    @usableFromInline var valueMemory: Allocation<UInt64>
    @usableFromInline var keys: UnsafeMutablePointer<UInt64>
    @usableFromInline var values: UnsafeMutablePointer<UInt64>
    @usableFromInline var mask: Int
    @usableFromInline var _count: Int
    package var count: Int { _count }

    package init(capacity: Int = 1024) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keyMemory = Allocation(count: n, repeating: PairTable.emptyKey)
        valueMemory = Allocation(count: n, repeating: 0)
        keys = keyMemory.base
        values = valueMemory.base
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
    package mutating func slot(_ key: UInt64, initial: UInt64 = 0) -> Int {
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
    package func lookup(_ key: UInt64) -> UInt64? {
        var i = PairTable.hash(key) & mask
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == PairTable.emptyKey { return nil }
            i = (i + 1) & mask
        }
    }

    @inlinable @inline(__always)
    package subscript(valueAt slot: Int) -> UInt64 {
        get { values[slot] }
        nonmutating set { values[slot] = newValue }
    }

    @inlinable @inline(__always)
    package mutating func set(_ key: UInt64, _ value: UInt64) {
        let i = slot(key)
        values[i] = value
    }

    /// Calls `body(key, value)` for every entry, in slot order.
    package func forEach(_ body: (UInt64, UInt64) -> Void) {
        for i in 0...mask where keys[i] != PairTable.emptyKey { body(keys[i], values[i]) }
    }

    @usableFromInline
    mutating func grow() {
        let newSize = (mask + 1) * 2
        let newMask = newSize - 1
        let newKeys = Allocation(count: newSize, repeating: PairTable.emptyKey)
        let newValues = Allocation<UInt64>(count: newSize, repeating: 0)
        let k = newKeys.base, v = newValues.base
        for i in 0...mask where keys[i] != PairTable.emptyKey {
            var j = PairTable.hash(keys[i]) & newMask
            while k[j] != PairTable.emptyKey { j = (j + 1) & newMask }
            k[j] = keys[i]
            v[j] = values[i]
        }
        keyMemory = newKeys
        valueMemory = newValues
        keys = k
        values = v
        mask = newMask
    }
}
