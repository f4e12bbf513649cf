import Common

/// Where the trainer gets its batches. `Loader.DataLoader` conforms; so does the in-memory
/// `TokenArrayBatchProvider` that tests and benchmarks use.
public protocol BatchProvider: AnyObject {
    var batchSize: Int { get }
    var contextLength: Int { get }
    /// Fills the first B·T values of `inputs` and of `targets` (targets = inputs shifted by one);
    /// each must hold at least B·T.
    func nextBatch(inputs: inout [Int32], targets: inout [Int32]) throws
    /// An opaque snapshot of the position, stored in the trainer state for exact resume.
    func saveState() -> [UInt8]
    func restoreState(_ state: [UInt8]) throws
    /// For eval loaders: start from the beginning.
    func reset() throws
}

/// Batches from an in-memory token array, read the way llm.c's sequential DataLoader reads one
/// shard: batch i is tokens `[i·B·T, i·B·T + B·T]` (B·T + 1 tokens; targets are the inputs shifted
/// by one), for i in `0..<(count − 1)/(B·T)`, then it wraps to the start.
///
///     let p = try TokenArrayBatchProvider(tokens: Array(0..<1000), batchSize: 2, contextLength: 8)
public final class TokenArrayBatchProvider: BatchProvider {
    public let batchSize: Int
    public let contextLength: Int
    public let tokens: [Int32]
    /// The batch `nextBatch` returns next.
    public private(set) var position = 0
    /// Batches per pass over the tokens.
    public var batchesPerEpoch: Int { (tokens.count - 1) / (batchSize * contextLength) }

    public init(tokens: [Int32], batchSize: Int, contextLength: Int) throws {
        guard batchSize >= 1, contextLength >= 1 else {
            throw GPTError.invalidConfiguration("batch size and context length must be at least 1")
        }
        guard let batch = checkedProduct(batchSize, contextLength), tokens.count > batch else {
            throw GPTError.invalidConfiguration("\(tokens.count) tokens are fewer than one batch of "
                                                + "\(batchSize)×\(contextLength) + 1")
        }
        self.tokens = tokens
        self.batchSize = batchSize
        self.contextLength = contextLength
    }

    public func nextBatch(inputs: inout [Int32], targets: inout [Int32]) throws {
        let n = batchSize * contextLength
        guard inputs.count >= n, targets.count >= n else { throw GPTError.badBatch("buffers hold fewer than \(n) tokens") }
        if position >= batchesPerEpoch { position = 0 }
        let start = position * n
        for i in 0..<n {
            inputs[i] = tokens[start + i]
            targets[i] = tokens[start + i + 1]
        }
        position += 1
    }

    public func saveState() -> [UInt8] { withUnsafeBytes(of: UInt64(position).littleEndian) { Array($0) } }

    public func restoreState(_ state: [UInt8]) throws {
        guard state.count == 8 else { throw GPTError.badBatch("token array state must be 8 bytes, got \(state.count)") }
        var v: UInt64 = 0
        for (i, b) in state.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        position = Int(v)
    }

    public func reset() throws { position = 0 }
}

import Loader

/// The streaming DataLoader feeds the trainer directly (its methods have exactly this shape).
extension DataLoader: BatchProvider {}
