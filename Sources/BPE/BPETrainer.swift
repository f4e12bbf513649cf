// Byte-level BPE training, merge for merge identical to Hugging Face's `BpeTrainer`.
//
// The stages, as in HF's `do_train`:
//   1. special tokens get the first ids;
//   2. the 256 byte-level characters get the next ids, in the order of their stand-in code points;
//   3. each distinct pre-token ("word") becomes a sequence of byte ids, weighted by its count;
//   4. adjacent pairs are counted (count × word frequency) and queued, highest count first,
//      ties to the smallest (left id, right id);
//   5. merge loop: pop the best pair, give the joined bytes an id (or reuse the id of an existing
//      token with the same bytes), merge it left to right without overlaps in every word that
//      holds it, update the neighbours' counts, queue the pairs that gained occurrences.
//
// HF's queue is lazy: an entry whose count went stale is re-queued with the current count when
// popped, and a pair that gains new occurrences gets a second entry carrying only those words.
// Both quirks decide the order of merges, so they are reproduced exactly here. Counts are 64-bit
// (HF keeps pair counts in i32, which overflows past 2^31 occurrences).

/// What to learn: the target vocabulary and the rules of the game.
public struct BPETrainerConfig: Sendable, Hashable, Codable {
    /// Total vocabulary size including special tokens and the 256 byte tokens.
    public var vocabSize: Int
    /// A pair is merged only if it occurs at least this often (0 and 1 mean any pair).
    public var minFrequency: UInt64
    /// Special tokens, given ids 0, 1, … in this order.
    public var specialTokens: [String]
    /// The pre-tokenization rule that splits text into words.
    public var pattern: PreTokenizerPattern

    public init(vocabSize: Int, minFrequency: UInt64 = 0, specialTokens: [String] = ["<|endoftext|>"],
                pattern: PreTokenizerPattern = .gpt2) {
        self.vocabSize = vocabSize
        self.minFrequency = minFrequency
        self.specialTokens = specialTokens
        self.pattern = pattern
    }
}

/// Progress of the merge loop: merges done of the merges wanted.
public typealias MergeProgress = (_ done: Int, _ total: Int) -> Void

public enum BPETrainerError: Error, CustomStringConvertible, Equatable {
    case vocabTooSmall(Int, minimum: Int)
    case duplicateSpecial(String)
    /// `shouldContinue` said stop before the vocabulary was complete.
    case stopped

    public var description: String {
        switch self {
        case let .vocabTooSmall(n, minimum):
            return "vocabulary size \(n) is too small: the special tokens and the 256 byte tokens need \(minimum)"
        case let .duplicateSpecial(s):
            return "special token \(s.debugDescription) is given twice"
        case .stopped:
            return "stopped before the vocabulary was complete"
        }
    }
}

public enum BPETrainer {
    /// Learns a byte-level BPE vocabulary from word counts (see `WordCounter`).
    ///
    ///     var counter = WordCounter(pattern: .gpt2)
    ///     counter.count(Array("low lower lowest".utf8))
    ///     let model = try BPETrainer.train(words: counter, config: BPETrainerConfig(vocabSize: 300))
    ///
    /// - Complexity: O(distinct words × word length) to set up, then per merge O(occurrences of
    ///   the merged pair + log(queue)); memory is O(distinct words), never the corpus size.
    /// `shouldContinue`, asked every 64 merges, stops the loop by throwing `BPETrainerError.stopped`.
    public static func train(words counter: WordCounter, config: BPETrainerConfig,
                             progress: MergeProgress? = nil, shouldContinue: (() -> Bool)? = nil) throws -> BPEModel {
        // 1. Special tokens first.
        var specials: [String] = []
        for s in config.specialTokens {
            if specials.contains(s) { throw BPETrainerError.duplicateSpecial(s) }
            specials.append(s)
        }
        let minimum = specials.count + 256
        if config.vocabSize < minimum { throw BPETrainerError.vocabTooSmall(config.vocabSize, minimum: minimum) }

        // 2. The byte alphabet, ordered by stand-in code point.
        var tokens: [[UInt8]] = specials.map { Array($0.utf8) }
        var idOfByte = [UInt32](repeating: 0, count: 256)
        for b in ByteLevel.bytesByCodePoint {
            idOfByte[Int(b)] = UInt32(tokens.count)
            tokens.append([b])
        }
        var idOfToken: [[UInt8]: UInt32] = [:]
        for (i, t) in tokens.enumerated() where idOfToken[t] == nil { idOfToken[t] = UInt32(i) }

        // 3. Words as id sequences.
        var state = MergeState(counter: counter, idOfByte: idOfByte)

        // 4. Count pairs and queue them.
        state.countPairs()

        // 5. Merge loop.
        var merges: [(pair: UInt64, id: UInt32)] = []
        let wanted = config.vocabSize - idOfToken.count
        while idOfToken.count < config.vocabSize {
            guard let top = state.popBest(minFrequency: config.minFrequency) else { break }
            let left = Int(top >> 32), right = Int(top & 0xFFFF_FFFF)
            let joined = tokens[left] + tokens[right]
            let newID: UInt32
            if let existing = idOfToken[joined] {
                newID = existing
            } else {
                newID = UInt32(tokens.count)
                tokens.append(joined)
                idOfToken[joined] = newID
            }
            merges.append((top, newID))
            state.applyMerge(top, newID: newID)
            progress?(merges.count, wanted)
            if let shouldContinue, merges.count & 63 == 0, !shouldContinue() { throw BPETrainerError.stopped }
        }

        // A pair merged twice (see the header) keeps its last rank, as in HF's merge map.
        var lastRank: [UInt64: Int] = [:]
        for (i, m) in merges.enumerated() { lastRank[m.pair] = i }
        var ranked: [(UInt32, UInt32)] = []
        for (i, m) in merges.enumerated() where lastRank[m.pair] == i {
            ranked.append((UInt32(m.pair >> 32), UInt32(m.pair & 0xFFFF_FFFF)))
        }
        return BPEModel(tokens: tokens, specialCount: specials.count, merges: ranked, pattern: config.pattern)
    }
}

