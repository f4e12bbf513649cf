/// Encodes text to token ids for one thread, with a cache of frequent pieces. A copy shares the
/// original's caches and buffers: give each thread its own `tokenizer.makeEncoder()`.
///
///     var enc = tokenizer.makeEncoder()
///     var ids: [UInt32] = []
///     enc.encode(text, into: &ids)   // appends
///
/// Each piece from the pre-tokenizer is looked up in the caches (pieces of 2-7 and 8-15 bytes
/// first in `ShortPieceCache` and `MediumPieceCache`, keyed by their bytes in one or two
/// words); a miss runs the BPE merge: the
/// adjacent pair with the lowest rank merges first, the leftmost on ties, until no pair merges.
/// Short pieces use a scan (as tiktoken does), long ones a heap over a linked list, so a
/// megabyte without spaces costs O(n log n), not O(n²).
public struct TokenEncoder {
    let tokenizer: Tokenizer
    let pairs: PairTable
    let wholeTokens: ByteKeyTable
    let wholePieceFirst: Bool
    var cache = ByteKeyTable(capacity: 1 << 14)
    var cacheIDs: [UInt32] = []
    /// Pieces of 2-7 bytes that encode to one or two ids, looked up before `cache`.
    let short = ShortPieceCache()
    /// Pieces of 8-15 bytes that encode to at most three ids, looked up before `cache`.
    let medium = MediumPieceCache()
    /// The end of the text being encoded: a short or medium piece's key is read a word (8
    /// bytes) at a time when the word does not reach past it.
    var textEnd = UnsafePointer<UInt8>(bitPattern: 1)!
    var scratch = EncoderScratch()
    /// Ids of the text being encoded, written through a pointer (no uniqueness check or call per
    /// id as `Array.append` has) and appended to the caller's array in blocks.
    var output: EncoderOutput
    /// Pieces longer than this are not cached. When the cache reaches `cacheLimit` entries it
    /// starts afresh, so memory stays bounded and the pieces frequent *now* get back in at once.
    /// 2^16 entries make a ~3 MB table, near the core's L2: fewer cache misses than a larger
    /// table in L3, hardly more merges, and less exposed to other threads' memory traffic (the
    /// sharder's reading and writing).
    static let cacheMaxPiece = 64
    static let cacheLimit = 1 << 16
    /// Pieces up to this length merge with the quadratic scan; longer ones with the heap.
    static let scanLimit = 128

    init(_ tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        pairs = tokenizer.pairs
        wholeTokens = tokenizer.wholeTokens
        wholePieceFirst = tokenizer.wholePieceFirst
        output = EncoderOutput(byteID: tokenizer.byteID)
    }

    /// Encodes `text` and returns the ids. Special tokens are matched only with `allowSpecial`.
    public mutating func encode(_ text: [UInt8], allowSpecial: Bool = false) -> [UInt32] {
        var ids: [UInt32] = []
        ids.reserveCapacity(text.count / 3 + 4)
        text.withUnsafeBufferPointer { encode($0, into: &ids, allowSpecial: allowSpecial) }
        return ids
    }

    /// Appends the ids of `text` (any bytes: an array, a slice, `Data`…) to `ids`. Special
    /// tokens are matched only with `allowSpecial`.
    public mutating func encode<Bytes: Collection<UInt8>>(_ text: Bytes, into ids: inout [UInt32], allowSpecial: Bool = false) {
        if text.withContiguousStorageIfAvailable({ encode($0, into: &ids, allowSpecial: allowSpecial) }) == nil {
            Array(text).withUnsafeBufferPointer { encode($0, into: &ids, allowSpecial: allowSpecial) }
        }
    }

    /// Appends the ids of `text` to `ids`.
    package mutating func encode(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [UInt32], allowSpecial: Bool = false) {
        if allowSpecial && !tokenizer.model.specials.isEmpty {
            encodeWithSpecials(text, into: &ids)
        } else {
            encodeOrdinary(text, into: &ids)
        }
    }

    /// Encodes without looking for special tokens (their text is encoded as ordinary text).
    package mutating func encodeOrdinary(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [UInt32]) {
        guard let base = text.baseAddress, text.count > 0 else { return }
        output.count = 0
        textEnd = base + text.count
        tokenizer.preTokenizer.split(text) { start, end in
            self.encodePiece(base + start, end - start, into: &ids)
        }
        output.flush(into: &ids)
        if output.capacity > EncoderOutput.usualCapacity { output.shrink() }
    }

