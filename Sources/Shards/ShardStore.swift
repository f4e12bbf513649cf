// The resumable writer of a sharded corpus: shard files + index.sqlite in one directory.
//
// Resume protocol (what survives a kill -9 at any moment):
// - Documents go to shards strictly in the order they are appended; each goes to its split
//   (train/val by content hash) and is preceded by the end-of-text token. At most one shard
//   per split is open (`NAME.bin.tmp`).
// - Nothing is durable until `commit`. A commit fsyncs the open shards' temporary files, then,
//   in ONE SQLite transaction, records the new document rows, token-count and length deltas,
//   the current source's progress (records consumed, duplicates, skips, status), the final
//   status of sources ended since the last commit (`endSource`), and every
//   touched shard's committed token count and running CRC-32 (status 'closed' for shards that
//   filled up since the last commit). After the transaction, closed shards are renamed
//   NAME.bin.tmp → NAME.bin.
// - Opening a store recovers: a shard the index calls closed whose final file is missing but
//   whose temporary file exists is renamed; an open shard's temporary file is cut back to its
//   committed token count (its CRC comes from the index); temporary files the index does not
//   know are removed. The caller then re-reads the current source from `records`, reloads
//   its dedup set from `forEachDocumentHash`, and appends again: the result is byte-identical
//   to an uninterrupted run.

import Common
import Corpus
import Foundation

/// Writes a sharded corpus and its index, resumably.
///
///     let store = try ShardStore(directory: "out", settings: settings, vocab: vocab)
///     let source = try store.beginSource(path: "a.jsonl.gz", fileBytes: 1234)
///     guard source.status != .done else { … skip … }
///     // skip `source.records` records of the input, then for each document:
///     try store.append(info, tokens: ids)
///     try store.commit(progress: SourceProgress(records: n, …))          // now and then
///     try store.endSource(progress: SourceProgress(records: all, …), end: .done)  // recorded by the next commit
///     try store.finish()                                               // closes the last shards, commits
///
/// One way to end a source (`endSource`, done or failed) and one to end the job (`finish`,
/// which `prepareToFinish` may start while the last documents are still being made).
///
/// Not thread-safe: one writer thread owns it.
public final class ShardStore {
    public let directory: String
    public let settings: CorpusSettings
    /// The whole corpus, or the rank whose index part and shards this store writes.
    public let part: CorpusPart
    public var indexPath: String { FileSystem.join(directory, part.indexFileName) }

    private let lock: ExclusiveLock
    /// Everything else the store holds, and its work, as a value: a call into the store makes
    /// one access to it, checked at run time as every access to a class's stored property is;
    /// the accesses inside (per document, in `append`) are checked when compiling.
    private var core: ShardStoreCore

    /// The id the next appended document gets.
    public var nextDocumentID: Int64 { core.nextDocumentID }
    /// Records the parts of each commit (`ShardJobOptions.trace`).
    package var trace: TaskTrace? {
        get { core.trace }
        set { core.trace = newValue }
    }

    /// Opens the corpus in `directory` (created if needed) and recovers from an interrupted
    /// run. A new index records `settings` and `vocab`; an existing one must have been written
    /// with the same settings, else this throws a `.mismatch` error naming the field.
    /// `part` names the files it writes (`CorpusPart`): ranks sharing a directory each write
    /// their own index part and shards, and recover only their own.
    public init(directory: String, settings: CorpusSettings, vocab: [VocabEntry], part: CorpusPart = .whole) throws {
        try settings.validate()
        if let problem = part.problem { throw ShardsError(.invalidArgument, path: directory, problem) }
        try FileSystem.makeDirectory(directory)
        // One writer at a time: a second would remove the first's uncommitted shards as stale.
        lock = try ExclusiveLock(path: FileSystem.join(directory, part.lockFileName), holder: "tokenmill shard",
                                 writing: part.isWhole ? "this corpus" : "\(part) of this corpus")
        self.directory = directory
        self.settings = settings
        self.part = part
        core = try ShardStoreCore(directory: directory, settings: settings, vocab: vocab, part: part)
    }

    // Uncommitted work is abandoned on purpose: the index stays at the last commit.
    deinit { close() }

    /// Abandons uncommitted work (the index stays at the last commit) and lets another writer
    /// open the corpus at once, rather than when the store is freed, which a thread holding
    /// the last reference may delay. The store cannot be used after.
    public func close() {
        core.close()
        lock.release()
    }

    // MARK: Sources

    /// The recorded state of a source, or nil if it was never begun.
    public func source(path: String) throws -> SourceState? { try core.source(path: path) }

