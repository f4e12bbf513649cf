import Corpus
import Foundation
import Testing
import TestSupport

/// The dedup set with a memory budget: the smallest budget (1,024 hashes in memory) makes
/// every test below spill and merge many times.
@Suite struct SpillingDeduplicatorTests {
    /// Inserts `hashes` one by one, checking each answer against a `Set` (holding `before` to
    /// start with); returns the set.
    @discardableResult
    func check(_ hashes: [ContentHash], into seen: SpillingDeduplicator, before: Set<ContentHash> = []) throws -> Set<ContentHash> {
        var reference = before
        for (i, h) in hashes.enumerated() {
            let new = try seen.insert(h)
            let expected = reference.insert(h).inserted
            if new != expected {
                Issue.record("hash \(i) (\(h.hex)): insert said \(new), a Set says \(expected)")
                break
            }
        }
        #expect(seen.count == reference.count)
        return reference
    }

    func runFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("run-") }.sorted()
    }

    @Test(arguments: ["uniform", "skewed"])
    func agreesWithASetAcrossSpillsAndMerges(_ kind: String) throws {
        let tmp = try TempDir()
        let dir = tmp.file("spill")
        var rng = SeededRNG(seed: 21)
        // 30,000 distinct hashes, each inserted twice or three times: a repeat is sometimes
        // right after its first time (in memory) and often long after (in a run).
        // "skewed" puts every hash in the first bucket of a run (hi small), as a poor hash would.
        let distinct = (0..<30_000).map { _ in
            ContentHash(hi: kind == "uniform" ? rng.next() : rng.next() % 50, lo: rng.next())
        }
        var hashes: [ContentHash] = []
        for (i, h) in distinct.enumerated() {
            hashes.append(h)
            if i % 3 == 0 { hashes.append(h) }
            if i % 2 == 0 { hashes.append(distinct[Int(rng.next() % UInt64(i + 1))]) }
        }
        hashes.append(ContentHash(hi: 0, lo: 0))
        hashes.append(ContentHash(hi: 0, lo: 0))

        var seen: SpillingDeduplicator? = SpillingDeduplicator(memoryBytes: 0, directory: dir)
        let reference = try check(hashes, into: seen!)
        #expect(reference.count == 30_001)
        // 30,000 hashes in runs of 1,024: 29 spills; merged like a binary counter, the runs
        // are as many as the one bits of 29 = 0b11101, and on disk there is nothing else.
        #expect(seen!.spills == 29)
        #expect(seen!.runCount == 4)
        #expect(runFiles(dir).count == 4)
        #expect(try distinct.allSatisfy { try seen!.contains($0) })
        #expect(try !seen!.contains(ContentHash(hi: 7, lo: 7)) && !seen!.contains(ContentHash(hi: .max, lo: 1)))
        // The cheap check knows only the last table's hashes.
        #expect(seen!.containsInMemory(distinct.last!) && !seen!.containsInMemory(distinct.first!))
        seen!.close()
        #expect(!FileManager.default.fileExists(atPath: dir))
        seen = nil
    }

    @Test func aBudgetHoldsAllBelowItInMemory() throws {
        let tmp = try TempDir()
        let dir = tmp.file("spill")
        var rng = SeededRNG(seed: 5)
        let hashes = (0..<20_000).map { _ in ContentHash(hi: rng.next(), lo: rng.next()) }
        // 2 MiB: a table of 65,536 slots (1 MiB), half of which may be used.
        let seen = SpillingDeduplicator(memoryBytes: 2 << 20, directory: dir)
        try check(hashes + hashes, into: seen)
        #expect(seen.spills == 0 && seen.runCount == 0)
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    /// 256 KiB: runs of 4,096 hashes and a 64 KiB filter (about 13 bits per spilled hash here):
    /// new hashes are rarely looked up on disk, and a repeat of a spilled one always is.
    @Test func theFilterKeepsMostNewHashesOffTheDisk() throws {
        let tmp = try TempDir()
        var rng = SeededRNG(seed: 13)
        let old = (0..<40_000).map { _ in ContentHash(hi: rng.next(), lo: rng.next()) }
        let seen = SpillingDeduplicator(memoryBytes: 256 << 10, directory: tmp.file("spill"))
        try check(old, into: seen)
        #expect(seen.spills == 9)
        let lookups = seen.runLookups, hits = seen.runHits
        for _ in 0..<10_000 { #expect(try seen.insert(ContentHash(hi: rng.next(), lo: rng.next()))) }
        #expect(seen.runHits == hits)
        #expect(seen.runLookups - lookups < 500, "false positives of the filter: \(seen.runLookups - lookups) of 10,000")
        for h in old.prefix(1_000) { #expect(try !seen.insert(h)) }
        #expect(seen.runHits == hits + 1_000)
    }

    @Test func reloadedHashesAreFoundWithoutLookups() throws {
        let tmp = try TempDir()
        var rng = SeededRNG(seed: 9)
        let hashes = (0..<10_000).map { _ in ContentHash(hi: rng.next(), lo: rng.next()) }
        let seen = SpillingDeduplicator(memoryBytes: 0, directory: tmp.file("spill"))
        for h in hashes { try seen.insertDistinct(h) }
        #expect(seen.count == 10_000 && seen.spills == 9)
        #expect(try hashes.allSatisfy { try !seen.insert($0) })
        #expect(try seen.insert(ContentHash(hi: 1, lo: 2)))
        #expect(seen.count == 10_001)
    }

    @Test func staleRunsAreRemovedAtTheStart() throws {
        let tmp = try TempDir()
        let dir = tmp.file("spill")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try tmp.write("spill/run-0.bin", [UInt8](repeating: 1, count: 64))
        try tmp.write("spill/keep.txt", "not ours")
        let seen = SpillingDeduplicator(memoryBytes: 0, directory: dir)
        #expect(runFiles(dir).isEmpty)
        #expect(try seen.insert(ContentHash(hi: 1, lo: 1)))
        #expect(FileManager.default.fileExists(atPath: dir + "/keep.txt"))
    }

    @Test func aSpillThatCannotBeWrittenNamesThePlace() throws {
        let tmp = try TempDir()
        try tmp.write("file", "a file where the spill directory's parent should be")
        let dir = tmp.file("file/spill")
        let seen = SpillingDeduplicator(memoryBytes: 0, directory: dir)
        var rng = SeededRNG(seed: 2)
        var thrown: (any Error)?
        do {
            for _ in 0..<2_000 { try seen.insert(ContentHash(hi: rng.next(), lo: rng.next())) }
        } catch {
            thrown = error
        }
        let message = "\(thrown.map { "\($0)" } ?? "nothing thrown")"
        #expect(message.hasPrefix(dir + ": cannot create the dedup spill directory: "), "\(message)")
        // What was inserted before is still there.
        #expect(seen.count == 1_024)
    }

    /// A run that cannot be written (here a directory is in its place) fails the insert and
    /// loses nothing: the table keeps its hashes, and the next spill goes on with them.
    @Test func aFailedSpillLosesNothing() throws {
        let tmp = try TempDir()
        let dir = tmp.file("spill")
        try FileManager.default.createDirectory(atPath: dir + "/run-0.bin", withIntermediateDirectories: true)
        let seen = SpillingDeduplicator(memoryBytes: 0, directory: dir)
        var rng = SeededRNG(seed: 17)
        let hashes = (0..<3_000).map { _ in ContentHash(hi: rng.next(), lo: rng.next()) }
        for h in hashes.prefix(1_024) { #expect(try seen.insert(h)) }
        var thrown = ""
        do { try seen.insert(hashes[1_024]) } catch { thrown = "\(error)" }
        #expect(thrown.hasPrefix(dir + "/run-0.bin: cannot create a dedup run: "), "\(thrown)")
        #expect(seen.count == 1_024 && seen.spills == 0)
        try check(hashes + hashes.prefix(1_500), into: seen, before: Set(hashes.prefix(1_024)))  // spills to run-1.bin and on
        #expect(seen.spills == 2)
    }
}
