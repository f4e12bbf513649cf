import Common
import Foundation

/// How `tokenmill shard` writes a corpus, defined once: the CLI's flags, a pipeline file's
/// `[shard]` table and the settings recorded in the index (`CorpusSettings`) derive from
/// these properties (`SettingsGroup`).
public struct ShardSettings: SettingsGroup {
    /// Target tokens per shard (a shard closes before a document that would overflow it); at
    /// most 2^30, which llm.c's reader can seek in.
    public var shardTokens: Int64 = 100_000_000
    /// Fraction of documents in the validation split (decided per document by its content hash).
    public var valFraction = 0.005
    /// Encoding threads (0 = all cores).
    public var threads = 0
    /// Memory for the exact-dedup set, in MiB: about 8.4 million documents with the default;
    /// beyond, sorted runs of hashes go to `DIR/dedup.tmp` and dedup stays exact.
    public var dedupMemory = 512
    /// While the writer has work queued, commit at most this often: about what a kill may lose.
    public var commitSeconds = 1.0

    public init() {}

    /// `shard_tokens = "100M"` in a pipeline file.
    public static var sizeKeys: Set<String> { ["shardTokens"] }

    public var problem: SettingsProblem? {
        if shardTokens < 1 || shardTokens > ShardHeader.maxTokens {
            return SettingsProblem("shardTokens", "must be between 1 and 2^30, not \(shardTokens)")
        }
        if !(valFraction >= 0 && valFraction < 1) { return SettingsProblem("valFraction", "must be in [0, 1), not \(valFraction)") }
        if threads < 0 { return SettingsProblem("threads", "must be 0 or more, not \(threads)") }
        if dedupMemory < 0 || dedupMemory > 1 << 20 { return SettingsProblem("dedupMemory", "must be from 0 to 1048576 MiB, not \(dedupMemory)") }
        if !(commitSeconds >= 0 && commitSeconds.isFinite) {
            return SettingsProblem("commitSeconds", "must be a number of seconds, 0 or more, not \(commitSeconds)")
        }
        return nil
    }

    /// The thread count to use: `threads`, or all cores for 0.
    public var resolvedThreads: Int { threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount }
}