    /// A source's committed progress: records read and skips by reason, duplicates included (a
    /// resumed source goes on counting from there).
    public func committedProgress(of source: SourceState) throws -> SourceProgress { try core.committedProgress(of: source) }

    /// Every source, in id order.
    public func sources() throws -> [SourceState] { try core.sources() }

    /// Makes `path` the current source and returns its state. A new source starts at record 0;
    /// a partial (or failed) one resumes at `records`; a done one is returned as is and does
    /// not become current (skip it). A source whose size changed since it was recorded is refused.
    public func beginSource(path: String, fileBytes: Int64) throws -> SourceState {
        try core.beginSource(path: path, fileBytes: fileBytes)
    }

    // MARK: Documents

    /// Appends a document of the current source: its end-of-text token and `tokens` go to the
    /// open shard of its split (opening or closing shards as needed). Every id must be below
    /// the vocabulary size; nothing is written when one is not.
    @discardableResult
    package func append(_ info: DocumentInfo, tokens: UnsafeBufferPointer<UInt32>) throws -> DocumentLocation {
        try core.append(info, tokens: tokens, countTokens: true)
    }

    /// `append`, leaving the document's token counts (its end-of-text token included) to the
    /// caller when `countTokens` is false: it adds them with `addTokenCounts`, counted elsewhere
    /// (the sharder counts on its encoding threads).
    @discardableResult
    package func append(_ info: DocumentInfo, tokens: UnsafeBufferPointer<UInt32>, countTokens: Bool) throws -> DocumentLocation {
        try core.append(info, tokens: tokens, countTokens: countTokens)
    }

    @discardableResult
    public func append(_ info: DocumentInfo, tokens: [UInt32]) throws -> DocumentLocation {
        try tokens.withUnsafeBufferPointer { try core.append(info, tokens: $0, countTokens: true) }
    }

    /// Adds `counts[id]` occurrences of each token id to the split's counts (recorded by the
    /// next commit, like the documents appended before it), and zeroes `counts`.
    package func addTokenCounts(_ counts: UnsafeMutableBufferPointer<UInt32>, split: Split) {
        core.addTokenCounts(counts, split: split)
    }

    // MARK: Commit

    /// Puts up to `n` more entries of a new index's vocabulary into the open transaction (opening
    /// one), where the first commit would put them all at once: a large vocabulary's rows take
    /// SQLite a while, which the writer takes in parts between batches rather than in one piece
    /// while the encoders run out of batches. Nothing is left to do once the vocabulary is in.
    public func insertVocabulary(upTo n: Int) throws { try core.insertVocabulary(upTo: n) }

    /// Ends the current source, done or failed, without committing: the next commit (or
    /// `finish`) records it together with its documents, or none does and a resumed run reads
    /// it again. Many small sources then cost one commit, not one each.
    public func endSource(progress: SourceProgress, end: SourceEnd) throws {
        try core.endSource(progress: progress, end: end)
    }

    /// Makes everything appended so far durable, with `progress` as the current source's
    /// progress; nil leaves the source row's progress as it was (its documents and tokens are
    /// still updated).
    public func commit(progress: SourceProgress?) throws { try core.commit(progress: progress) }

    /// Does now, in the open transaction, what `finish` would do after the last documents, as
    /// far as it can: adds the token counts so far to `token_counts` and builds the position
    /// index (which the documents written after keep up to date). For a job's end, while its
    /// last batches are encoded; `finish` then has only the counts of those left to add.
    public func prepareToFinish() throws { try core.prepareToFinish() }

    /// Closes the open shards (however full), builds the index on document positions and
    /// commits. Call once every source has ended (`endSource`): a source still current would be
    /// left partial in an index that looks complete.
    public func finish() throws { try core.finish() }

    // MARK: Reading back

    /// Calls `body` with the content hash of every committed document, in id order (to
    /// reload a dedup set when resuming).
    public func forEachDocumentHash(_ body: (ContentHash) throws -> Void) throws {
        try core.forEachDocumentHash(body)
    }

    /// Shards that filled up since the last commit; they get their final names at the next
    /// commit, so a caller may want to commit soon.
    public var uncommittedShardCloses: Int { core.uncommittedShardCloses }
}

/// What a `ShardStore` holds (the index's connection and statements, the open shards, what the
/// next commit records) and does: a struct, so that its many accesses per document are checked
/// for exclusive access when compiling.
struct ShardStoreCore {
    let directory: String
    let settings: CorpusSettings
    let part: CorpusPart
    var indexPath: String { FileSystem.join(directory, part.indexFileName) }

