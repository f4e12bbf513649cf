#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The dedup set within a memory budget: exact, whatever the number of documents.
///
///     let seen = SpillingDeduplicator(memoryBytes: 256 << 20, directory: "corpus/dedup.tmp")
///     try seen.insert(hash)   // true: new; false: a duplicate
///
/// Hashes go into an in-memory `Deduplicator` whose table may grow to the largest power of
/// two of 16-byte slots within half of `memoryBytes`. When it holds half that many, its hashes are
/// sorted in place and written out as a *run* (`run-N.bin` in `directory`: 16 bytes per hash,
/// `hi` then `lo`, in the machine's byte order), and the table starts again empty. A run keeps
/// only a directory of bucket starts in memory (8 bytes per 256 hashes): looking a hash up in
/// it reads one 4 KiB bucket with `pread`, from the page cache when the runs fit there (which
/// is outside this process's memory, and the kernel's to give back). Runs are merged as a
/// binary counter merges carries (the newest two while the newer is at least as large), so
/// there are at most log2(hashes / table) + 1 of them and each hash is rewritten O(log) times.
///
/// Below the budget nothing is written and it is exactly a `Deduplicator`. The runs are a
/// cache, not a record: the directory's run files are removed when the set is created and by
/// `close` (the sharder reloads its set from the index).
///
/// Not thread-safe (like `Deduplicator`).
public final class SpillingDeduplicator {
    public let directory: String
    private let memory: Deduplicator
    /// The table spills when it holds this many hashes (half its largest size).
    private let tableLimit: Int
    private var runs: [SortedRun] = []
    private var nextRun = 0
    private var hasZero = false
    private var spilled = 0
    private var scratch: [ContentHash] = []
    /// A blocked Bloom filter over the hashes in the runs (`filterBlocks` cache lines, three
    /// bits per hash in one line): most new documents are not looked up on disk at all. Its
    /// size is fixed, so as the runs grow it lets through more, but never a hash it holds.
    /// Safety: nil, or `8 * filterBlocks` initialized words allocated by the first spill and
    /// freed by `close`, which sets it back to nil; `filterLine` is only called while it is set
    /// (there are runs).
    private var filter: UnsafeMutablePointer<UInt64>?
    private let filterBlocks: Int
    /// Lookups in the runs, and those that found the hash.
    public private(set) var runLookups = 0
    public private(set) var runHits = 0
    /// How many times the table was written out.
    public private(set) var spills = 0

    /// Within `memoryBytes` (at least 36 KiB is used): the table may grow to half of it (and
    /// while it doubles, the old half of that is there too), the filter over the runs takes a
    /// quarter from the first spill on. Runs go to `directory`, created when first needed.
    public init(memoryBytes: Int, directory: String) {
        var slots = 2048
        while slots * 2 * MemoryLayout<ContentHash>.stride <= memoryBytes / 2 { slots *= 2 }
        self.directory = directory
        tableLimit = slots / 2
        filterBlocks = Swift.max(64, memoryBytes / 4 / 64)
        memory = Deduplicator(slots: Swift.min(slots, 1024))
        removeRunFiles()
    }

    // Only when something is left: after `close`, a new set may be using the directory.
    deinit { if !runs.isEmpty || filter != nil { close() } }

    /// Removes the runs and the directory (if empty). The set holds only its in-memory part
    /// afterwards: call it when done (deinit does too, but a process may exit before the last
    /// reference goes away).
    public func close() {
        runs.removeAll()  // closes and unlinks
        spilled = 0
        filter?.deallocate()
        filter = nil
        removeRunFiles()
        rmdir(directory)
    }

    /// Distinct hashes inserted so far.
    public var count: Int { memory.count + spilled + (hasZero ? 1 : 0) }

    /// Runs on disk now.
    public var runCount: Int { runs.count }

    /// Adds `h`; returns true if it was not there before. Throws only when a run cannot be
    /// written.
    @discardableResult
    public func insert(_ h: ContentHash) throws -> Bool {
        if isZero(h) {
            defer { hasZero = true }
            return !hasZero
        }
        // Before any spill the table alone decides (`add`, one probe); after, a hash the
        // table holds must not be looked up on disk.
        if try !runs.isEmpty && (memory.contains(h) || inRuns(h)) { return false }
        return try add(h)
    }

    /// Adds `h`, which the caller knows is not in the set (hashes reloaded from an index of
    /// distinct documents): no lookup in the runs.
    public func insertDistinct(_ h: ContentHash) throws {
        if isZero(h) {
            hasZero = true
            return
        }
        _ = try add(h)
    }

    /// Whether `h` was inserted. Throws only when a run cannot be read.
    public func contains(_ h: ContentHash) throws -> Bool {
        if isZero(h) { return hasZero }
        return try memory.contains(h) || inRuns(h)
    }

