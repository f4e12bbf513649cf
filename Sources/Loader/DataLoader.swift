// The streaming DataLoader: batches of `batchSize × contextLength` input tokens and their
// next-token targets, read from the memory-mapped shards of one split of a sharded corpus.
//
// Sequential mode is llm.c's `llmc/dataloader.h` without shuffling: with P processes, rank r
// reads sample i of a shard at token i·P·B·T + r·B·T (B·T + 1 tokens: inputs and targets
// shifted by one); a shard holds ⌊(tokens − 1) / (P·B·T)⌋ samples; when a shard runs out the
// next is loaded, and after the last shard the loader wraps to the first (a new epoch).
// Shards too small for one sample (which llm.c refuses) are skipped.
//
// Shuffled mode: each shard is cut into rows of T + 1 tokens starting every T tokens
// (⌊(tokens − 1) / T⌋ rows); the rows of all shards, numbered in shard order, are visited
// epoch after epoch in the order of `SamplePermutation(count: rows, seed:, epoch:)`. That
// stream depends only on seed and epoch; global batch k is rows k·P·B ..< (k+1)·P·B of it,
// and rank r takes rows r·B ..< (r+1)·B of each global batch.

import Common
import Foundation
import Shards

/// Reads batches from a sharded corpus.
///
///     let loader = try DataLoader(directory: "out", options: .init(batchSize: 4, contextLength: 64))
///     var inputs = [Int32](repeating: 0, count: 4 * 64), targets = inputs
///     try loader.nextBatch(inputs: &inputs, targets: &targets)
///     let state = loader.saveState()      // store with the checkpoint; restoreState(state) resumes exactly
public final class DataLoader {
    public struct Options: Sendable, Equatable {
        public var split: Split
        public var batchSize: Int
        public var contextLength: Int
        /// This process's rank and the number of processes (data-parallel training).
        public var rank: Int
        public var worldSize: Int
        /// Shuffled (seeded permutation per epoch) or sequential (llm.c's order).
        public var shuffle: Bool
        public var seed: UInt64
        /// When set, a corpus sharded with another tokenizer or vocabulary size is refused.
        public var expectedTokenizerFingerprint: String?
        public var expectedVocabSize: Int?
        /// Read the next batch on a background thread while the caller works on this one.
        public var prefetch: Bool

        public init(split: Split = .train, batchSize: Int, contextLength: Int, rank: Int = 0, worldSize: Int = 1,
                    shuffle: Bool = true, seed: UInt64 = 42, expectedTokenizerFingerprint: String? = nil,
                    expectedVocabSize: Int? = nil, prefetch: Bool = true) {
            self.split = split
            self.batchSize = batchSize
            self.contextLength = contextLength
            self.rank = rank
            self.worldSize = worldSize
            self.shuffle = shuffle
            self.seed = seed
            self.expectedTokenizerFingerprint = expectedTokenizerFingerprint
            self.expectedVocabSize = expectedVocabSize
            self.prefetch = prefetch
        }
    }

    /// Where the loader stands: the next batch it will serve.
    public struct Position: Sendable, Equatable {
        /// Sequential: full passes over the shards so far. Shuffled: `row / rowsPerEpoch`.
        public var epoch: Int64
        /// Sequential: index into `shards` (usable ones) and llm.c's `current_sample_idx`.
        public var shardIndex: Int64
        public var sampleIndex: Int64
        /// Shuffled: rows of the global stream consumed by all ranks so far.
        public var row: Int64
    }

    public let directory: String
    public let options: Options
    public let settings: CorpusSettings
    /// The split's shards in order (sequential mode skips those too small for one sample).
    /// The split's shards, as the index lists them.
    public var shards: [ShardCatalogue.Shard] { layout.shards }
    public var batchSize: Int { options.batchSize }
    public var contextLength: Int { options.contextLength }
    public var totalTokens: Int64 { shards.reduce(0) { $0 + $1.tokens } }
    /// Sequential: samples per shard (per process). Shuffled: rows per shard.
    public var unitsPerShard: [Int64] { layout.unitsPerShard }
    /// Shuffled: rows in one epoch.
    public var rowsPerEpoch: Int64 { layout.rowsPerEpoch }
    public var position: Position { staging.position }
    /// The epoch of the next batch.
    public var epoch: Int64 { layout.normalized(staging.position).epoch }

