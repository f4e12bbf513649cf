// The encoder's buffers: the ids of the text being encoded, and the scan merge's scratch.

/// `TokenEncoder`'s output: the ids of the text being encoded, written through a pointer (no
/// uniqueness check or call per id as `Array.append` has) and appended to the caller's array
/// in blocks; and a copy of the byte → id table (so the hot loop reads neither through the
/// tokenizer object). A struct, so that the hot loop's writes to `count` are checked for
/// exclusive access when compiling, not at run time as a class's stored properties are.
///
/// Safety: `ids` is `memory.base` (`capacity` ids) and `byteID` is `byteIDMemory.base` (256
/// ids), kept alive by this value. Ids are written at `count..<capacity` only: a piece of n
/// bytes has at most n ids, and the encoder makes room for n (`makeRoom`) before its first.
struct EncoderOutput {
    private var memory: Allocation<UInt32>
    private let byteIDMemory: Allocation<UInt32>
    private(set) var ids: UnsafeMutablePointer<UInt32>
    private(set) var capacity: Int
    /// Ids written since the last flush.
    var count = 0
    /// The id of each single byte.
    let byteID: UnsafePointer<UInt32>

    static let usualCapacity = 1 << 14

    init(byteID table: [UInt32]) {
        precondition(table.count == 256, "one id per byte")
        memory = Allocation(count: EncoderOutput.usualCapacity)
        ids = memory.base
        capacity = EncoderOutput.usualCapacity
        byteIDMemory = Allocation(count: 256)
        byteIDMemory.base.initialize(from: table, count: 256)
        byteID = UnsafePointer(byteIDMemory.base)
    }

    @inline(__always)
    mutating func append(_ id: UInt32) {
        ids[count] = id
        count &+= 1
    }

    /// Writes `first` and `second` and keeps the first `kept` (1 or 2) of them: no branch on
    /// the count. Room for two is there for any piece of two bytes or more.
    @inline(__always)
    mutating func append(_ first: UInt32, _ second: UInt32, keeping kept: Int) {
        ids[count] = first
        ids[count &+ 1] = second
        count &+= kept
    }

    /// Writes three ids and keeps the first `kept` (1 to 3): for pieces of eight bytes or more.
    @inline(__always)
    mutating func append(_ first: UInt32, _ second: UInt32, _ third: UInt32, keeping kept: Int) {
        ids[count] = first
        ids[count &+ 1] = second
        ids[count &+ 2] = third
        count &+= kept
    }

    /// Appends `source[offset..<(offset + n)]` (a range inside `source`).
    @inline(__always)
    mutating func append(_ source: [UInt32], from offset: Int, count n: Int) {
        precondition(offset >= 0 && n >= 0 && offset + n <= source.count, "ids outside the source")
        guard n > 0 else { return }
        let to = ids + count
        source.withUnsafeBufferPointer { to.update(from: $0.baseAddress! + offset, count: n) }
        count &+= n
    }

    mutating func append(_ source: UnsafeBufferPointer<UInt32>) {
        guard let from = source.baseAddress else { return }
        (ids + count).update(from: from, count: source.count)
        count &+= source.count
    }

    /// The ids written since `count` was `start`.
    @inline(__always)
    func written(since start: Int) -> UnsafeBufferPointer<UInt32> {
        UnsafeBufferPointer(start: ids + start, count: count - start)
    }

    /// Appends the buffered ids to `target` and empties the buffer.
    @inline(__always)
    mutating func flush(into target: inout [UInt32]) {
        if count > 0 { target.append(contentsOf: UnsafeBufferPointer(start: ids, count: count)) }
        count = 0
    }

    /// Back to the usual size (empty), after a piece of more ids than that (a megabyte without
    /// spaces) made the buffer grow: an encoder does not keep room for the longest piece it met.
    mutating func shrink() {
        precondition(count == 0, "flush before shrinking")
        resize(EncoderOutput.usualCapacity)
    }

    /// Flushes, and grows the buffer when `n` ids would still not fit.
    mutating func makeRoom(_ n: Int, flushingInto target: inout [UInt32]) {
        flush(into: &target)
        if n > capacity { resize(n) }
    }

    private mutating func resize(_ n: Int) {
        memory = Allocation(count: n)
        ids = memory.base
        capacity = n
    }
}

/// Scratch buffers of the scan merge, owned by the encoder and reused between pieces.
///
/// Safety: `symbols` and `ranks` are `symbolMemory.base` and `rankMemory.base` (`capacity`
/// each), kept alive by this value; the scan reads and writes below the length of its piece,
/// for which it called `reserve`.
struct EncoderScratch {
    private var symbolMemory = Allocation<UInt32>(count: 256)
    private var rankMemory = Allocation<UInt64>(count: 256)
    private(set) var symbols: UnsafeMutablePointer<UInt32>
    private(set) var ranks: UnsafeMutablePointer<UInt64>
    private(set) var capacity = 256

    init() {
        symbols = symbolMemory.base
        ranks = rankMemory.base
    }

    @inline(__always) mutating func reserve(_ n: Int) {
        if n > capacity {
            symbolMemory = Allocation(count: n)
            rankMemory = Allocation(count: n)
            symbols = symbolMemory.base
            ranks = rankMemory.base
            capacity = n
        }
    }
}
