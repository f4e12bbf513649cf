// Learns a small byte-level BPE vocabulary from a few sentences, encodes a string with it,
// decodes it back, saves the tokenizer as Hugging Face's tokenizer.json and loads it again.
//
//     swift run hello-tokenmill ["text to encode"]
import BPE
import Foundation

let sentences = [
    "The sun rises in the east and sets in the west.",
    "In summer the sun rises in the northeast.",
    "On Venus the sun rises in the west.",
    "The east wind brings rain; the west wind brings the sun.",
]
let text = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "The sun rises in the east."

// Count the words (gpt2's pre-tokenizer splits the text as GPT-2's regex does), then learn
// merges until the vocabulary has 300 tokens: <|endoftext|>, the 256 bytes and 43 merges.
var words = WordCounter(pattern: .gpt2)
for s in sentences { words.count(Array(s.utf8)) }
let model = try BPETrainer.train(words: words, config: BPETrainerConfig(vocabSize: 300))
let tokenizer = try Tokenizer(model)

let ids = tokenizer.encode(Array(text.utf8))
let back = String(decoding: try tokenizer.decode(ids), as: UTF8.self)
print("\(text.debugDescription) → \(ids.count) tokens: \(ids.map(String.init).joined(separator: " "))")
print("decoded: \(back.debugDescription)")

// Save and load it again: the same ids.
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hello-tokenmill-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: directory) }
try model.save(toDirectory: directory)
let loaded = try Tokenizer.load(directory)
guard loaded.encode(Array(text.utf8)) == ids, back == text else {
    print("error: the round trip changed the tokens")
    exit(1)
}
print("saved to \(directory)/tokenizer.json and loaded again: the same \(ids.count) tokens")