    private let layout: BatchLayout
    private let maps: ShardMaps
    private let corpusIdentity: UInt64

    private let prefetcher = Prefetcher()
    private var staging: Staging

    public init(directory: String, options: Options) throws {
        let o = options
        func bad(_ message: String) -> ShardsError { ShardsError(.invalidArgument, path: directory, message) }
        guard o.batchSize >= 1, o.contextLength >= 1 else {
            throw bad("batch size \(o.batchSize) and context length \(o.contextLength) must be at least 1")
        }
        guard o.worldSize >= 1, o.rank >= 0, o.rank < o.worldSize else {
            throw bad("rank \(o.rank) must be in 0..<\(o.worldSize) (the world size)")
        }
        // Every product below (P·B·T tokens a step, the bytes of a batch's rows) must fit in an Int.
        guard o.contextLength < Int.max, checkedProduct(o.worldSize, o.batchSize, o.contextLength + 1, 4) != nil else {
            throw bad("batch size \(o.batchSize) × context length \(o.contextLength) × world size \(o.worldSize) is too large")
        }
        let catalogue = try ShardCatalogue(directory: directory)
        let settings = catalogue.settings
        let indexPath = catalogue.indexPath
        if let expected = o.expectedTokenizerFingerprint, expected != settings.tokenizerFingerprint {
            throw ShardsError(.mismatch, path: indexPath,
                              "the corpus was sharded with tokenizer \(settings.tokenizerFingerprint), the model expects \(expected)")
        }
        if let expected = o.expectedVocabSize, expected != settings.vocabSize {
            throw ShardsError(.mismatch, path: indexPath,
                              "the corpus has a vocabulary of \(settings.vocabSize) tokens, the model expects \(expected)")
        }
        if let open = catalogue.openShards(o.split).first {
            throw ShardsError(.corrupt, path: FileSystem.join(directory, open),
                              "shard is still open: sharding did not finish (rerun `tokenmill shard`)")
        }
        let entries = catalogue.shards(o.split)
        guard !entries.isEmpty else { throw ShardsError(.invalidArgument, path: indexPath, "the corpus has no \(o.split) shards") }
        // Cheap validation of every shard now (header, exact size, count), as llm.c does at init.
        var identity: UInt64 = 0xCBF2_9CE4_8422_2325
        func fold(_ s: String) { for b in s.utf8 { identity = (identity ^ UInt64(b)) &* 0x0000_0100_0000_01B3 } }
        var shards: [ShardCatalogue.Shard] = []
        for entry in entries {
            let header = try ShardFile.inspect(entry.path)
            guard header.tokenCount == entry.tokens, header.width == settings.tokenWidth else {
                throw ShardsError(.corrupt, path: entry.path, "header says \(header.tokenCount) \(header.width.bytes)-byte tokens, "
                                  + "the index says \(entry.tokens) \(settings.tokenWidth.bytes)-byte tokens (run `tokenmill verify`)")
            }
            // The text `stats` shows (CRC as 8 hex digits), which saved loader states were made from.
            let crc = String(entry.crc32, radix: 16)
            fold("\(entry.name) \(entry.tokens) \(String(repeating: "0", count: 8 - crc.count) + crc);")
            shards.append(entry)
        }
        let B = Int64(o.batchSize), T = Int64(o.contextLength), P = Int64(o.worldSize)
        var units: [Int64]
        if o.shuffle {
            units = shards.map { max(0, ($0.tokens - 1) / T) }
        } else {
            units = shards.map { max(0, ($0.tokens - 1) / (P * B * T)) }
            let usable = units.indices.filter { units[$0] > 0 }
            shards = usable.map { shards[$0] }
            units = usable.map { units[$0] }
        }
        guard units.reduce(0, +) > 0 else {
            let need = o.shuffle ? T + 1 : P * B * T + 1
            throw ShardsError(.invalidArgument, path: indexPath,
                              "the \(o.split) split has no shard with at least \(need) tokens, too few for this batch size and context length")
        }
        self.directory = directory
        self.options = o
        self.settings = settings
        self.layout = BatchLayout(options: o, shards: shards, unitsPerShard: units)
        self.maps = ShardMaps(paths: shards.map(\.path), randomAccess: o.shuffle)
        self.corpusIdentity = identity
        // About a million tokens per chunk (at least one batch) when prefetching.
        let perChunk = o.prefetch ? max(1, (1 << 20) / (o.batchSize * o.contextLength)) : 1
        func chunk() -> Chunk {
            Chunk(capacity: perChunk, batchSize: o.batchSize, contextLength: o.contextLength, width: settings.tokenWidth)
        }
        staging = Staging(ready: chunk(), spare: chunk())
    }

