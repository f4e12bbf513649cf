/// The SQL schema of `index.sqlite`, format version 1. `docs/index-schema.md` explains
/// every table for users (it is the README text); keep the two in step.
///
/// Conventions: 64-bit integers everywhere; splits are the strings 'train' and 'val'; shard
/// paths are file names relative to the corpus directory; token offsets count tokens from the
/// first token after the 1024-byte header.
public enum IndexSchema {
    public static let formatVersion: Int64 = 1
    public static let fileName = "index.sqlite"

    /// Built by `ShardStore.finish()` rather than with the table: bulk inserts run faster
    /// without it, and building it once at the end is cheaper than maintaining it.
    static let positionIndex = "CREATE INDEX IF NOT EXISTS documents_by_position ON documents (shard_id, token_offset)"

    /// The token counts that commits of a job not yet finished recorded, and that are not yet in
    /// `token_counts`: one row per split, a blob of `vocab_size` little-endian int64, one count
    /// per token id. A commit rewrites it (two rows, where adding its counts to `token_counts`
    /// would write a row per token id seen: a long pause with a large vocabulary); the job's end
    /// adds it to `token_counts` and deletes it (most of it while the last batches are encoded:
    /// `ShardStore.prepareToFinish`). `token_counts` plus this is what the shards hold; `stats`
    /// and `verify` add it. (Created if missing: indexes written before it have none.)
    static let pendingTokenCounts = """
    CREATE TABLE IF NOT EXISTS token_counts_pending (
        split  TEXT PRIMARY KEY,
        counts BLOB NOT NULL               -- vocab_size little-endian int64, one count per token id
    )
    """

    /// The pending counts of `split` (zeros when there are none), checked for size.
    static func pendingTokenCounts(_ db: Database, split: Split, vocabSize: Int) throws -> [Int64] {
        var counts = [Int64](repeating: 0, count: vocabSize)
        guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'token_counts_pending'")?.int64 == 1 else { return counts }
        try db.prepare("SELECT counts FROM token_counts_pending WHERE split = ?").forEachRow([.text(split.rawValue)]) { row in
            let blob = row.blob(0)
            guard blob.count == vocabSize * 8 else {
                throw ShardsError(.corrupt, path: db.path, "token_counts_pending for \(split) has \(blob.count) bytes, "
                                  + "not 8 per token id (\(vocabSize * 8))")
            }
            counts.withUnsafeMutableBytes { $0.copyBytes(from: blob) }
            #if _endian(big)
            for i in counts.indices { counts[i] = Int64(littleEndian: counts[i]) }
            #endif
        }
        return counts
    }

    static let sql = """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value                      -- no declared type: integers, reals and text stay as stored
    );
    CREATE TABLE vocab (
        id      INTEGER PRIMARY KEY,
        bytes   BLOB NOT NULL,      -- the token's bytes
        text    TEXT NOT NULL,      -- display form: UTF-8 with \\n \\t \\\\ and \\xNN escapes
        special INTEGER NOT NULL    -- 1 for special tokens such as <|endoftext|>
    );
    CREATE TABLE sources (
        id          INTEGER PRIMARY KEY,   -- 1, 2, … in the order sources were first sharded
        path        TEXT NOT NULL UNIQUE,  -- the input file as resolved by `shard`
        file_bytes  INTEGER NOT NULL,      -- size of the input file (compressed size for .gz)
        status      TEXT NOT NULL CHECK (status IN ('partial', 'done', 'error')),
        error       TEXT,                  -- one-line message when status = 'error'
        records     INTEGER NOT NULL,      -- records consumed (kept + duplicate + skipped): the resume point
        documents   INTEGER NOT NULL,      -- documents written to shards
        tokens      INTEGER NOT NULL,      -- tokens written, one end-of-text token per document included
        text_bytes  INTEGER NOT NULL,      -- UTF-8 bytes of the documents written
        duplicates  INTEGER NOT NULL,      -- records dropped as duplicates of an earlier document
        skipped     INTEGER NOT NULL       -- records skipped for other reasons (sum of skips.count)
    );
    CREATE TABLE skips (
        source_id   INTEGER NOT NULL REFERENCES sources (id),
        reason      TEXT NOT NULL,         -- e.g. 'invalid-json', 'too-short'
        count       INTEGER NOT NULL,
        first_line  INTEGER,               -- 1-based line of the first record skipped for this reason
        PRIMARY KEY (source_id, reason)
    ) WITHOUT ROWID;
    CREATE TABLE shards (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL UNIQUE,  -- file name in the corpus directory, e.g. train_000000.bin
        split       TEXT NOT NULL CHECK (split IN ('train', 'val')),
        seq         INTEGER NOT NULL,      -- 0, 1, 2, … within the split (the number in the name)
        status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        tokens      INTEGER NOT NULL,      -- tokens in the file (the committed count while open)
        documents   INTEGER NOT NULL,      -- documents that start here (their end-of-text token is here)
        text_bytes  INTEGER NOT NULL,      -- UTF-8 bytes of those documents
        crc32       INTEGER NOT NULL,      -- CRC-32 (zlib) of the token bytes after the header, unsigned
        UNIQUE (split, seq)
    );
    CREATE TABLE documents (
        id           INTEGER PRIMARY KEY,  -- 0, 1, 2, … in input order over all sources
        source_id    INTEGER NOT NULL REFERENCES sources (id),
        record       INTEGER NOT NULL,     -- 0-based record number in the source (skipped records counted)
        line         INTEGER NOT NULL,     -- 1-based line where the record starts
        shard_id     INTEGER NOT NULL REFERENCES shards (id),  -- the shard holding its end-of-text token
        token_offset INTEGER NOT NULL,     -- offset of that end-of-text token in the shard
        token_count  INTEGER NOT NULL,     -- tokens of the text, the end-of-text token excluded
        byte_count   INTEGER NOT NULL,     -- UTF-8 bytes of the text
        hash_hi      INTEGER NOT NULL,     -- 128-bit content hash: high 64 bits (as signed)
        hash_lo      INTEGER NOT NULL      --                        low 64 bits (as signed)
    );
    CREATE TABLE token_counts (
        split    TEXT NOT NULL,
        token_id INTEGER NOT NULL,
        count    INTEGER NOT NULL,         -- occurrences in the split's shards, end-of-text tokens included
        PRIMARY KEY (split, token_id)
    ) WITHOUT ROWID;
    CREATE TABLE length_counts (
        split       TEXT NOT NULL,
        token_count INTEGER NOT NULL,      -- a document length in tokens (end-of-text excluded)
        documents   INTEGER NOT NULL,      -- documents of that length
        PRIMARY KEY (split, token_count)
    ) WITHOUT ROWID;
    \(pendingTokenCounts);
    """
}