    mutating func encodeWithSpecials(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [UInt32]) {
        let specials = tokenizer.model.specials
        let first = tokenizer.specialFirstBytes
        var segmentStart = 0
        var i = 0
        let n = text.count
        while i < n {
            if first[Int(text[i])] {
                // Longest special token starting at i.
                var best: SpecialToken? = nil
                var bestLength = 0
                for s in specials {
                    let u = s.text.utf8
                    if u.count > bestLength && i + u.count <= n && u.elementsEqual(text[i..<(i + u.count)]) {
                        best = s
                        bestLength = u.count
                    }
                }
                if let best {
                    encodeOrdinary(UnsafeBufferPointer(rebasing: text[segmentStart..<i]), into: &ids)
                    ids.append(best.id)
                    i += bestLength
                    segmentStart = i
                    continue
                }
            }
            i += 1
        }
        encodeOrdinary(UnsafeBufferPointer(rebasing: text[segmentStart..<n]), into: &ids)
    }

    /// Encodes one piece into `output` (a piece of n bytes has at most n ids); `ids` receives
    /// what `output` holds when it has no room left.
    @inline(__always)
    mutating func encodePiece(_ p: UnsafePointer<UInt8>, _ n: Int, into ids: inout [UInt32]) {
        if output.count + n > output.capacity { output.makeRoom(n, flushingInto: &ids) }
        if n == 1 {
            output.append(output.byteID[Int(p[0])])
            return
        }
        var shortKey: UInt64 = 0
        if n <= ShortPieceCache.maxPiece {
            shortKey = ShortPieceCache.key(p, n, end: textEnd)
            if let hit = short.lookup(shortKey) {
                // Both ids are written (there is room for n ≥ 2); the count says how many hold.
                output.append(hit.first, hit.second, keeping: hit.count)
                return
            }
        }
        var mediumKey: (UInt64, UInt64) = (0, 0)
        if n > ShortPieceCache.maxPiece && n <= MediumPieceCache.maxPiece {
            mediumKey = MediumPieceCache.key(p, n, end: textEnd)
            if let hit = medium.lookup(mediumKey.0, mediumKey.1) {
                // All three ids are written (there is room for n ≥ 8); the count says how many hold.
                output.append(hit.0, hit.1, hit.2, keeping: hit.count)
                return
            }
        }
        let before = output.count
        defer {
            if shortKey != 0 {
                short.remember(shortKey, output.written(since: before))
            } else if mediumKey.1 != 0 {
                medium.remember(mediumKey.0, mediumKey.1, output.written(since: before))
            }
        }
        let h = fastHash(p, n)
        if let v = cache.lookup(p, n, hash: h) {
            let offset = Int(v >> 32), count = Int(v & 0xFFFF_FFFF)
            output.append(cacheIDs, from: offset, count: count)
            return
        }
        if wholePieceFirst, let id = wholeTokens.lookup(p, n, hash: h) {
            output.append(UInt32(id))
        } else if n <= TokenEncoder.scanLimit {
            mergeScan(p, n)
        } else {
            mergeHeap(p, n)
        }
        if n <= TokenEncoder.cacheMaxPiece {
            if cache.count >= TokenEncoder.cacheLimit {
                cache.removeAll()  // in place: a new table would fault in fresh pages again
                cacheIDs.removeAll(keepingCapacity: true)
            }
            let written = output.written(since: before)
            cache.set(p, n, UInt64(cacheIDs.count) << 32 | UInt64(written.count), hash: h)
            cacheIDs.append(contentsOf: written)
        }
    }

    /// The merge of a short piece: tiktoken's scan for the lowest-ranked adjacent pair.
    mutating func mergeScan(_ p: UnsafePointer<UInt8>, _ n: Int) {
        scratch.reserve(n)
        let sym = scratch.symbols, rank = scratch.ranks
        let byteID = tokenizer.byteID
        for i in 0..<n { sym[i] = byteID[Int(p[i])] }
        var count = n
        for i in 0..<(count - 1) { rank[i] = pairs.lookup(UInt64(sym[i]) << 32 | UInt64(sym[i + 1])) ?? .max }
        while count > 1 {
            var best = 0
            var bestRank = rank[0]
            for i in 1..<(count - 1) where rank[i] < bestRank {
                bestRank = rank[i]
                best = i
            }
            if bestRank == .max { break }
            sym[best] = UInt32(truncatingIfNeeded: bestRank)
            // Remove symbol best+1 and the rank of the pair it started.
            var j = best + 1
            while j + 1 < count {
                sym[j] = sym[j + 1]
                rank[j] = rank[j + 1]
                j += 1
            }
            count -= 1
            if best > 0 { rank[best - 1] = pairs.lookup(UInt64(sym[best - 1]) << 32 | UInt64(sym[best])) ?? .max }
            if best < count - 1 { rank[best] = pairs.lookup(UInt64(sym[best]) << 32 | UInt64(sym[best + 1])) ?? .max }
        }
        output.append(UnsafeBufferPointer(start: sym, count: count))
    }