    // MARK: Batches

    /// Fills `inputs` and `targets` (each at least batchSize × contextLength long) with the next
    /// batch: row b holds tokens t ..< t+T of a window and its targets t+1 ... t+T.
    public func nextBatch(inputs: inout [Int32], targets: inout [Int32]) throws {
        let count = batchSize * contextLength
        guard inputs.count >= count, targets.count >= count else {
            throw ShardsError(.invalidArgument, path: directory,
                              "batch buffers hold \(min(inputs.count, targets.count)) tokens, need \(count)")
        }
        try staging.next(layout: layout, maps: maps, prefetcher: options.prefetch ? prefetcher : nil,
                         inputs: &inputs, targets: &targets)
    }

    /// Back to the start of epoch 0 (llm.c's `dataloader_reset`; e.g. before each evaluation).
    public func reset() throws {
        staging.move(to: Position(epoch: 0, shardIndex: 0, sampleIndex: 0, row: 0), prefetcher: prefetcher)
    }

    // MARK: State

    private static let stateMagic: [UInt8] = Array("TMLS".utf8)
    private static let stateVersion: UInt32 = 1
    private static let stateBytes = 4 + 4 + 8 * 10

    /// The loader's position as bytes (magic "TMLS", version 1, then little-endian: mode,
    /// seed, batch size, context length, world size, corpus identity, epoch, shard index,
    /// sample index, row). Restoring it continues with exactly the batches that would have come next.
    public func saveState() -> [UInt8] {
        var out = Self.stateMagic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        put(Self.stateVersion)
        let p = staging.position
        for v in [UInt64(options.shuffle ? 1 : 0), options.seed, UInt64(batchSize), UInt64(contextLength),
                  UInt64(options.worldSize), corpusIdentity,
                  UInt64(bitPattern: p.epoch), UInt64(bitPattern: p.shardIndex), UInt64(bitPattern: p.sampleIndex),
                  UInt64(bitPattern: p.row)] {
            put(v)
        }
        return out
    }

    /// Restores a state saved by a loader over the same corpus split with the same mode, seed,
    /// context length and global batch, batch size × world size (the rank, and how the global
    /// batch is divided among ranks, may differ: the state is global).
    public func restoreState(_ state: [UInt8]) throws {
        func bad(_ message: String) -> ShardsError { ShardsError(.invalidArgument, path: "loader state", message) }
        guard state.count == Self.stateBytes, Array(state.prefix(4)) == Self.stateMagic else {
            throw bad("not a TokenMill loader state (\(state.count) bytes, expected \(Self.stateBytes) starting with TMLS)")
        }
        func u64(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(state[8 + 8 * i + k]) << (8 * UInt64(k)) }
            return v
        }
        let version = UInt32(state[4]) | UInt32(state[5]) << 8 | UInt32(state[6]) << 16 | UInt32(state[7]) << 24
        guard version == Self.stateVersion else { throw bad("state version \(version), this loader reads \(Self.stateVersion)") }
        let checks: [(String, UInt64, UInt64)] = [
            ("mode (0 sequential, 1 shuffled)", u64(0), options.shuffle ? 1 : 0), ("seed", u64(1), options.seed),
            ("context length", u64(3), UInt64(contextLength)), ("corpus identity", u64(5), corpusIdentity),
        ]
        for (name, saved, mine) in checks where saved != mine {
            throw bad("\(name) differs: the state has \(saved), this loader has \(mine)")
        }
        let (savedBatch, savedWorld) = (u64(2), u64(4))
        guard savedBatch.multipliedReportingOverflow(by: savedWorld) == (UInt64(batchSize * options.worldSize), false) else {
            throw bad("global batch (batch size × world size) differs: the state has \(savedBatch) × \(savedWorld), "
                      + "this loader has \(batchSize) × \(options.worldSize)")
        }
        let p = Position(epoch: Int64(bitPattern: u64(6)), shardIndex: Int64(bitPattern: u64(7)),
                         sampleIndex: Int64(bitPattern: u64(8)), row: Int64(bitPattern: u64(9)))
        guard p.epoch >= 0, p.row >= 0, p.sampleIndex >= 0, p.shardIndex >= 0, p.shardIndex < Int64(shards.count) else {
            throw bad("position out of range")
        }
        staging.move(to: p, prefetcher: prefetcher)
    }
}