/// The merge loop's working state: words as id sequences in one arena, pair counts, the lazy
/// priority queue and the word lists ("positions") carried by queue entries.
///
/// Safety: `symbols` is `symbolMemory.base`, kept alive by this value: every word's ids, word w
/// at `wordStart[w]..<wordStart[w] + wordLength[w]` (a merge shortens a word in place, never
/// lengthens it).
struct MergeState {
    /// One queue entry: a pair, the count it had when queued, and the words to look in.
    struct Entry {
        var count: UInt64
        var pair: UInt64        // left << 32 | right
        var positions: Int32    // index into `positionLists`
    }

    let symbolMemory: Allocation<UInt32>
    let symbols: UnsafeMutablePointer<UInt32>   // all words' ids, back to back
    var wordStart: [Int]
    var wordLength: [Int32]
    var wordCount: [UInt64]
    var pairCounts = PairTable(capacity: 1 << 16)   // pair → Int64 count (bit pattern)
    var queue: [Entry] = []
    var positionLists: [[Int32]] = []
    var freeLists: [Int32] = []

    init(counter: WordCounter, idOfByte: [UInt32]) {
        var total = 0
        var n = 0
        counter.words.forEach { key, _ in total += key.count; n += 1 }
        symbolMemory = Allocation(count: total)
        symbols = symbolMemory.base
        wordStart = []
        wordLength = []
        wordCount = []
        wordStart.reserveCapacity(n)
        wordLength.reserveCapacity(n)
        wordCount.reserveCapacity(n)
        var at = 0
        counter.words.forEach { key, count in
            wordStart.append(at)
            wordLength.append(Int32(key.count))
            wordCount.append(count)
            for b in key {
                symbols[at] = idOfByte[Int(b)]
                at += 1
            }
        }
    }

    @inline(__always) static func key(_ a: UInt32, _ b: UInt32) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    /// Stage 4: count every adjacent pair, note the words it occurs in, and build the queue.
    mutating func countPairs() {
        var listOfPair = PairTable(capacity: 1 << 16)
        for w in 0..<wordStart.count {
            let s = symbols + wordStart[w]
            let n = Int(wordLength[w])
            if n < 2 { continue }
            let c = wordCount[w]
            for i in 0..<(n - 1) {
                let p = MergeState.key(s[i], s[i + 1])
                let slot = pairCounts.slot(p)
                pairCounts[valueAt: slot] &+= c
                let ls = listOfPair.slot(p, initial: UInt64.max)
                if listOfPair[valueAt: ls] == UInt64.max {
                    listOfPair[valueAt: ls] = UInt64(positionLists.count)
                    positionLists.append([Int32(w)])
                } else {
                    let li = Int(listOfPair[valueAt: ls])
                    if positionLists[li].last != Int32(w) { positionLists[li].append(Int32(w)) }
                }
            }
        }
        queue.reserveCapacity(listOfPair.count)
        listOfPair.forEach { p, li in
            let c = pairCounts.lookup(p)!
            if Int64(bitPattern: c) > 0 {
                queue.append(Entry(count: c, pair: p, positions: Int32(li)))
            } else {
                positionLists[Int(li)] = []
                freeLists.append(Int32(li))
            }
        }
        // Heapify.
        if queue.count > 1 {
            for i in stride(from: queue.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }
    }

    /// `a` comes out of the queue before `b`: higher count first, then the smaller pair.
    @inline(__always) static func before(_ a: Entry, _ b: Entry) -> Bool {
        a.count != b.count ? a.count > b.count : a.pair < b.pair
    }

    mutating func push(_ e: Entry) {
        queue.append(e)
        var i = queue.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !MergeState.before(queue[i], queue[parent]) { break }
            queue.swapAt(i, parent)
            i = parent
        }
    }

