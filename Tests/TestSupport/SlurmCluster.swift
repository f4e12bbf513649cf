import Foundation

/// A real one-host Slurm cluster for a test: munge, `slurmctld -D` and `slurmd -D` on localhost,
/// started from a generated `slurm.conf` in a temporary directory (no systemd), on ports of its
/// own. `stop()` (also on deinit) ends each daemon by its process id.
///
///     let cluster = try SlurmCluster()
///     let job = try cluster.sbatch(["--array=0-1", "--wrap", "hostname"])
///     try cluster.waitForJobs()
public final class SlurmCluster: @unchecked Sendable {
    // Safety (Sendable): a test uses its cluster from one task; `daemons` is written in init and stop only.
    public let dir: TempDir
    public var conf: String { dir.file("slurm.conf") }
    public var environment: [String: String] { ["SLURM_CONF": conf] }
    /// The daemons' process ids, started with posix_spawn (Foundation's Process, which also
    /// reaps its children, is left to the short commands).
    private var daemons: [(program: String, pid: pid_t)] = []

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init() throws {
        for program in ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch"]
        where !FileManager.default.isExecutableFile(atPath: program) {
            throw Failure(description: "\(program) is missing: make setup installs slurm-wlm and munge")
        }
        dir = try TempDir()
        let key = dir.file("munge.key")
        try Data((0..<1024).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: key))
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: key)
        for sub in ["state", "spool"] { try FileManager.default.createDirectory(atPath: dir.file(sub), withIntermediateDirectories: true) }
        let socket = dir.file("munge.sock")
        // Ports of its own, so that clusters of tests run one after another do not meet.
        let port = 20000 + Int(getpid() % 20000) + Int.random(in: 0..<20000)
        let text = """
            ClusterName=tokenmilltest
            SlurmctldHost=localhost
            SlurmUser=\(NSUserName())
            SlurmdUser=root
            AuthType=auth/munge
            AuthInfo=socket=\(socket)
            CredType=cred/munge
            SlurmctldPort=\(port)
            SlurmdPort=\(port + 1)
            StateSaveLocation=\(dir.file("state"))
            SlurmdSpoolDir=\(dir.file("spool"))
            SlurmctldPidFile=\(dir.file("slurmctld.pid"))
            SlurmdPidFile=\(dir.file("slurmd.pid"))
            SlurmctldLogFile=\(dir.file("slurmctld.log"))
            SlurmdLogFile=\(dir.file("slurmd.log"))
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            AccountingStorageType=accounting_storage/none
            JobAcctGatherType=jobacct_gather/none
            MpiDefault=none
            MailProg=/bin/true
            ReturnToService=2
            NodeName=localhost CPUs=2 State=UNKNOWN
            PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP

            """
        try text.write(toFile: conf, atomically: true, encoding: .utf8)
        do {
            try start("/usr/sbin/munged", ["-F", "-f", "--key-file=\(key)", "--socket=\(socket)", "--log-file=\(dir.file("munged.log"))",
                                           "--pid-file=\(dir.file("munged.pid"))", "--seed-file=\(dir.file("munged.seed"))"])
            try waitFor("munge's socket") { FileManager.default.fileExists(atPath: socket) }
            try start("/usr/sbin/slurmctld", ["-D", "-f", conf])
            try start("/usr/sbin/slurmd", ["-D", "-N", "localhost", "-f", conf])
            try waitFor("the node to be idle") {
                let r = try? Run.process("/usr/bin/sinfo", ["-h", "-o", "%t"], environment: environment)
                return r?.out.trimmingCharacters(in: .whitespacesAndNewlines) == "idle"
            }
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    private func start(_ program: String, _ arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, nil, argv, envp)
        guard rc == 0 else { throw Failure(description: "cannot start \(program): \(String(cString: strerror(rc)))") }
        daemons.append((program, pid))
    }

    private func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    private func waitFor(_ what: String, seconds: Double = 20, _ ready: () -> Bool) throws {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if ready() { return }
            if let dead = daemons.first(where: { !isRunning($0.pid) }) {
                throw Failure(description: "\(dead.program) exited while waiting for \(what); logs in \(dir.path)")
            }
            usleep(100_000)
        }
        throw Failure(description: "timed out waiting for \(what); logs in \(dir.path)")
    }

    /// Submits a batch job; returns its id.
    @discardableResult
    public func sbatch(_ arguments: [String]) throws -> String {
        let r = try Run.process("/usr/bin/sbatch", ["--parsable"] + arguments, environment: environment)
        guard r.status == 0 else { throw Failure(description: "sbatch \(arguments): \(r.err)") }
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
    }

    /// Waits until no job is queued or running.
    public func waitForJobs(seconds: Double = 120) throws {
        try waitFor("the jobs to end", seconds: seconds) {
            (try? Run.process("/usr/bin/squeue", ["-h"], environment: environment))?.out.isEmpty == true
        }
    }

    /// Ends every daemon it started, by its process id, and waits for it.
    public func stop() {
        for d in daemons.reversed() { kill(d.pid, SIGTERM) }
        for d in daemons.reversed() {
            let end = Date().addingTimeInterval(5)
            while isRunning(d.pid) && Date() < end { usleep(20_000) }
            if isRunning(d.pid) {
                kill(d.pid, SIGKILL)
                var status: Int32 = 0
                waitpid(d.pid, &status, 0)
            }
        }
        daemons = []
    }
}
