import CMPI
import Foundation

/// The processes of a data-parallel training run: one (the default), or the ranks of an MPI job
/// (`mpirun -np N tokenmill train …`). Each rank reads its own rows of every global batch;
/// `Trainer` sums the gradients and losses over the ranks after each backward pass and divides
/// by the ranks, so every rank takes the same optimiser step and holds the same weights; rank 0
/// alone writes the log and the checkpoints.
///
///     let group = try DataParallelGroup.launched() ?? .single
public final class DataParallelGroup: @unchecked Sendable {
    // Safety (Sendable): immutable; MPI is called from the training thread only.
    public let rank: Int
    public let size: Int
    private let mpi: Bool

    public static let single = DataParallelGroup(rank: 0, size: 1, mpi: false)

    private init(rank: Int, size: Int, mpi: Bool) {
        self.rank = rank
        self.size = size
        self.mpi = mpi
    }

    /// The MPI job this process was started in by Open MPI's mpirun (which sets
    /// `OMPI_COMM_WORLD_SIZE`), or nil when it was not. Throws when MPI cannot be started.
    public static func launched(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DataParallelGroup? {
        guard let size = environment["OMPI_COMM_WORLD_SIZE"].flatMap({ Int($0) }), size > 1 else { return nil }
        var rank: Int32 = 0, count: Int32 = 0
        if let error = tm_mpi_init(&rank, &count) {
            throw GPTError.invalidConfiguration("launched by mpirun, but " + String(cString: error))
        }
        return DataParallelGroup(rank: Int(rank), size: Int(count), mpi: true)
    }

    /// Rank 0: the one that writes the log and the checkpoints.
    public var writes: Bool { rank == 0 }

    /// Replaces each value by its mean over the ranks.
    func average(_ values: UnsafeMutableBufferPointer<Float>) throws {
        guard mpi, size > 1, let base = values.baseAddress else { return }
        let rc = tm_mpi_allreduce_sum_float(base, values.count)
        guard rc == 0 else { throw GPTError.invalidConfiguration("MPI_Allreduce failed (\(rc))") }
        let scale = 1 / Float(size)
        for i in 0..<values.count { base[i] *= scale }
    }

    /// The mean of `value` over the ranks.
    func average(_ value: Double) throws -> Double {
        guard mpi, size > 1 else { return value }
        var v = value
        let rc = tm_mpi_allreduce_sum_double(&v, 1)
        guard rc == 0 else { throw GPTError.invalidConfiguration("MPI_Allreduce failed (\(rc))") }
        return v / Double(size)
    }

    /// Ends MPI (MPI_Finalize) once every rank is here.
    public func finish() {
        guard mpi else { return }
        _ = tm_mpi_barrier()
        _ = tm_mpi_finalize()
    }
}