    mutating func siftDown(_ start: Int) {
        var i = start
        let n = queue.count
        while true {
            let l = 2 * i + 1
            if l >= n { return }
            var best = l
            if l + 1 < n && MergeState.before(queue[l + 1], queue[l]) { best = l + 1 }
            if !MergeState.before(queue[best], queue[i]) { return }
            queue.swapAt(i, best)
            i = best
        }
    }

    mutating func pop() -> Entry? {
        guard !queue.isEmpty else { return nil }
        let top = queue[0]
        let last = queue.removeLast()
        if !queue.isEmpty {
            queue[0] = last
            siftDown(0)
        }
        return top
    }

    /// The entry popped by the last `popBest`, whose positions `applyMerge` will visit.
    var current: Entry? = nil

    /// Pops the best pair whose queued count is current (re-queuing stale entries, as HF does).
    /// Returns nil when the queue is empty or the best count is below `minFrequency` (or zero).
    mutating func popBest(minFrequency: UInt64) -> UInt64? {
        while var top = pop() {
            let now = pairCounts.lookup(top.pair) ?? 0
            if top.count != now {
                top.count = now
                push(top)
                continue
            }
            if top.count < 1 || minFrequency > top.count { return nil }
            current = top
            return top.pair
        }
        return nil
    }

    /// Merges `pair` into `newID` in the words of the current entry and updates the counts.
    mutating func applyMerge(_ pair: UInt64, newID: UInt32) {
        guard let entry = current else { return }
        let a = UInt32(pair >> 32), b = UInt32(pair & 0xFFFF_FFFF)
        let words = positionLists[Int(entry.positions)]
        positionLists[Int(entry.positions)] = []
        freeLists.append(entry.positions)
        current = nil

        var changes = MergeChanges(counts: pairCounts)
        for w in words {
            let s = symbols + wordStart[Int(w)]
            var n = Int(wordLength[Int(w)])
            let c = wordCount[Int(w)]
            var i = 0
            while i < n {
                if s[i] == a && i + 1 < n && s[i + 1] == b {
                    if i > 0 {
                        changes.change(MergeState.key(s[i - 1], a), -1, w, c)
                        changes.change(MergeState.key(s[i - 1], newID), 1, w, c)
                    }
                    s[i] = newID
                    // Remove the second symbol of the pair.
                    var j = i + 1
                    while j + 1 < n {
                        s[j] = s[j + 1]
                        j += 1
                    }
                    n -= 1
                    if i < n - 1 {
                        changes.change(MergeState.key(b, s[i + 1]), -1, w, c)
                        changes.change(MergeState.key(newID, s[i + 1]), 1, w, c)
                    }
                }
                i += 1
            }
            wordLength[Int(w)] = Int32(n)
        }
        pairCounts = changes.counts

        for (li, p) in changes.newPairs.enumerated() {
            let now = Int64(bitPattern: pairCounts.lookup(p) ?? 0)
            if now > 0 {
                let slot: Int32
                if let f = freeLists.popLast() {
                    slot = f
                    positionLists[Int(f)] = changes.newLists[li]
                } else {
                    slot = Int32(positionLists.count)
                    positionLists.append(changes.newLists[li])
                }
                push(Entry(count: UInt64(now), pair: p, positions: slot))
            }
        }
    }
}

/// What one merge changes: the pair counts, and the pairs that gained occurrences with the words
/// they gained them in. A struct with a mutating method rather than a closure over local
/// variables, whose every call would check exclusive access at run time.
struct MergeChanges {
    var counts: PairTable
    var gained: [UInt64: Int] = [:]     // pair → index into `newLists`
    var newPairs: [UInt64] = []         // in order of first gain, for a deterministic queue
    var newLists: [[Int32]] = []

    init(counts: PairTable) { self.counts = counts }

    /// Adds `delta` occurrences of pair `p` in word `w`, which occurs `c` times.
    @inline(__always)
    mutating func change(_ p: UInt64, _ delta: Int64, _ w: Int32, _ c: UInt64) {
        let slot = counts.slot(p)
        counts[valueAt: slot] = UInt64(bitPattern: Int64(bitPattern: counts[valueAt: slot]) &+ delta &* Int64(bitPattern: c))
        if delta > 0 {
            if let li = gained[p] {
                if newLists[li].last != w { newLists[li].append(w) }
            } else {
                gained[p] = newLists.count
                newPairs.append(p)
                newLists.append([w])
            }
        }
    }
}