// MARK: - Staging

/// Where the loader stands and the two chunks it reads through: the caller consumes the batches
/// of `ready` while a background job fills `spare` with the batches that follow. A struct, so that
/// serving a batch costs the loader one access to its state rather than one per field.
struct Staging {
    private(set) var position = DataLoader.Position(epoch: 0, shardIndex: 0, sampleIndex: 0, row: 0)
    private var ready: Chunk
    private var spare: Chunk
    private var spareFilling = false
    /// The positions of the batches in `ready` (read from it once it is filled), and how many of
    /// them were served.
    private var held: [DataLoader.Position] = []
    private var served = 0

    init(ready: Chunk, spare: Chunk) {
        self.ready = ready
        self.spare = spare
    }

    /// Widens the batch at `position` into `inputs` and `targets` (each at least B·T long) and
    /// moves on; `prefetcher` (nil: read in the caller's thread only) fills the next chunk.
    mutating func next(layout: BatchLayout, maps: ShardMaps, prefetcher: Prefetcher?,
                       inputs: inout [Int32], targets: inout [Int32]) throws {
        let current = layout.normalized(position)
        if !(served < held.count && held[served] == current) {
            if spareFilling {
                prefetcher?.wait()
                spareFilling = false
                swap(&ready, &spare)
                held = ready.positions
                served = 0
            }
            if !(served < held.count && held[served] == current) {
                ready.fill(from: current, layout: layout, maps: maps)  // first batch, or after a move: read now
                held = ready.positions
                served = 0
                // A read error surfaces when the batch that hit it is due.
                if held.isEmpty, let error = ready.error { throw error }
            }
            if let prefetcher, let last = held.last {
                spareFilling = true
                prefetcher.fill(spare, from: layout.normalized(layout.advanced(last)), layout: layout, maps: maps)
            }
        }
        ready.widen(batch: served, inputs: &inputs, targets: &targets)
        served += 1
        position = layout.advanced(current)
    }

    /// Drops what is staged (after the prefetch in flight, if any) and stands at `position`.
    mutating func move(to position: DataLoader.Position, prefetcher: Prefetcher) {
        if spareFilling { prefetcher.wait() }
        spareFilling = false
        held = []
        served = 0
        self.position = position
    }
}

/// The background job that fills the spare chunk. The job holds the chunk, the layout and the
/// maps, never the loader, so a loader freed while a job runs leaves it to finish on memory it owns.
struct Prefetcher {
    private let queue = DispatchQueue(label: "tokenmill.loader.prefetch")
    private let group = DispatchGroup()

    func fill(_ chunk: Chunk, from first: DataLoader.Position, layout: BatchLayout, maps: ShardMaps) {
        queue.async(group: group) { chunk.fill(from: first, layout: layout, maps: maps) }
    }

    /// Returns once the job in flight (if any) is done; its writes to the chunk are then visible.
    func wait() { group.wait() }
}

