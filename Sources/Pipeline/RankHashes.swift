// Exact dedup across ranks. On one machine, the shard job keeps the first copy of a document in
// input order. Ranks shard contiguous runs of the inputs in rank order (`CorpusPart.select`), so
// the first copy of a document is in the lowest rank that has one: rank R must drop, beside its
// own repeats, the documents that any rank before it keeps. Each rank first runs a hashing pass
// (reading and the ingest stages, no encoding) that writes the hashes of the documents it keeps
// (`tokenmill shard --hashes-only`); when rank R shards, its dedup set starts with the hashes it
// shares with ranks 0..<R. The merged corpus then holds exactly the documents one machine keeps.
import Common
import Corpus
import Foundation
import Shards

public struct RankHashesReport: Sendable {
    public var path: String
    public var documents: Int
    public var ingest: IngestReport
}

public enum RankHashes {
    /// The hashing pass of `options.part`: the content hashes of the documents its inputs keep
    /// after the ingest stages and its own dedup, sorted, to `DIR/dedup.rank-….hashes`.
    public static func write(options: ShardJobOptions, progress: (IngestProgress) -> Void = { _ in }) throws -> RankHashesReport {
        let part = options.part
        if let problem = part.problem { throw ShardsError(.invalidArgument, path: options.output, problem) }
        try FileSystem.makeDirectory(options.output)
        var ingest = Ingest(paths: ShardJob.inputs(of: options), options: options.ingest)
        ingest.dedupMemoryBytes = options.settings.dedupMemory << 20
        var hashes: [ContentHash] = []
        let report = try ingest.forEach(progress: progress) { hashes.append($0.hash) }
        hashes.sort()
        // Without dedup a rank may hold repeats; the list holds each hash once.
        var distinct: [ContentHash] = []
        distinct.reserveCapacity(hashes.count)
        for h in hashes where distinct.last != h { distinct.append(h) }
        let path = FileSystem.join(options.output, part.hashesFileName)
        try HashListFile.write(distinct, to: path)
        return RankHashesReport(path: path, documents: hashes.count, ingest: report)
    }

    /// The hashes rank `part` must drop: those of its documents that an earlier rank keeps.
    /// Needs the hashing pass of this rank and of every rank before it.
    public static func dropList(directory: String, part: CorpusPart) throws -> [ContentHash] {
        guard part.rank > 0 else { return [] }
        func list(_ rank: Int) throws -> String {
            let p = CorpusPart(rank: rank, worldSize: part.worldSize)
            let path = FileSystem.join(directory, p.hashesFileName)
            guard FileSystem.exists(path) else {
                throw ShardsError(.invalidArgument, path: path, "missing: rank \(part.rank) needs the hashing pass of ranks 0 to "
                                  + "\(part.rank) (`tokenmill shard --hashes-only --rank \(rank) --world-size \(part.worldSize)` with the same inputs)")
            }
            return path
        }
        let own = try HashListFile.read(try list(part.rank))
        var drop = Set<ContentHash>()
        for rank in 0..<part.rank {
            for h in try HashListFile.intersection(own, withListAt: try list(rank)) { drop.insert(h) }
        }
        return drop.sorted()
    }
}