    /// Whether `h` is in the in-memory table: a cheap, partial `contains` (false may still be
    /// a duplicate of a hash written out to a run).
    public func containsInMemory(_ h: ContentHash) -> Bool {
        isZero(h) ? hasZero : memory.contains(h)
    }

    private func isZero(_ h: ContentHash) -> Bool { h.hi == 0 && h.lo == 0 }

    /// The filter's cache line for `h` (from `lo`'s top half: the table's slot comes from its
    /// bottom bits, a run's bucket from `hi`'s top bits) and its three bits (from `hi`'s bottom).
    @inline(__always)
    private func filterLine(_ h: ContentHash) -> (UnsafeMutablePointer<UInt64>, UInt64, UInt64, UInt64) {
        let block = Int(((h.lo >> 32) &* UInt64(filterBlocks)) >> 32)
        return (filter! + 8 * block, h.hi & 511, (h.hi >> 9) & 511, (h.hi >> 18) & 511)
    }

    private func filterAdd(_ h: ContentHash) {
        let (line, a, b, c) = filterLine(h)
        line[Int(a >> 6)] |= 1 << (a & 63)
        line[Int(b >> 6)] |= 1 << (b & 63)
        line[Int(c >> 6)] |= 1 << (c & 63)
    }

    private func inRuns(_ h: ContentHash) throws -> Bool {
        if runs.isEmpty { return false }
        let (line, a, b, c) = filterLine(h)
        if line[Int(a >> 6)] & (1 << (a & 63)) == 0 || line[Int(b >> 6)] & (1 << (b & 63)) == 0
            || line[Int(c >> 6)] & (1 << (c & 63)) == 0 { return false }
        runLookups += 1
        for run in runs where try run.contains(h, scratch: &scratch) {
            runHits += 1
            return true
        }
        return false
    }

    /// Puts `h` in the table, spilling the table first when it is full; false if it was there.
    private func add(_ h: ContentHash) throws -> Bool {
        if memory.tableCount >= tableLimit {
            if memory.contains(h) { return false }
            try spill()
        }
        return memory.insert(h)
    }

    private func spill() throws {
        if runs.isEmpty { try makeDirectory() }
        let path = runPath()
        if filter == nil {
            filter = .allocate(capacity: 8 * filterBlocks)
            filter!.initialize(repeating: 0, count: 8 * filterBlocks)
        }
        // A failure leaves the set as it was: the table keeps its hashes (`drainSorted`), the
        // runs are replaced only by a complete merge, and a partial file goes at `close`.
        try memory.drainSorted { sorted in
            try SortedRun.save(sorted, to: path)
            runs.append(try SortedRun(path: path))
            for h in sorted { filterAdd(h) }
            spilled += sorted.count
        }
        spills += 1
        while runs.count >= 2 && runs[runs.count - 1].count >= runs[runs.count - 2].count {
            let merged = runPath()
            try SortedRun.merge(runs[runs.count - 2], runs[runs.count - 1], to: merged)
            let run = try SortedRun(path: merged)
            runs.removeLast(2)
            runs.append(run)
        }
    }

    private func runPath() -> String {
        defer { nextRun += 1 }
        return "\(directory)/run-\(nextRun).bin"
    }

    private func makeDirectory() throws {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw SpillError(path: directory, message: "cannot create the dedup spill directory: \(String(cString: strerror(errno)))")
        }
    }

    private func removeRunFiles() {
        guard let dir = opendir(directory) else { return }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name.hasPrefix("run-") && name.hasSuffix(".bin") { names.append(name) }
        }
        closedir(dir)
        for name in names { unlink("\(directory)/\(name)") }
    }
}