// MARK: - Positions

/// Which rows each batch holds: the split's usable shards, how many samples (sequential) or rows
/// (shuffled) each gives, and the rules that move a position on. Immutable, so the prefetch job
/// uses it while the caller does.
struct BatchLayout: Sendable {
    typealias Position = DataLoader.Position

    let shards: [ShardCatalogue.Shard]
    /// Sequential: samples per shard (per process). Shuffled: rows per shard.
    let unitsPerShard: [Int64]
    /// Prefix sums of unitsPerShard (shuffled: the first row of each shard).
    let unitStarts: [Int64]
    /// Shuffled: rows in one epoch (0 in sequential mode).
    let rowsPerEpoch: Int64
    let batchSize: Int, contextLength: Int, rank: Int, worldSize: Int
    let shuffle: Bool
    let seed: UInt64

    init(options o: DataLoader.Options, shards: [ShardCatalogue.Shard], unitsPerShard: [Int64]) {
        self.shards = shards
        self.unitsPerShard = unitsPerShard
        var starts: [Int64] = [0]
        for u in unitsPerShard { starts.append(starts[starts.count - 1] + u) }
        unitStarts = starts
        rowsPerEpoch = o.shuffle ? starts[starts.count - 1] : 0
        batchSize = o.batchSize
        contextLength = o.contextLength
        rank = o.rank
        worldSize = o.worldSize
        shuffle = o.shuffle
        seed = o.seed
    }

    /// llm.c's advance rule: a sample index past the shard's end moves to the next shard, and
    /// past the last shard back to the first (a new epoch).
    func normalized(_ p: Position) -> Position {
        guard !shuffle else {
            return Position(epoch: p.row / rowsPerEpoch, shardIndex: 0, sampleIndex: 0, row: p.row)
        }
        var q = p
        while q.sampleIndex >= unitsPerShard[Int(q.shardIndex)] {
            q.sampleIndex = 0
            if q.shardIndex == Int64(shards.count - 1) { q.shardIndex = 0; q.epoch += 1 } else { q.shardIndex += 1 }
        }
        return q
    }

    func advanced(_ p: Position) -> Position {
        var q = p
        if shuffle { q.row += Int64(worldSize * batchSize) } else { q.sampleIndex += 1 }
        return q
    }

    /// (shard index, first token) of each of this rank's rows of the batch at `p`.
    func rows(at p: Position, _ permutation: inout SamplePermutation?) -> [(shard: Int, start: Int64)] {
        let B = Int64(batchSize), T = Int64(contextLength), P = Int64(worldSize), r = Int64(rank)
        if !shuffle {
            let start = p.sampleIndex * P * B * T + r * B * T
            return (0..<B).map { (Int(p.shardIndex), start + $0 * T) }
        }
        var rows: [(shard: Int, start: Int64)] = []
        rows.reserveCapacity(batchSize)
        for b in 0..<B {
            let stream = p.row + r * B + b
            let epoch = UInt64(stream / rowsPerEpoch)
            if permutation?.epoch != epoch {
                permutation = SamplePermutation(count: UInt64(rowsPerEpoch), seed: seed, epoch: epoch)
            }
            let row = Int64(permutation?(UInt64(stream % rowsPerEpoch)) ?? 0)   // set just above
            var lo = 0, hi = shards.count  // the shard whose rows contain `row`
            while hi - lo > 1 { let mid = (lo + hi) / 2; if unitStarts[mid] <= row { lo = mid } else { hi = mid } }
            rows.append((lo, (row - unitStarts[lo]) * T))
        }
        return rows
    }
}

// MARK: - Reading

/// The split's shards, each mapped on first use and kept mapped; shared by the caller and the
/// prefetch job.
final class ShardMaps: @unchecked Sendable {
    // Sendable: `mapped` is read and written only while `lock` is held; everything else is
    // immutable, and MappedShard is Sendable.
    private let paths: [String]
    private let randomAccess: Bool
    private let lock = NSLock()
    private var mapped: [MappedShard?]