    private let db: Database
    /// The open shard of each split (`Split.slot`): an array, whose elements are read and written
    /// in place, where a `PerSplit` of structs would copy one out to read a field.
    private var open: [OpenShard?] = [nil, nil]
    private var pendingClose: [ClosedShard] = []
    private var nextSeq = PerSplit<Int64> { _ in 0 }
    /// The id the next appended document gets.
    private(set) var nextDocumentID: Int64
    private var current: SourceState?
    /// Token counts not yet in `token_counts`: those of documents written since the last
    /// fold (the job's start, or an earlier run's end), whose committed part is also in
    /// `token_counts_pending`.
    private var tokenDeltas: PerSplit<[Int64]>
    private var lengthDeltas = PerSplit<[Int64: Int64]> { _ in [:] }
    private var inTransaction = false
    /// The vocabulary of a new index, until transactions have written it: a part at a time
    /// (`insertVocabulary(upTo:)`), and whatever is left with the first commit.
    private var pendingVocab: ArraySlice<VocabEntry> = []
    /// Set when a write failed halfway: the store must be reopened (which recovers).
    private var poisoned: (any Error)?
    private var closed = false
    /// Records the parts of each commit (`ShardJobOptions.trace`).
    var trace: TaskTrace?

    private let insertDocument: Statement
    /// `insertDocument` for `rowsPerInsert` rows at once: a statement per row sets up its cursor
    /// and program for each document, which for corpora of short documents would be most of the
    /// writer's time.
    private let insertDocuments: Statement
    private static let rowsPerInsert = 64
    private static let columns = 10
    /// Document rows not yet inserted, `columns` values each (inserted before anything reads or
    /// commits the table: `insertPendingRows`).
    private var pendingRows: [Int64] = []
    private let insertShard: Statement
    private let upsertToken: Statement
    private let upsertLength: Statement
    private let upsertPending: Statement

    /// A shard being written: the one of its split that documents go to.
    private struct OpenShard {
        let id: Int64, split: Split, seq: Int64
        var writer: ShardFileWriter
        var documents: Int64, textBytes: Int64
    }

    private struct ClosedShard {
        var id: Int64, path: String, tokens: Int64, crc: UInt32, documents: Int64, textBytes: Int64
    }

