import Common

/// The part of a corpus one shard job writes: the whole corpus (one machine), or rank `rank` of
/// `worldSize` (a Slurm array task, say), whose index part `tokenmill merge` joins with the
/// others into `index.sqlite`. The one definition of the file names each part writes, so that
/// ranks sharing a directory never touch each other's files.
///
///     CorpusPart.whole.indexFileName                        // "index.sqlite"
///     let p = CorpusPart(rank: 1, worldSize: 4)
///     p.indexFileName                                       // "index.rank-00001-of-00004.sqlite"
///     p.shardName(split: .train, seq: 3)                    // "train_r00001_000003.bin" (llm.c's train_*.bin glob matches)
public struct CorpusPart: Sendable, Equatable, Codable, CustomStringConvertible {
    public var rank: Int
    public var worldSize: Int

    public static let whole = CorpusPart(rank: 0, worldSize: 1)

    public init(rank: Int, worldSize: Int) {
        self.rank = rank
        self.worldSize = worldSize
    }

    /// Why these are not a part, or nil.
    public var problem: String? {
        if worldSize < 1 { return "world size must be at least 1, not \(worldSize)" }
        if worldSize > 99_999 { return "world size must be at most 99999, not \(worldSize)" }
        if rank < 0 || rank >= worldSize { return "rank must be in 0..<\(worldSize), not \(rank)" }
        return nil
    }

    /// One machine's job: it writes `index.sqlite` itself and needs no merge.
    public var isWhole: Bool { worldSize == 1 }

    public var description: String { isWhole ? "the whole corpus" : "rank \(rank) of \(worldSize)" }

    private var tag: String { "rank-\(Self.padded(rank, 5))-of-\(Self.padded(worldSize, 5))" }

    /// `index.sqlite`, or `index.rank-RRRRR-of-WWWWW.sqlite` for a rank's index part.
    public var indexFileName: String { isWhole ? IndexSchema.fileName : "index.\(tag).sqlite" }

    /// The lock its writer holds: the index file's name + `.lock`.
    public var lockFileName: String { indexFileName + ".lock" }

    /// A rank's exact-dedup hashes (`RankHashes`): `dedup.rank-RRRRR-of-WWWWW.hashes`.
    public var hashesFileName: String { "dedup.\(tag).hashes" }

    /// A rank's word counts for learning a vocabulary (`tokenmill learn --count-only`):
    /// `words.counts`, or `words.rank-RRRRR-of-WWWWW.counts`.
    public var wordCountsFileName: String { isWhole ? "words.counts" : "words.\(tag).counts" }

    /// The exact-dedup set's spill directory while the job runs.
    public var dedupDirectoryName: String { isWhole ? "dedup.tmp" : "dedup.\(tag).tmp" }

    /// `train_000000.bin`, or `train_rRRRRR_000000.bin` for a rank's shards.
    public func shardName(split: Split, seq: Int64) -> String {
        "\(split.rawValue)_\(isWhole ? "" : "r" + Self.padded(rank, 5) + "_")\(Self.padded(Int(seq), 6)).bin"
    }

    /// Whether `name` is one of this part's shard file names.
    public func isShardName(_ name: String) -> Bool {
        guard name.hasSuffix(".bin") else { return false }
        let stem = name.dropLast(4)
        for split in Split.allCases {
            let prefix = "\(split.rawValue)_\(isWhole ? "" : "r" + Self.padded(rank, 5) + "_")"
            if stem.hasPrefix(prefix) {
                let digits = stem.dropFirst(prefix.count)
                return digits.count >= 6 && digits.allSatisfy { $0.isASCII && $0.isNumber }
            }
        }
        return false
    }

    /// Whether `name` is the temporary file of one of this part's shards (`NAME.bin.tmp`).
    public func isShardTemporaryName(_ name: String) -> Bool {
        name.hasSuffix(".bin.tmp") && isShardName(String(name.dropLast(4)))
    }

    /// Whether `name` is a shard's temporary file of any part (what `verify` looks for).
    static func isAnyShardTemporaryName(_ name: String) -> Bool {
        guard name.hasSuffix(".bin.tmp") else { return false }
        let shard = String(name.dropLast(4))
        if CorpusPart.whole.isShardName(shard) { return true }
        for split in Split.allCases {
            let prefix = split.rawValue + "_r"
            guard shard.hasPrefix(prefix) else { continue }
            let rest = shard.dropFirst(prefix.count)
            guard rest.count > 6, let rank = Int(rest.prefix(5)) else { return false }
            return CorpusPart(rank: rank, worldSize: rank + 1).isShardName(shard)
        }
        return false
    }

    /// The inputs this part reads: a contiguous run of `inputs` (so the parts, in rank order,
    /// read the inputs in their order), balanced by bytes: an input goes to the rank whose share
    /// of the total bytes holds the input's middle byte. Deterministic for the same inputs and
    /// sizes, whichever machine computes it.
    public func select(_ inputs: [String], sizes: [Int64]) -> [Int] {
        if isWhole { return Array(inputs.indices) }
        let total = sizes.reduce(0, +)
        var mine: [Int] = []
        var before: Int64 = 0
        for i in inputs.indices {
            let owner: Int
            if total > 0 {
                let middle = Double(before) + Double(sizes[i]) / 2
                owner = min(worldSize - 1, Int(middle * Double(worldSize) / Double(total)))
            } else {
                owner = min(worldSize - 1, i * worldSize / max(1, inputs.count))
            }
            if owner == rank { mine.append(i) }
            before += sizes[i]
        }
        return mine
    }

    /// The files of `paths` this part reads, in order (`select` over their sizes on disk).
    public func share(of paths: [String]) -> [String] {
        select(paths, sizes: paths.map { FileSystem.size($0) ?? 0 }).map { paths[$0] }
    }

    static func padded(_ n: Int, _ width: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
