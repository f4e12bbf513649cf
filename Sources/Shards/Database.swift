// A small SQLite wrapper: one connection, prepared statements, transactions. Errors carry the
// database path and SQLite's own message.
import CSQLite

/// A value bound to or read from SQLite.
public enum SQLValue: Equatable, Sendable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public var int64: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let v): return Int64(exactly: v)
        case .text(let s): return Int64(s)
        default: return nil
        }
    }

    public var double: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        case .text(let s): return Double(s)
        default: return nil
        }
    }

    public var string: String? {
        switch self {
        case .text(let s): return s
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        case .null: return nil
        }
    }
}

/// One SQLite connection, closed on deinit.
///
///     let db = try Database(path: "out/index.sqlite")
///     try db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
///     try db.transaction { try db.prepare("INSERT INTO t VALUES (?, ?)").run(.int(1), .text("one")) }
///     let n = try db.scalar("SELECT count(*) FROM t")?.int64     // 1
public final class Database {
    public let path: String
    // Safety: `handle` is the open connection from sqlite3_open_v2, owned by this object and
    // closed exactly once in deinit (close_v2 defers until the last statement is finalized).
    let handle: OpaquePointer

    /// Opens (and unless `readOnly`, creates) the database at `path`.
    public init(path: String, readOnly: Bool = false) throws {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw ShardsError(.sqlite, path: path, "cannot open database: \(message)")
        }
        self.path = path
        self.handle = db
        sqlite3_busy_timeout(db, 10_000)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ rc: Int32, _ sql: String) -> ShardsError {
        var message = String(cString: sqlite3_errmsg(handle))
        if message == "not an error" || message.isEmpty { message = String(cString: sqlite3_errstr(rc)) }
        let short = sql.split(whereSeparator: \.isNewline).first.map(String.init) ?? sql
        return ShardsError(.sqlite, path: path, "\(message) (in: \(short.prefix(80)))")
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql) }
    }

    public func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql) }
        return Statement(database: self, sql: sql, handle: stmt)
    }

    /// Switches to write-ahead logging (readers never block the writer; commits are atomic).
    public func enableWAL() throws {
        let mode = try scalar("PRAGMA journal_mode=WAL")?.string?.lowercased()
        guard mode == "wal" else { throw ShardsError(.sqlite, path: path, "cannot enable WAL mode (got \(mode ?? "nothing"))") }
        try execute("PRAGMA synchronous=NORMAL")
    }

    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    public func begin() throws { try execute("BEGIN IMMEDIATE") }
    public func commit() throws { try execute("COMMIT") }
    public func rollback() throws { if isInTransaction { try execute("ROLLBACK") } }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try begin()
        do {
            let result = try body()
            try commit()
            return result
        } catch {
            try? rollback()
            throw error
        }
    }

    /// All rows of a query (for small results).
    public func rows(_ sql: String, _ values: SQLValue...) throws -> [[SQLValue]] {
        try prepare(sql).rows(values)
    }

    /// The first column of the first row, or nil when there is no row.
    public func scalar(_ sql: String, _ values: SQLValue...) throws -> SQLValue? {
        try prepare(sql).rows(values).first?.first
    }
}

/// A prepared statement, finalized on deinit.
public final class Statement {
    public let database: Database
    public let sql: String
    // Safety: a statement prepared on `database.handle`; the strong reference to `database`
    // keeps the connection open until this statement is finalized in deinit.
    let handle: OpaquePointer

    init(database: Database, sql: String, handle: OpaquePointer) {
        self.database = database
        self.sql = sql
        self.handle = handle
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `values` to its parameters ?1, ?2, …
    public func bind(_ values: [SQLValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .int(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .double(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let s): rc = sqlite3_bind_text(handle, index, s, -1, tm_sqlite_transient())
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob64(handle, index, $0.baseAddress, sqlite3_uint64($0.count), tm_sqlite_transient()) }
            }
            guard rc == SQLITE_OK else { throw database.error(rc, sql) }
        }
    }

    /// Binds one text parameter (1-based `index`); it stays bound across `execute()` calls.
    public func bind(_ index: Int32, _ value: String) throws {
        let rc = sqlite3_bind_text(handle, index, value, -1, tm_sqlite_transient())
        guard rc == SQLITE_OK else { throw database.error(rc, sql) }
    }

    /// Binds one integer parameter (1-based `index`), for hot loops that avoid `[SQLValue]`;
    /// pair with `execute()`.
    public func bind(_ index: Int32, _ value: Int64) throws {
        let rc = sqlite3_bind_int64(handle, index, value)
        guard rc == SQLITE_OK else { throw database.error(rc, sql) }
    }

    /// Binds a blob parameter (1-based `index`), copied by SQLite; pair with `execute()`.
    package func bind(_ index: Int32, bytes: UnsafeRawBufferPointer) throws {
        let rc = sqlite3_bind_blob64(handle, index, bytes.baseAddress, sqlite3_uint64(bytes.count), tm_sqlite_transient())
        guard rc == SQLITE_OK else { throw database.error(rc, sql) }
    }

    /// Runs a statement whose parameters were bound one by one, to completion, and resets it.
    public func execute() throws {
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    /// Advances to the next row: true when a row is available, false when done.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let err = database.error(rc, sql)
            sqlite3_reset(handle)
            throw err
        }
    }

    /// Binds `values`, runs the statement to completion and resets it.
    public func run(_ values: SQLValue...) throws { try run(values) }

    public func run(_ values: [SQLValue]) throws {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Binds `values` and calls `body` for each row (read columns with `int64(_:)`, …).
    public func forEachRow(_ values: [SQLValue] = [], _ body: (Statement) throws -> Void) throws {
        try bind(values)
        defer { sqlite3_reset(handle) }
        while try step() { try body(self) }
    }

    /// All rows, each as its column values.
    public func rows(_ values: [SQLValue] = []) throws -> [[SQLValue]] {
        var result: [[SQLValue]] = []
        try forEachRow(values) { row in result.append((0..<row.columnCount).map(row.value)) }
        return result
    }

    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    public func isNull(_ column: Int) -> Bool { sqlite3_column_type(handle, Int32(column)) == SQLITE_NULL }
    public func int64(_ column: Int) -> Int64 { sqlite3_column_int64(handle, Int32(column)) }
    public func double(_ column: Int) -> Double { sqlite3_column_double(handle, Int32(column)) }

    public func text(_ column: Int) -> String {
        guard let p = sqlite3_column_text(handle, Int32(column)) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    public func blob(_ column: Int) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(handle, Int32(column)))
        guard n > 0, let p = sqlite3_column_blob(handle, Int32(column)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    public func value(_ column: Int) -> SQLValue {
        switch sqlite3_column_type(handle, Int32(column)) {
        case SQLITE_INTEGER: return .int(int64(column))
        case SQLITE_FLOAT: return .double(double(column))
        case SQLITE_TEXT: return .text(text(column))
        case SQLITE_BLOB: return .blob(blob(column))
        default: return .null
        }
    }
}
