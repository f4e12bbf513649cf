import Foundation
import Shards
import Testing
import TestSupport

@Suite struct ShardCatalogueTests {
    let corpus = TestCorpus.make(seed: 31, sources: 2, docsPerSource: 40)

    func written() throws -> TempDir {
        let dir = try TempDir()
        try corpus.write(to: dir.path)
        return dir
    }

    @Test func listsTheClosedShardsOfEachSplitInOrder() throws {
        let dir = try written()
        let catalogue = try ShardCatalogue(directory: dir.path)
        #expect(catalogue.settings == corpus.settings)
        #expect(catalogue.indexPath == dir.file("index.sqlite"))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        for split in Split.allCases {
            let shards = catalogue.shards(split)
            let names = files.filter { $0.hasPrefix(split.rawValue + "_") && $0.hasSuffix(".bin") }.sorted()
            #expect(!names.isEmpty)
            #expect(shards.map(\.name) == names)
            #expect(shards.map(\.path) == names.map(dir.file))
            #expect(shards.map(\.sequence) == Array(0..<Int64(names.count)))
            for shard in shards {
                let header = try ShardFile.inspect(shard.path)
                #expect(shard.tokens == header.tokenCount)
            }
            #expect(catalogue.openShards(split).isEmpty)
        }
        // The same checksums as the stats view shows.
        let stats = try CorpusStats(directory: dir.path).shards().shards
        for split in Split.allCases {
            let fromStats = stats.filter { $0.split == split }.map { "\($0.path) \($0.tokens) \($0.crc32)" }
            let fromCatalogue = catalogue.shards(split).map {
                let hex = String($0.crc32, radix: 16)
                return "\($0.name) \($0.tokens) \(String(repeating: "0", count: 8 - hex.count) + hex)"
            }
            #expect(fromCatalogue == fromStats)
        }
    }

    @Test func keepsOpenShardsApart() throws {
        let dir = try written()
        let last = try #require(try ShardCatalogue(directory: dir.path).shards(.train).last)
        try Database(path: dir.file("index.sqlite")).execute("UPDATE shards SET status = 'open' WHERE path = '\(last.name)'")
        let catalogue = try ShardCatalogue(directory: dir.path)
        #expect(catalogue.openShards(.train) == [last.name])
        #expect(!catalogue.shards(.train).contains { $0.name == last.name })
        #expect(catalogue.openShards(.val).isEmpty)
    }

    @Test(arguments: ["../train_000000.bin", "/etc/passwd", "sub/train_000000.bin", "..", "a..b.bin", ""])
    func refusesAPathThatIsNotAPlainFileName(hostile: String) throws {
        let dir = try written()
        try Database(path: dir.file("index.sqlite"))
            .prepare("UPDATE shards SET path = ? WHERE split = 'val' AND seq = 0").run(.text(hostile))
        #expect {
            _ = try ShardCatalogue(directory: dir.path)
        } throws: { error in
            guard let error = error as? ShardsError else { return false }
            return error.kind == .corrupt && error.path == dir.file("index.sqlite")
                && error.message.hasPrefix("shard path \"\(hostile)\" is not a file name in the corpus directory")
        }
    }

    @Test func namesTheMissingIndex() throws {
        let dir = try TempDir()
        #expect {
            _ = try ShardCatalogue(directory: dir.path)
        } throws: { error in
            (error as? ShardsError)?.path == dir.file("index.sqlite")
        }
    }
}