/// A dedup spill file could not be written or read.
public struct SpillError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Sorted distinct hashes in a file, with the start of each bucket (the hashes sharing
/// their top bits of `hi`; about 256 per bucket, 4 KiB) kept in memory. A lookup reads its
/// bucket with one `pread` (the page cache keeps hot runs in memory, outside this process).
final class SortedRun {
    let path: String
    let count: Int
    private let fd: Int32
    private let shift: UInt64
    private var starts: [Int] = []

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY)
        if fd < 0 { throw SpillError(path: path, message: "cannot open a dedup run: \(String(cString: strerror(errno)))") }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let message = String(cString: strerror(errno))
            close(fd)
            throw SpillError(path: path, message: "cannot stat a dedup run: \(message)")
        }
        count = Int(info.st_size) / MemoryLayout<ContentHash>.stride
        var buckets = 1, bits: UInt64 = 0
        while buckets * 256 < count {
            buckets *= 2
            bits += 1
        }
        shift = 64 - bits  // `>>` by 64 gives 0: one bucket
        starts = [Int](repeating: count, count: buckets + 1)
        // starts[b] = the first index whose bucket is b or more: one sequential pass.
        var b = 0, i = 0
        let reader = RunReader(self)
        while let h = try reader.next() {
            let bucket = Int(h.hi >> shift)
            while b <= bucket {
                starts[b] = i
                b += 1
            }
            i += 1
        }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Whether the run holds `h`; `scratch` is a buffer the caller keeps.
    func contains(_ h: ContentHash, scratch: inout [ContentHash]) throws -> Bool {
        let bucket = Int(h.hi >> shift)
        let first = starts[bucket], n = starts[bucket + 1] - first
        if n == 0 { return false }
        if scratch.count < n { scratch = [ContentHash](repeating: ContentHash(hi: 0, lo: 0), count: n) }
        return try scratch.withUnsafeMutableBufferPointer { buffer in
            try read(into: buffer.baseAddress!, count: n, at: first)
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) / 2
                let x = buffer[mid]
                if x == h { return true }
                if x < h { lo = mid + 1 } else { hi = mid }
            }
            return false
        }
    }

    /// Reads hashes `index..<index + count`.
    func read(into buffer: UnsafeMutablePointer<ContentHash>, count: Int, at index: Int) throws {
        let stride = MemoryLayout<ContentHash>.stride
        var done = 0
        let want = count * stride
        let raw = UnsafeMutableRawPointer(buffer)
        while done < want {
            let n = pread(fd, raw + done, want - done, off_t((index * stride) + done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let message = n < 0 ? String(cString: strerror(errno)) : "the file is shorter than it was written"
                throw SpillError(path: path, message: "cannot read a dedup run: \(message)")
            }
            done += n
        }
    }

    /// Writes `sorted` to `path`.
    static func save(_ sorted: UnsafeBufferPointer<ContentHash>, to path: String) throws {
        let out = try Output(path: path)
        try out.append(sorted)
        try out.finish()
    }

    /// Writes the union of `a` and `b` to `path`, sorted (a hash in both is written once).
    static func merge(_ a: SortedRun, _ b: SortedRun, to path: String) throws {
        let out = try Output(path: path)
        let chunk = 1 << 16
        // Safety: `chunk` hashes, freed on every way out; `emit` writes below `chunk` only.
        let buffer = UnsafeMutablePointer<ContentHash>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        var n = 0
        func emit(_ h: ContentHash) throws {
            buffer[n] = h
            n += 1
            if n == chunk {
                try out.append(UnsafeBufferPointer(start: buffer, count: n))
                n = 0
            }
        }
        let ra = RunReader(a), rb = RunReader(b)
        var x = try ra.next(), y = try rb.next()
        while true {
            switch (x, y) {
            case (nil, nil):
                try out.append(UnsafeBufferPointer(start: buffer, count: n))
                try out.finish()
                return
            case (let u?, nil):
                try emit(u)
                x = try ra.next()
            case (nil, let v?):
                try emit(v)
                y = try rb.next()
            case (let u?, let v?):
                if u < v {
                    try emit(u)
                    x = try ra.next()
                } else if v < u {
                    try emit(v)
                    y = try rb.next()
                } else {
                    try emit(u)
                    x = try ra.next()
                    y = try rb.next()
                }
            }
        }
    }

    /// A run's hashes in order, read in chunks.
    ///
    /// Safety: `buffer` holds `capacity` hashes from `init` to `deinit`, of which `0..<filled`
    /// were read; `next` reads below `filled` only.
    final class RunReader {
        private let run: SortedRun
        private let buffer: UnsafeMutablePointer<ContentHash>
        private let capacity = 1 << 15
        private var next_ = 0, filled = 0, position = 0

        init(_ run: SortedRun) {
            self.run = run
            buffer = .allocate(capacity: capacity)
        }

        deinit { buffer.deallocate() }

        func next() throws -> ContentHash? {
            if next_ == filled {
                let n = Swift.min(capacity, run.count - position)
                if n == 0 { return nil }
                try run.read(into: buffer, count: n, at: position)
                position += n
                filled = n
                next_ = 0
            }
            defer { next_ += 1 }
            return buffer[next_]
        }
    }

    /// A file written from the start.
    private struct Output {
        let path: String
        let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if fd < 0 { throw SpillError(path: path, message: "cannot create a dedup run: \(String(cString: strerror(errno)))") }
        }

        func append(_ hashes: UnsafeBufferPointer<ContentHash>) throws {
            guard let start = hashes.baseAddress else { return }
            var p = UnsafeRawPointer(start)
            var left = hashes.count * MemoryLayout<ContentHash>.stride
            while left > 0 {
                let n = write(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    let message = String(cString: strerror(errno))
                    close(fd)
                    throw SpillError(path: path, message: "cannot write a dedup run: \(message)")
                }
                p += n
                left -= n
            }
        }

        func finish() throws {
            if close(fd) != 0 {
                throw SpillError(path: path, message: "cannot write a dedup run: \(String(cString: strerror(errno)))")
            }
        }
    }
}
