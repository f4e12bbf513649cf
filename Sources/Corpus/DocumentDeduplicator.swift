import Foundation

/// The exact-dedup set of an ingest, shared by the threads that run the stages and the one that
/// decides in reading order: a document is kept when no document before it had its content
/// hash. Within `memoryBytes`; beyond, sorted runs of hashes go to `directory`
/// (`SpillingDeduplicator`) and dedup stays exact.
///
///     let dedup = DocumentDeduplicator(memoryBytes: 512 << 20, directory: "out/dedup.tmp")
///     stages.process(batch, dedup: dedup)          // any thread: drops known duplicates early
///     try dedup.keep(batch.documents, into: &keep) // in reading order: the final word
///
/// Threads: any; calls are serialized by a lock.
public final class DocumentDeduplicator: @unchecked Sendable {
    // Safety (Sendable): every access to `set` holds `lock`.
    private let lock = NSLock()
    private let set: SpillingDeduplicator

    public init(memoryBytes: Int, directory: String) {
        set = SpillingDeduplicator(memoryBytes: memoryBytes, directory: directory)
    }

    /// A set that spills, if it must, into a new directory under the system's temporary directory.
    public static func temporary(memoryBytes: Int = 512 << 20) -> DocumentDeduplicator {
        DocumentDeduplicator(memoryBytes: memoryBytes,
                             directory: FileManager.default.temporaryDirectory.path + "/tokenmill-dedup-\(UUID().uuidString)")
    }

    /// Removes the spilled runs. The set cannot be used after.
    public func close() {
        lock.withLock { set.close() }
    }

    /// Times the set went over its memory and wrote its table out to disk.
    public var spills: Int { lock.withLock { set.spills } }

    /// Distinct documents in the set.
    public var count: Int { lock.withLock { set.count } }

    /// Adds the hash of a document kept earlier (the hashes given are distinct): a resumed job
    /// reloads its set from the index.
    public func reload(_ hash: ContentHash) throws {
        try lock.withLock { try set.insertDistinct(hash) }
    }

    /// Whether a document with this hash is certainly a duplicate of one kept before: its hash
    /// is in the in-memory part of the set (cheap; a duplicate of a spilled hash is found by
    /// `keep`).
    public func isKnownDuplicate(_ hash: ContentHash) -> Bool {
        lock.withLock { set.containsInMemory(hash) }
    }

    /// Adds each document's hash in order; `keep[i]` says whether document i was new.
    public func keep(_ documents: [DocumentInfo], into keep: inout [Bool]) throws {
        keep.removeAll(keepingCapacity: true)
        try lock.withLock {
            for d in documents { keep.append(try set.insert(d.hash)) }
        }
    }
}
