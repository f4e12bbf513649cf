import ArgumentParser
import CSys
import Foundation

/// `tokenmill`: raw gzipped text → BPE vocabulary → token shards → GPT pre-training.
@main
struct TokenMill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenmill",
        abstract: "Turn raw text into LLM pre-training data, and pre-train on it.",
        discussion: """
        A whole run, step by step:
          tokenmill learn --input 'data/*.gz' --vocab-size 8192 --output out/vocab
          tokenmill shard --tokenizer out/vocab --input 'data/*.gz' --output out/data
          tokenmill stats out/data top
          tokenmill train --data out/data --output out/run --steps 1000
          tokenmill generate --checkpoint out/run --tokenizer out/vocab --prompt Once
        or from one pipeline file:
          tokenmill run pipelines/demo.toml
        """,
        subcommands: [Learn.self, Encode.self, Decode.self, Export.self, Shard.self, Merge.self, Stats.self, Verify.self, Train.self, Generate.self, Next.self, RunPipeline.self, ReportCommand.self, Bench.self])

    static func main() {
        // glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB), so
        // once a source's read window or a large document's buffers are freed, such blocks come
        // from the per-thread heaps, where freed memory stays with the process. A fixed 1 MiB
        // threshold gives them back: long jobs (shard, learn) keep their peak memory near what
        // they hold at once. A process-wide setting, so the program sets it, not the libraries.
        _ = tm_set_mmap_threshold(1 << 20)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// Runs a command body; any error becomes one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as CleanExit {
        throw e
    } catch {
        printError(String(describing: error))
        throw ExitCode.failure
    }
}

/// Prints "tokenmill: <message>" on stderr, whatever --quiet says (errors are never silenced).
func printError(_ message: String) {
    FileHandle.standardError.write(Data("tokenmill: \(message)\n".utf8))
}

/// A usage or input problem found by a command, reported as one line.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads a whole file to its end (a regular file, a pipe such as a shell's `<(…)`, a device),
/// or standard input for nil or "-".
func readInput(_ path: String?) throws -> [UInt8] {
    guard let path, path != "-" else { return [UInt8](FileHandle.standardInput.readDataToEndOfFile()) }
    func failure() -> CommandError { CommandError("\(path): \(String(cString: strerror(errno)))") }
    let fd = open(path, O_RDONLY)
    if fd < 0 { throw failure() }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw failure() }
        if n == 0 { return out }
        out.append(contentsOf: chunk[..<n])
    }
}

/// Writes bytes to standard output.
func writeOutput(_ bytes: [UInt8]) {
    FileHandle.standardOutput.write(Data(bytes))
}

/// Ctrl-C (SIGINT) or SIGTERM sets a flag instead of killing the process, so a long job can stop
/// at a clean point (training writes a checkpoint, sharding commits; `train`, `shard` and `run` use
/// it). A second Ctrl-C exits at once.
final class Interrupt: Sendable {
    // Safety: the flag is written by the signal handler only (0 → 1, once) and read by the
    // threads that poll `isSet`. An aligned 32-bit load or store is never torn, and a reader
    // that misses the store sees it at its next poll. A signal handler may not take a lock.
    nonisolated(unsafe) static var flag: Int32 = 0
    var isSet: Bool { Interrupt.flag != 0 }

    static func install() -> Interrupt {
        let handler: @convention(c) (Int32) -> Void = { sig in
            if Interrupt.flag != 0 { _exit(130) }
            Interrupt.flag = 1
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these signals blocked (the mask is inherited): then
        // they would stay pending and Ctrl-C would do nothing.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return Interrupt()
    }
}
