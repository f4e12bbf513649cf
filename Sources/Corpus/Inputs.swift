#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Turns `--input` arguments into a sorted list of files.
///
///     try Inputs.resolve(["data/*.jsonl.gz", "more/"])   // ["data/a.jsonl.gz", "more/b.txt", "more/sub/c.txt"]
///
/// - A file is taken as is.
/// - A directory gives every regular file below it, recursively.
/// - A pattern with `*`, `?` or `[…]` that is not itself an existing path is a glob, matched one path component at a time
///   (`fnmatch`); `**` as a whole component matches zero or more directories. A matched
///   directory gives its files as above.
///
/// Names starting with "." are left out of directory walks and are matched only by patterns
/// that spell the dot; symbolic links to files are followed, links to directories are not
/// walked into (no cycles). The result is sorted by the bytes of the paths and has no repeats.
public enum Inputs {
    /// - Throws: `CorpusError` `.fileNotFound` for a plain path that does not exist, `.noMatch`
    ///   for a glob or a directory that gives no file.
    public static func resolve(_ patterns: [String]) throws(CorpusError) -> [String] {
        var found = Set<String>()
        for pattern in patterns {
            let files: [String]
            if isGlob(pattern) && kind(of: pattern, followLinks: true) == nil {
                files = glob(pattern).flatMap { filesBelow($0) }
            } else {
                guard let kind = kind(of: pattern, followLinks: true) else { throw .fileNotFound(pattern) }
                files = kind == .directory ? filesBelow(pattern) : [pattern]
            }
            if files.isEmpty { throw .noMatch(pattern) }
            found.formUnion(files)
        }
        return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: file system

    enum Kind { case file, directory, other }

    static func kind(of path: String, followLinks: Bool) -> Kind? {
        var info = stat()
        let status = followLinks ? stat(path, &info) : lstat(path, &info)
        guard status == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    /// A file itself; or a directory's regular files, recursively (hidden names and links to
    /// directories left out).
    static func filesBelow(_ path: String) -> [String] {
        switch kind(of: path, followLinks: true) {
        case .file?: return [path]
        case .directory?: break
        default: return []
        }
        var files: [String] = []
        for name in visibleEntries(path) {
            let child = join(path, name)
            switch kind(of: child, followLinks: true) {
            case .file?: files.append(child)
            case .directory?:
                if kind(of: child, followLinks: false) == .directory { files += filesBelow(child) }
            default: break
            }
        }
        return files
    }

    /// `dir` and all directories below it (not through links, not hidden).
    static func directoriesBelow(_ dir: String) -> [String] {
        var dirs = [dir]
        for name in visibleEntries(dir.isEmpty ? "." : dir) {
            let child = join(dir, name)
            if kind(of: child, followLinks: false) == .directory { dirs += directoriesBelow(child) }
        }
        return dirs
    }

    /// Entry names of a directory not starting with ".", sorted.
    static func entries(_ dir: String, includeHidden: Bool) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
        return names.filter { includeHidden || !$0.hasPrefix(".") }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    static func visibleEntries(_ dir: String) -> [String] { entries(dir, includeHidden: false) }

    static func join(_ dir: String, _ name: String) -> String {
        if dir.isEmpty { return name }
        return dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    // MARK: globs

    static func isGlob(_ pattern: String) -> Bool {
        pattern.contains("*") || pattern.contains("?") || pattern.contains("[")
    }

    /// Paths (files or directories) matching `pattern`, component by component.
    static func glob(_ pattern: String) -> [String] {
        var current = [pattern.hasPrefix("/") ? "/" : ""]
        for component in pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init) {
            var next: [String] = []
            for dir in current {
                if component == "**" {
                    next += directoriesBelow(dir)
                } else if isGlob(component) {
                    let hidden = component.hasPrefix(".")
                    for name in entries(dir, includeHidden: hidden) where fnmatch(component, name, FNM_PERIOD) == 0 {
                        next.append(join(dir, name))
                    }
                } else if component == "." {
                    next.append(dir.isEmpty ? "." : dir)
                } else {
                    let path = join(dir, component)
                    if kind(of: path, followLinks: true) != nil { next.append(path) }
                }
            }
            current = next
        }
        return current.filter { !$0.isEmpty }
    }
}
