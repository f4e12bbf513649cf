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
///
/// Safety: `base` points at `capacity` allocated bytes until `reserve` reallocates or the buffer
/// is released; callers re-read `base` after any call that may grow the buffer and never keep it
/// beyond the buffer's lifetime.
final class ByteBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for at least `minimumCapacity` bytes (growing by at least half), keeping `0..<count`.
    func reserve(_ minimumCapacity: Int) {
        guard minimumCapacity > capacity else { return }
        let newCapacity = max(minimumCapacity, capacity + capacity / 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        // Safety: both regions are allocated for at least `count` bytes and do not overlap.
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Gives back the memory of a buffer that grew past `limit` bytes (for a large document):
    /// empty, at `capacity` bytes again. Scratch buffers call it between documents, so that a
    /// reader does not keep room for the largest document it met.
    func shrink(ifOver limit: Int, to capacity: Int) {
        guard self.capacity > limit else { return }
        base.deallocate()
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
    }

    /// Appends `n` bytes from `bytes`.
    func append(_ bytes: UnsafePointer<UInt8>, _ n: Int) {
        reserve(count + n)
        (base + count).update(from: bytes, count: n)
        count += n
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    func removeFirst(_ n: Int) {
        guard n > 0 else { return }
        // Safety: source and destination lie inside the allocation; memmove handles the overlap.
        memmove(base, base + n, count - n)
        count -= n
    }

    /// The bytes in use, as an array (one copy).
    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
