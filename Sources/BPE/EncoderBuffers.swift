// The encoder's buffers: the ids of the text being encoded, and the scan merge's scratch.

/// `TokenEncoder`'s output buffer and a copy of the byte → id table (so the hot loop reads
/// neither through the tokenizer object).
final class EncoderOutput {
    var ids: UnsafeMutablePointer<UInt32>
    var capacity: Int
    var count = 0
    let byteID = UnsafeMutablePointer<UInt32>.allocate(capacity: 256)

    init(capacity: Int) {
        self.capacity = capacity
        ids = .allocate(capacity: capacity)
        byteID.initialize(repeating: 0, count: 256)
    }

    deinit {
        ids.deallocate()
        byteID.deallocate()
    }

    /// Appends the buffered ids to `target` and empties the buffer.
    @inline(__always)
    func flush(into target: inout [UInt32]) {
        if count > 0 { target.append(contentsOf: UnsafeBufferPointer(start: ids, count: count)) }
        count = 0
    }

    static let usualCapacity = 1 << 14

    /// Back to the usual size (empty), after a piece of more ids than that (a megabyte without
    /// spaces) made the buffer grow: an encoder does not keep room for the longest piece it met.
    func shrink() {
        precondition(count == 0, "flush before shrinking")
        ids.deallocate()
        capacity = EncoderOutput.usualCapacity
        ids = .allocate(capacity: capacity)
    }

    /// Flushes, and grows the buffer when `n` ids would still not fit.
    func makeRoom(_ n: Int, flushingInto target: inout [UInt32]) {
        flush(into: &target)
        if n > capacity {
            ids.deallocate()
            capacity = n
            ids = .allocate(capacity: n)
        }
    }
}

/// Scratch buffers of the scan merge, owned by the encoder and reused between pieces.
final class EncoderScratchStorage {
    var symbols: UnsafeMutablePointer<UInt32>
    var ranks: UnsafeMutablePointer<UInt64>
    var capacity: Int
    init(capacity: Int) {
        self.capacity = capacity
        symbols = .allocate(capacity: capacity)
        ranks = .allocate(capacity: capacity)
    }
    deinit {
        symbols.deallocate()
        ranks.deallocate()
    }
}

struct EncoderScratch {
    var storage = EncoderScratchStorage(capacity: 256)
    var symbols: UnsafeMutablePointer<UInt32>
    var ranks: UnsafeMutablePointer<UInt64>
    init() {
        symbols = storage.symbols
        ranks = storage.ranks
    }
    @inline(__always) mutating func reserve(_ n: Int) {
        if n > storage.capacity {
            storage = EncoderScratchStorage(capacity: n)
            symbols = storage.symbols
            ranks = storage.ranks
        }
    }
}
