#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable run of bytes in one heap allocation: the raw memory that Corpus's scanners read
/// and write through pointers. Bytes `0..<count` are in use; `reserve` keeps them when it grows.
///
/// The readers keep a few of these (the read window and scratch space for decoded or repaired
/// text), reuse them for every document, and reach the bytes through `base` in their loops.
/// A struct, so that the readers' accesses to `base` and `count` are checked for exclusive
/// access when compiling (a class's stored properties are checked at run time, at every
/// access). Copies share the bytes: a copy is only ever made to be written back.
///
/// Safety: `base` is `memory.base`, `capacity` bytes kept alive by this value. Only `reserve`
/// and `shrink` replace the memory (with a new allocation; another copy keeps the old one
/// alive); callers re-read `base` after calling them.
struct ByteBuffer {
    private var memory: ByteMemory
    private(set) var base: UnsafeMutablePointer<UInt8>
    var capacity: Int { memory.capacity }
    var count = 0

    init(capacity: Int) {
        memory = ByteMemory(capacity: max(capacity, 16))
        base = memory.base
    }

    /// Makes room for at least `minimumCapacity` bytes (growing by at least half), keeping `0..<count`.
    mutating func reserve(_ minimumCapacity: Int) {
        guard minimumCapacity > capacity else { return }
        let larger = ByteMemory(capacity: max(minimumCapacity, capacity + capacity / 2))
        // Safety: both regions are allocated for at least `count` bytes and do not overlap.
        larger.base.update(from: base, count: count)
        memory = larger
        base = larger.base
    }

    /// Gives back the memory of a buffer that grew past `limit` bytes (for a large document):
    /// empty, at `capacity` bytes again. Scratch buffers call it between documents, so that a
    /// reader does not keep room for the largest document it met.
    mutating func shrink(ifOver limit: Int, to capacity: Int) {
        guard self.capacity > limit else { return }
        memory = ByteMemory(capacity: max(capacity, 16))
        base = memory.base
        count = 0
    }

    /// Appends `n` bytes from `bytes`.
    mutating func append(_ bytes: UnsafePointer<UInt8>, _ n: Int) {
        reserve(count + n)
        (base + count).update(from: bytes, count: n)
        count += n
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    mutating func removeFirst(_ n: Int) {
        guard n > 0 else { return }
        // Safety: source and destination lie inside the allocation; memmove handles the overlap.
        memmove(base, base + n, count - n)
        count -= n
    }

    /// The bytes in use, as an array (one copy).
    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// The memory behind a `ByteBuffer`: `capacity` bytes, freed when the last buffer holding it
/// goes. It never moves or resizes.
///
/// Safety: `base` points to `capacity` allocated bytes from `init` to `deinit`.
final class ByteMemory {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int

    init(capacity: Int) {
        base = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    deinit { base.deallocate() }
}