    /// Opens the index in `directory` and recovers from an interrupted run (see `ShardStore.init`).
    init(directory: String, settings: CorpusSettings, vocab: [VocabEntry], part: CorpusPart) throws {
        self.directory = directory
        self.settings = settings
        self.part = part
        let db = try Database(path: FileSystem.join(directory, part.indexFileName))
        try db.enableWAL()
        // The position index's sort on up to 4 threads (SQLite's sorter workers): built at the
        // job's end, or while its last batches are encoded, it is the end's longest step with
        // many documents.
        try db.execute("PRAGMA threads = \(Swift.min(ProcessInfo.processInfo.activeProcessorCount, 4))")
        self.db = db
        tokenDeltas = PerSplit { _ in [Int64](repeating: 0, count: settings.vocabSize) }

        let hasSchema = try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'meta'")?.int64 == 1
        if hasSchema {
            let recorded = try CorpusSettings.read(from: db)
            if let difference = recorded.difference(from: settings) {
                throw ShardsError(.mismatch, path: db.path, difference)
            }
        } else {
            try db.transaction {
                try db.execute(IndexSchema.sql)
                let meta = try db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)")
                for (key, value) in settings.metaEntries { try meta.run(.text(key), value) }
            }
        }
        try db.execute(IndexSchema.pendingTokenCounts)
        for split in Split.allCases {
            tokenDeltas[split] = try IndexSchema.pendingTokenCounts(db, split: split, vocabSize: settings.vocabSize)
        }
        // The vocabulary goes in with the first batches, in parts, and what is left with the first
        // commit; an index killed before that commit has none yet and gets it then.
        if try db.scalar("SELECT count(*) FROM vocab")?.int64 == 0 { pendingVocab = vocab[...] }
        insertDocument = try db.prepare("""
            INSERT INTO documents (id, source_id, record, line, shard_id, token_offset, token_count, byte_count, hash_hi, hash_lo)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertDocuments = try db.prepare("""
            INSERT INTO documents (id, source_id, record, line, shard_id, token_offset, token_count, byte_count, hash_hi, hash_lo)
            VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: Self.rowsPerInsert).joined(separator: ", "))
            """)
        pendingRows.reserveCapacity(Self.rowsPerInsert * Self.columns)
        insertShard = try db.prepare("""
            INSERT INTO shards (path, split, seq, status, tokens, documents, text_bytes, crc32)
            VALUES (?, ?, ?, 'open', 0, 0, 0, 0)
            """)
        upsertToken = try db.prepare("""
            INSERT INTO token_counts (split, token_id, count) VALUES (?, ?, ?)
            ON CONFLICT (split, token_id) DO UPDATE SET count = count + excluded.count
            """)
        upsertPending = try db.prepare("INSERT OR REPLACE INTO token_counts_pending (split, counts) VALUES (?, ?)")
        upsertLength = try db.prepare("""
            INSERT INTO length_counts (split, token_count, documents) VALUES (?, ?, ?)
            ON CONFLICT (split, token_count) DO UPDATE SET documents = documents + excluded.documents
            """)
        nextDocumentID = (try db.scalar("SELECT max(id) FROM documents")?.int64).map { $0 + 1 } ?? 0
        try recover()
    }

    /// Abandons uncommitted work (the index stays at the last commit) and waits until the open
    /// shards' bytes handed to their flushers are written: then another writer may open the
    /// corpus. The store cannot be used after.
    mutating func close() {
        if inTransaction {
            try? db.rollback()
            inTransaction = false
        }
        closed = true
        for split in Split.allCases { open[split.slot]?.writer.waitForFlusher() }
    }

    // MARK: Recovery

    private mutating func recover() throws {
        var openTemporaries: Set<String> = []
        for row in try db.rows("SELECT id, path, split, seq, status, tokens, documents, text_bytes, crc32 FROM shards") {
            guard let id = row[0].int64, let name = row[1].string, let split = row[2].string.flatMap(Split.init),
                  let seq = row[3].int64, let status = row[4].string.flatMap(ShardStatus.init), let tokens = row[5].int64,
                  let documents = row[6].int64, let textBytes = row[7].int64, let crc = row[8].int64 else {
                throw ShardsError(.corrupt, path: db.path, "unreadable row in shards")
            }
            let path = FileSystem.join(directory, name)
            let tmp = ShardWriter.temporaryPath(for: path)
            nextSeq[split] = max(nextSeq[split], seq + 1)
            if status == .closed {
                // Committed as closed, killed before the rename: finish it.
                if !FileSystem.exists(path) && FileSystem.exists(tmp) { try ShardWriter.publish(path: path) }
                continue
            }
            openTemporaries.insert(ShardWriter.temporaryPath(for: name))
            if !FileSystem.exists(tmp) && FileSystem.exists(path) {
                // The rename survived but the commit that closed it did not (power loss): reopen it.
                try FileSystem.move(path, to: tmp)
            }
            let writer: ShardFileWriter
            if tokens == 0 {
                writer = try ShardFileWriter.create(path: path, width: settings.tokenWidth)
            } else if FileSystem.exists(tmp) {
                writer = try ShardFileWriter.resume(path: path, width: settings.tokenWidth, tokens: tokens,
                                                    crc: UInt32(truncatingIfNeeded: crc))
            } else {
                throw ShardsError(.corrupt, path: tmp, "open shard with \(tokens) committed tokens is missing")
            }
            guard open[split.slot] == nil else { throw ShardsError(.corrupt, path: db.path, "two open \(split) shards") }
            open[split.slot] = OpenShard(id: id, split: split, seq: seq, writer: writer, documents: documents, textBytes: textBytes)
        }
        // Temporary shards created after the last commit are not in the index: drop them.
        for name in try FileSystem.list(directory) where part.isShardTemporaryName(name) && !openTemporaries.contains(name) {
            try FileSystem.remove(FileSystem.join(directory, name))
        }
    }

    // MARK: Sources

    func source(path: String) throws -> SourceState? {
        try sources(where: "WHERE path = ?", [.text(path)]).first
    }

    func committedProgress(of source: SourceState) throws -> SourceProgress {
        var skips = SkipTally()
        for row in try db.prepare("SELECT reason, count, first_line FROM skips WHERE source_id = ?").rows([.int(source.id)]) {
            guard let reason = row[0].string.flatMap(SkipReason.init(rawValue:)) else {
                throw ShardsError(.corrupt, path: db.path, "skips of source \(source.id): unknown reason '\(row[0].string ?? "")'")
            }
            skips.add(reason, count: row[1].int64 ?? 0, firstLine: row[2].int64)
        }
        skips.add(.duplicate, count: source.duplicates)
        return SourceProgress(records: source.records, skips: skips)
    }

    func sources() throws -> [SourceState] { try sources(where: "", []) }

    private func sources(where clause: String, _ values: [SQLValue]) throws -> [SourceState] {
        try db.prepare("""
            SELECT id, path, file_bytes, status, error, records, documents, tokens, text_bytes, duplicates, skipped
            FROM sources \(clause) ORDER BY id
            """).rows(values).map { row in
            SourceState(id: row[0].int64 ?? 0, path: row[1].string ?? "", fileBytes: row[2].int64 ?? 0,
                        status: row[3].string.flatMap(SourceStatus.init) ?? .partial, error: row[4].string,
                        records: row[5].int64 ?? 0, documents: row[6].int64 ?? 0, tokens: row[7].int64 ?? 0,
                        textBytes: row[8].int64 ?? 0, duplicates: row[9].int64 ?? 0, skipped: row[10].int64 ?? 0)
        }
    }

    mutating func beginSource(path: String, fileBytes: Int64) throws -> SourceState {
        try checkUsable()
        if let current {
            throw ShardsError(.invalidArgument, path: path,
                              "source \(current.path) is still current: end it first")
        }
        if var existing = try source(path: path) {
            if existing.fileBytes != fileBytes && existing.status == .error && existing.records == 0 {
                // It failed before any record was read (e.g. it was missing): nothing depends on its bytes.
                try ensureTransaction()
                try db.prepare("UPDATE sources SET file_bytes = ? WHERE id = ?").run(.int(fileBytes), .int(existing.id))
                existing.fileBytes = fileBytes
            }
            guard existing.fileBytes == fileBytes else {
                throw ShardsError(.mismatch, path: path,
                                  "input changed since it was sharded: it was \(existing.fileBytes) bytes, now \(fileBytes)")
            }
            if existing.status != .done { current = existing }
            return existing
        }
        try ensureTransaction()
        try db.prepare("""
            INSERT INTO sources (path, file_bytes, status, records, documents, tokens, text_bytes, duplicates, skipped)
            VALUES (?, ?, 'partial', 0, 0, 0, 0, 0, 0)
            """).run(.text(path), .int(fileBytes))
        let id = try db.scalar("SELECT last_insert_rowid()")?.int64 ?? 0
        let state = SourceState(id: id, path: path, fileBytes: fileBytes, status: .partial, error: nil,
                                records: 0, documents: 0, tokens: 0, textBytes: 0, duplicates: 0, skipped: 0)
        current = state
        return state
    }

    // MARK: Documents

    /// See `ShardStore.append(_:tokens:countTokens:)`.
    mutating func append(_ info: DocumentInfo, tokens: UnsafeBufferPointer<UInt32>, countTokens: Bool) throws -> DocumentLocation {
        try checkUsable()
        // The current source is read and updated in place: a copy of it (its path, its error)
        // would cost retains and releases on the writer, per document.
        guard let sourceID = Self.inPlace(&current, { $0?.id }) else {
            throw ShardsError(.invalidArgument, path: indexPath, "append without a current source (call beginSource)")
        }
        let vocab = UInt32(settings.vocabSize)
        if !ShardWriter.allBelow(vocab, tokens), let bad = tokens.first(where: { $0 >= vocab }) {
            throw ShardsError(.invalidArgument, path: current?.path ?? indexPath,
                              "record \(info.record): token id \(bad) is outside the vocabulary of \(vocab)")
        }
        try ensureTransaction()
        do {
            let split = Split.of(hash: info.hash, valFraction: settings.valFraction)
            let length = Int64(tokens.count) + 1
            let shardTokens = settings.shardTokens
            if Self.inPlace(&open[split.slot], { shard in
                guard let written = shard?.writer.tokenCount else { return false }
                return written > 0 && written + length > shardTokens && length <= shardTokens
            }) {
                try close(split)  // it does not fit here but fits an empty shard: do not split it
            }
            if Self.inPlace(&open[split.slot], { $0 == nil }) { try openShard(split) }
            let (shardID, seq, offset) = Self.inPlace(&open[split.slot]) { shard in
                shard!.documents += 1
                shard!.textBytes += info.byteCount
                return (shard!.id, shard!.seq, shard!.writer.tokenCount)
            }
            let location = DocumentLocation(id: nextDocumentID, split: split, shardSeq: seq,
                                            tokenOffset: offset, tokenCount: Int64(tokens.count))
            pendingRows.append(location.id)
            pendingRows.append(sourceID)
            pendingRows.append(info.record)
            pendingRows.append(info.line)
            pendingRows.append(shardID)
            pendingRows.append(location.tokenOffset)
            pendingRows.append(location.tokenCount)
            pendingRows.append(info.byteCount)
            pendingRows.append(Int64(bitPattern: info.hash.hi))
            pendingRows.append(Int64(bitPattern: info.hash.lo))
            if pendingRows.count == Self.rowsPerInsert * Self.columns {
                let insert = insertDocuments
                try pendingRows.withUnsafeBufferPointer { values in
                    for (i, v) in values.enumerated() { try insert.bind(Int32(i + 1), v) }
                }
                try insert.execute()
                pendingRows.removeAll(keepingCapacity: true)
            }
            try write(settings.eotID, split)
            try write(tokens, split)

            if countTokens {
                tokenDeltas[split][Int(settings.eotID)] += 1
                tokenDeltas[split].withUnsafeMutableBufferPointer { counts in
                    for t in tokens { counts[Int(t)] += 1 }
                }
            }
            lengthDeltas[split][Int64(tokens.count), default: 0] += 1
            current?.documents += 1
            current?.tokens += length
            current?.textBytes += info.byteCount
            nextDocumentID += 1
            return location
        } catch {
            poisoned = error
            throw error
        }
    }

    /// `body` on `value` in place: reading a field of a stored struct (the open shard, the
    /// current source) through its getter copies the whole value out, references and all.
    @inline(__always)
    private static func inPlace<Value, Result>(_ value: inout Value, _ body: (inout Value) throws -> Result) rethrows -> Result {
        try body(&value)
    }

    /// See `ShardStore.addTokenCounts(_:split:)`.
    mutating func addTokenCounts(_ counts: UnsafeMutableBufferPointer<UInt32>, split: Split) {
        precondition(counts.count == settings.vocabSize, "one count per token id")
        // Every id, zeros included, and then the counts cleared at once: both vectorize, where a
        // branch per id did not (the writer ran this for 2 × vocabulary ids per batch).
        tokenDeltas[split].withUnsafeMutableBufferPointer { deltas in
            guard let d = deltas.baseAddress, let c = counts.baseAddress else { return }
            for i in 0..<counts.count { d[i] &+= Int64(c[i]) }
        }
        counts.update(repeating: 0)
    }

    /// Writes tokens to the split's open shards, closing each as it fills.
    private mutating func write(_ tokens: UnsafeBufferPointer<UInt32>, _ split: Split) throws {
        let shardTokens = settings.shardTokens
        var start = 0
        while start < tokens.count {
            if Self.inPlace(&open[split.slot], { $0 == nil }) { try openShard(split) }
            let full = try Self.inPlace(&open[split.slot]) { shard in
                let n = min(Int(shardTokens - shard!.writer.tokenCount), tokens.count - start)
                try shard!.writer.append(idsThatFit: UnsafeBufferPointer(rebasing: tokens[start..<start + n]))
                start += n
                return shard!.writer.tokenCount == shardTokens
            }
            if full { try close(split) }
        }
    }

    /// Writes one token (a document's end-of-text token) as `write(_:_:)` does.
    private mutating func write(_ token: UInt32, _ split: Split) throws {
        let shardTokens = settings.shardTokens
        if Self.inPlace(&open[split.slot], { $0 == nil }) { try openShard(split) }
        let full = try Self.inPlace(&open[split.slot]) { shard in
            try shard!.writer.append(idThatFits: token)
            return shard!.writer.tokenCount == shardTokens
        }
        if full { try close(split) }
    }

    /// Starts the split's next shard: its file, and its row in the open transaction.
    private mutating func openShard(_ split: Split) throws {
        let seq = nextSeq[split]
        let name = part.shardName(split: split, seq: seq)
        let writer = try ShardFileWriter.create(path: FileSystem.join(directory, name), width: settings.tokenWidth)
        try insertShard.run(.text(name), .text(split.rawValue), .int(seq))
        let id = try db.scalar("SELECT last_insert_rowid()")?.int64 ?? 0
        nextSeq[split] = seq + 1
        open[split.slot] = OpenShard(id: id, split: split, seq: seq, writer: writer, documents: 0, textBytes: 0)
    }

    /// Finishes the split's open shard; it is recorded closed and renamed at the next commit.
    private mutating func close(_ split: Split) throws {
        guard var shard = open[split.slot].take() else { return }
        let (tokens, crc) = try shard.writer.finish()
        pendingClose.append(ClosedShard(id: shard.id, path: shard.writer.path, tokens: tokens, crc: crc,
                                        documents: shard.documents, textBytes: shard.textBytes))
    }

    // MARK: Commit

    private mutating func ensureTransaction() throws {
        if !inTransaction {
            try db.begin()
            inTransaction = true
        }
    }

    /// See `ShardStore.insertVocabulary(upTo:)`.
    mutating func insertVocabulary(upTo n: Int) throws {
        guard !pendingVocab.isEmpty else { return }
        try writing { core in
            try core.ensureTransaction()
            try core.insertPendingVocabulary(n)
        }
    }

    private mutating func insertPendingVocabulary(_ n: Int) throws {
        guard !pendingVocab.isEmpty else { return }
        let started = ContinuousClock.now
        let word = try db.prepare("INSERT INTO vocab (id, bytes, text, special) VALUES (?, ?, ?, ?)")
        for entry in pendingVocab.prefix(n) {
            try word.run(.int(Int64(entry.id)), .blob(entry.bytes), .text(VocabEntry.displayText(entry.bytes)),
                         .int(entry.special ? 1 : 0))
        }
        pendingVocab = pendingVocab.dropFirst(n)
        trace?.record("vocab", since: started)
    }

    /// Refuses a closed store, or one an earlier write failed in.
    private func checkUsable() throws {
        if closed { throw ShardsError(.invalidArgument, path: indexPath, "the store is closed") }
        if let poisoned {
            throw ShardsError(.corrupt, path: indexPath, "an earlier write failed (\(poisoned)); reopen the store to recover")
        }
    }

    /// Runs a write: refused when the store is closed or an earlier write failed; a write that
    /// fails poisons the store (it must be reopened, which recovers to the last commit).
    private mutating func writing<T>(_ body: (inout ShardStoreCore) throws -> T) throws -> T {
        try checkUsable()
        do {
            return try body(&self)
        } catch {
            poisoned = error
            throw error
        }
    }

    /// See `ShardStore.endSource(progress:end:)`.
    mutating func endSource(progress: SourceProgress, end: SourceEnd) throws {
        try writing { core in
            guard core.current != nil else { return }
            try core.ensureTransaction()
            switch end {
            case .done: try core.recordSource(progress: progress, status: .done, error: nil)
            case .failed(let error): try core.recordSource(progress: progress, status: .error, error: error.description)
            }
        }
    }

    /// See `ShardStore.commit(progress:)`.
    mutating func commit(progress: SourceProgress?) throws {
        try writing { core in try core.commitChanges(progress: progress, fold: false) }
    }

    /// See `ShardStore.prepareToFinish()`.
    mutating func prepareToFinish() throws {
        try writing { core in
            try core.ensureTransaction()
            try core.insertPendingRows()
            try core.db.execute(IndexSchema.positionIndex)
            try core.foldTokenCounts()
        }
    }

    /// See `ShardStore.finish()`.
    mutating func finish() throws {
        try checkUsable()
        if let current {
            throw ShardsError(.invalidArgument, path: current.path, "source is still current at the end of the job: end it first")
        }
        try writing { core in
            try core.ensureTransaction()
            for split in Split.allCases where core.open[split.slot] != nil { try core.close(split) }
            try core.insertPendingRows()
            let indexing = ContinuousClock.now
            try core.db.execute(IndexSchema.positionIndex)
            core.trace?.record("finish: position index", since: indexing)
            try core.commitChanges(progress: nil, fold: true)
        }
    }

    /// Inserts the document rows still buffered (fewer than `rowsPerInsert`), one statement each.
    private mutating func insertPendingRows() throws {
        var start = 0
        while start < pendingRows.count {
            for c in 0..<Self.columns { try insertDocument.bind(Int32(c + 1), pendingRows[start + c]) }
            try insertDocument.execute()
            start += Self.columns
        }
        pendingRows.removeAll(keepingCapacity: true)
    }

    /// Adds the token counts not yet in `token_counts` to it, a row per id, in the open
    /// transaction, and clears them.
    private mutating func foldTokenCounts() throws {
        for split in Split.allCases {
            try upsertToken.bind(1, split.rawValue)
            try tokenDeltas[split].withUnsafeMutableBufferPointer { deltas in
                for (id, delta) in deltas.enumerated() where delta != 0 {
                    try upsertToken.bind(2, Int64(id))
                    try upsertToken.bind(3, delta)
                    try upsertToken.execute()
                }
                deltas.update(repeating: 0)
            }
        }
    }

    /// Updates the current source's row in the open transaction; a final status (done, error)
    /// clears it.
    private mutating func recordSource(progress: SourceProgress?, status: SourceStatus, error message: String?) throws {
        guard var source = current else { return }
        if let progress {
            source.records = progress.records
            source.duplicates = progress.skips[.duplicate]
            source.skipped = progress.skips.total - progress.skips[.duplicate]
            let upsertSkip = try db.prepare("INSERT OR REPLACE INTO skips (source_id, reason, count, first_line) VALUES (?, ?, ?, ?)")
            for reason in progress.skips.reasons where reason != .duplicate {
                try upsertSkip.run(.int(source.id), .text(reason.rawValue), .int(progress.skips[reason]),
                                   progress.skips.firstLine(reason).map(SQLValue.int) ?? .null)
            }
        }
        source.status = status
        source.error = message
        let s = source
        try db.prepare("""
            UPDATE sources SET status = ?, error = ?, records = ?, documents = ?, tokens = ?, text_bytes = ?,
            duplicates = ?, skipped = ? WHERE id = ?
            """).run(.text(s.status.rawValue), message.map(SQLValue.text) ?? .null, .int(s.records), .int(s.documents),
                     .int(s.tokens), .int(s.textBytes), .int(s.duplicates), .int(s.skipped), .int(s.id))
        current = status == .partial ? source : nil
    }

    /// Commits what was written. The token counts since the job began (or since the counts of an
    /// earlier run were folded) go to `token_counts_pending` as a blob per split; with `fold`
    /// (the job's end), they are added to `token_counts`, a row per token id, and the blob goes.
    private mutating func commitChanges(progress: SourceProgress?, fold: Bool) throws {
        try ensureTransaction()
        try insertPendingRows()
        // 1. Shard bytes first: what the index will call committed must be on disk.
        let updateShard = try db.prepare("""
            UPDATE shards SET status = ?, tokens = ?, documents = ?, text_bytes = ?, crc32 = ? WHERE id = ?
            """)
        for split in Split.allCases where open[split.slot] != nil {
            let (tokens, crc) = try open[split.slot]!.writer.checkpoint(sync: true)
            let shard = open[split.slot]!
            try updateShard.run(.text(ShardStatus.open.rawValue), .int(tokens), .int(shard.documents), .int(shard.textBytes),
                                .int(Int64(crc)), .int(shard.id))
        }
        for shard in pendingClose {
            try updateShard.run(.text(ShardStatus.closed.rawValue), .int(shard.tokens), .int(shard.documents), .int(shard.textBytes),
                                .int(Int64(shard.crc)), .int(shard.id))
        }
        // 2. The vocabulary of a new index, what is left of it; aggregates.
        try insertPendingVocabulary(.max)
        var step = ContinuousClock.now
        if fold {
            try foldTokenCounts()
            try db.execute("DELETE FROM token_counts_pending")
        } else {
            for split in Split.allCases {
                // None: either none yet, or all added to `token_counts` in this transaction.
                guard tokenDeltas[split].contains(where: { $0 != 0 }) else {
                    try db.prepare("DELETE FROM token_counts_pending WHERE split = ?").run(.text(split.rawValue))
                    continue
                }
                #if _endian(big)
                let counts = tokenDeltas[split].map(\.littleEndian)
                #else
                let counts = tokenDeltas[split]
                #endif
                try counts.withUnsafeBytes { bytes in
                    try upsertPending.bind(1, split.rawValue)
                    try upsertPending.bind(2, bytes: bytes)
                    try upsertPending.execute()
                }
            }
        }
        for split in Split.allCases {
            try upsertLength.bind(1, split.rawValue)
            for (length, count) in lengthDeltas[split].sorted(by: { $0.key < $1.key }) {
                try upsertLength.bind(2, length)
                try upsertLength.bind(3, count)
                try upsertLength.execute()
            }
        }
        trace?.record("commit: counts", since: step)
        // 3. The current source.
        try recordSource(progress: progress, status: .partial, error: nil)
        step = ContinuousClock.now
        try db.commit()
        inTransaction = false
        trace?.record("commit: sqlite", since: step)
        // 4. Only now may closed shards take their final names.
        for shard in pendingClose { try ShardWriter.publish(path: shard.path) }
        pendingClose.removeAll()
        // 5. Copy the committed pages from the write-ahead log into the index file now, while
        // the encoders work, rather than all at once when the job closes the index.
        step = ContinuousClock.now
        try db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        trace?.record("commit: checkpoint", since: step)
        for split in Split.allCases { lengthDeltas[split].removeAll(keepingCapacity: true) }
    }

    // MARK: Reading back

    /// See `ShardStore.forEachDocumentHash(_:)`.
    func forEachDocumentHash(_ body: (ContentHash) throws -> Void) throws {
        try db.prepare("SELECT hash_hi, hash_lo FROM documents ORDER BY id").forEachRow { row in
            try body(ContentHash(hi: UInt64(bitPattern: row.int64(0)), lo: UInt64(bitPattern: row.int64(1))))
        }
    }

    /// See `ShardStore.uncommittedShardCloses`.
    var uncommittedShardCloses: Int { pendingClose.count }
}

extension Split {
    /// 0 for train, 1 for val: a split's place in an array of two.
    var slot: Int { self == .train ? 0 : 1 }
}