    /// The merge of a long piece: a min-heap of (rank, position) over a doubly linked list.
    /// Same result as `mergeScan` (lowest rank first, leftmost on ties), in O(n log n).
    mutating func mergeHeap(_ p: UnsafePointer<UInt8>, _ n: Int) {
        var sym = [UInt32](repeating: 0, count: n)
        var next = [Int32](repeating: -1, count: n)
        var prev = [Int32](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        let byteID = tokenizer.byteID
        for i in 0..<n {
            sym[i] = byteID[Int(p[i])]
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            prev[i] = Int32(i - 1)
        }
        // Heap entries: rank value (rank << 32 | id) and left position; ordered by (rank, position).
        var heap: [(rank: UInt64, left: Int32)] = []
        heap.reserveCapacity(n)
        func less(_ a: (rank: UInt64, left: Int32), _ b: (rank: UInt64, left: Int32)) -> Bool {
            a.rank >> 32 != b.rank >> 32 ? a.rank >> 32 < b.rank >> 32 : a.left < b.left
        }
        func push(_ e: (rank: UInt64, left: Int32)) {
            heap.append(e)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if !less(heap[i], heap[parent]) { break }
                heap.swapAt(i, parent)
                i = parent
            }
        }
        func pop() -> (rank: UInt64, left: Int32) {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1
                    if l >= heap.count { break }
                    var m = l
                    if l + 1 < heap.count && less(heap[l + 1], heap[l]) { m = l + 1 }
                    if !less(heap[m], heap[i]) { break }
                    heap.swapAt(i, m)
                    i = m
                }
            }
            return top
        }
        for i in 0..<(n - 1) {
            if let r = pairs.lookup(UInt64(sym[i]) << 32 | UInt64(sym[i + 1])) { push((r, Int32(i))) }
        }
        while !heap.isEmpty {
            let e = pop()
            let l = Int(e.left)
            guard alive[l], next[l] >= 0 else { continue }
            let r = Int(next[l])
            // Stale if the pair at this position changed since the entry was queued.
            guard let current = pairs.lookup(UInt64(sym[l]) << 32 | UInt64(sym[r])), current == e.rank else { continue }
            sym[l] = UInt32(truncatingIfNeeded: e.rank)
            alive[r] = false
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = Int32(l) }
            if prev[l] >= 0, let pr = pairs.lookup(UInt64(sym[Int(prev[l])]) << 32 | UInt64(sym[l])) {
                push((pr, prev[l]))
            }
            if next[l] >= 0, let nr = pairs.lookup(UInt64(sym[l]) << 32 | UInt64(sym[Int(next[l])])) {
                push((nr, Int32(l)))
            }
        }
        var i = 0
        while i >= 0 {
            output.append(sym[i])
            i = Int(next[i])
        }
    }

    /// The reference merge (the slow twin): recompute every adjacent pair's rank each round,
    /// merge the lowest, leftmost on ties. Obviously right; tests compare the fast paths to it.
    public func referenceMerge(_ piece: [UInt8]) -> [UInt32] {
        if wholePieceFirst, let id = wholeTokens.lookup(piece) { return [UInt32(id)] }
        var sym = piece.map { tokenizer.byteID[Int($0)] }
        while sym.count > 1 {
            var best: (rank: UInt64, at: Int)? = nil
            for i in 0..<(sym.count - 1) {
                if let r = pairs.lookup(UInt64(sym[i]) << 32 | UInt64(sym[i + 1])), best == nil || r >> 32 < best!.rank >> 32 {
                    best = (r, i)
                }
            }
            guard let b = best else { break }
            sym[b.at] = UInt32(truncatingIfNeeded: b.rank)
            sym.remove(at: b.at + 1)
        }
        return sym
    }

    /// Merges one piece with the heap path whatever its length (for tests of the long-piece path).
    public mutating func heapMerge(_ piece: [UInt8]) -> [UInt32] {
        merged(piece) { $0.mergeHeap($1, $2) }
    }

    /// Merges one piece with the scan path (for tests).
    public mutating func scanMerge(_ piece: [UInt8]) -> [UInt32] {
        merged(piece) { $0.mergeScan($1, $2) }
    }

    /// The ids `merge` writes to the output buffer for `piece` (for the test entry points above).
    private mutating func merged(_ piece: [UInt8], _ merge: (inout TokenEncoder, UnsafePointer<UInt8>, Int) -> Void) -> [UInt32] {
        if piece.count == 1 { return [tokenizer.byteID[Int(piece[0])]] }
        var ids: [UInt32] = []
        output.count = 0
        output.makeRoom(piece.count, flushingInto: &ids)
        piece.withUnsafeBufferPointer { merge(&self, $0.baseAddress!, $0.count) }
        output.flush(into: &ids)
        return ids
    }
}
