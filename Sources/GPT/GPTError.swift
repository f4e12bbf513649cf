/// Errors of the GPT module. Each names the file (and offset or field) it is about.
public enum GPTError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A model checkpoint failed validation.
    case badCheckpoint(path: String, reason: String)
    /// A trainer state file failed validation.
    case badState(path: String, reason: String)
    /// A file could not be opened, read or written.
    case io(path: String, reason: String)
    /// A model shape or setting that cannot work.
    case invalidConfiguration(String)
    /// A token id outside the vocabulary.
    case tokenOutOfRange(token: Int32, position: Int, vocabSize: Int)
    /// The checkpoint's vocabulary differs from the data's.
    case vocabularyMismatch(path: String, checkpoint: Int, data: Int)
    /// A resumed run's settings differ from the stored ones in a field that shapes training.
    case settingsMismatch(path: String, field: String, stored: String, given: String)
    /// No checkpoint with a trainer state to resume from.
    case nothingToResume(directory: String)
    /// A new run was pointed at a directory that already holds checkpoints.
    case runExists(directory: String)
    /// The loss became NaN or infinite.
    case nonFiniteLoss(step: Int)
    /// A data provider's batch does not match the run.
    case badBatch(String)

    public var description: String {
        switch self {
        case let .badCheckpoint(path, reason): return "\(path): not a valid llm.c GPT-2 checkpoint: \(reason)"
        case let .badState(path, reason): return "\(path): not a valid trainer state file: \(reason)"
        case let .io(path, reason): return "\(path): \(reason)"
        case let .invalidConfiguration(reason): return "invalid model or training settings: \(reason)"
        case let .tokenOutOfRange(token, position, vocabSize):
            return "token \(token) at position \(position) is outside the vocabulary (size \(vocabSize))"
        case let .vocabularyMismatch(path, checkpoint, data):
            return "\(path): checkpoint vocabulary size \(checkpoint) does not match the data's \(data)"
        case let .settingsMismatch(path, field, stored, given):
            return "\(path): cannot resume: \(field) is \(stored) in the stored run but \(given) now"
        case let .nothingToResume(directory):
            return "\(directory): no checkpoint (model_NNNNNNNN.bin with its .state) to resume from"
        case let .runExists(directory):
            return "\(directory): already holds checkpoints of a run; resume it or use another directory"
        case let .nonFiniteLoss(step): return "training diverged: the loss is not finite at step \(step)"
        case let .badBatch(reason): return "bad batch: \(reason)"
        }
    }
}