    init(paths: [String], randomAccess: Bool) {
        self.paths = paths
        self.randomAccess = randomAccess
        mapped = Array(repeating: nil, count: paths.count)
    }

    func shard(_ index: Int) throws -> MappedShard {
        lock.lock()
        defer { lock.unlock() }
        if let m = mapped[index] { return m }
        let m = try MappedShard(path: paths[index])
        m.adviseRandomAccess(randomAccess)
        mapped[index] = m
        return m
    }
}

/// Staging memory for the raw rows of `capacity` consecutive batches, with the position of each.
final class Chunk: @unchecked Sendable {
    // Sendable: a chunk has one user at a time. The loader hands it to the prefetch job
    // (`Prefetcher.fill`) and touches it again only after `Prefetcher.wait()`, which orders the
    // job's writes before the loader's reads.
    //
    // Safety: `buffer` holds `capacity` batches of `batchSize` rows of `contextLength + 1` tokens
    // of `width` bytes: allocated in init, freed in deinit, written only by `fill` (whole rows, at
    // offsets inside it) and read only by `widen` (one batch that `fill` wrote: index < positions.count).
    private let buffer: UnsafeMutableRawPointer
    let capacity: Int
    private let batchSize: Int
    private let contextLength: Int
    private let width: TokenWidth
    private var rowBytes: Int { (contextLength + 1) * width.bytes }
    /// The position of each batch held, in order.
    private(set) var positions: [DataLoader.Position] = []
    /// The read error that stopped the last `fill`, if any (the batches before it are kept).
    private(set) var error: Error?

    init(capacity: Int, batchSize: Int, contextLength: Int, width: TokenWidth) {
        self.capacity = capacity
        self.batchSize = batchSize
        self.contextLength = contextLength
        self.width = width
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity * batchSize * (contextLength + 1) * width.bytes,
                                                  alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Reads the rows of `capacity` consecutive batches from `first` on (an error is left in
    /// `error`, with the batches before it kept).
    func fill(from first: DataLoader.Position, layout: BatchLayout, maps: ShardMaps) {
        let rowTokens = contextLength + 1, rowBytes = rowBytes
        var filled: [DataLoader.Position] = []
        filled.reserveCapacity(capacity)
        var p = first
        var permutation: SamplePermutation?
        do {
            for k in 0..<capacity {
                let base = buffer + k * batchSize * rowBytes
                for (b, row) in layout.rows(at: p, &permutation).enumerated() {
                    try maps.shard(row.shard).copyTokenBytes(from: row.start, count: rowTokens, to: base + b * rowBytes)
                }
                filled.append(p)
                p = layout.normalized(layout.advanced(p))
            }
            error = nil
        } catch {
            self.error = error
        }
        positions = filled
    }

    /// Widens the rows of held batch `index` (< positions.count) into `inputs` and `targets`
    /// (each at least batchSize × contextLength long: the loader checks both).
    func widen(batch index: Int, inputs: inout [Int32], targets: inout [Int32]) {
        let T = contextLength, rowTokens = T + 1, staged = buffer + index * batchSize * rowBytes
        let wide = width == .uint32
        inputs.withUnsafeMutableBufferPointer { inputs in
            targets.withUnsafeMutableBufferPointer { targets in
                guard let inp = inputs.baseAddress, let tgt = targets.baseAddress else { return }
                for b in 0..<batchSize {
                    let out = inp + b * T, next = tgt + b * T
                    if wide {
                        let src = (staged + b * rowTokens * 4).assumingMemoryBound(to: UInt32.self)
                        for t in 0..<T {
                            out[t] = Int32(truncatingIfNeeded: UInt32(littleEndian: src[t]))
                            next[t] = Int32(truncatingIfNeeded: UInt32(littleEndian: src[t + 1]))
                        }
                    } else {
                        let src = (staged + b * rowTokens * 2).assumingMemoryBound(to: UInt16.self)
                        for t in 0..<T {
                            out[t] = Int32(UInt16(littleEndian: src[t]))
                            next[t] = Int32(UInt16(littleEndian: src[t + 1]))
                        }
                    }
                }
            }
        }
    }
}
