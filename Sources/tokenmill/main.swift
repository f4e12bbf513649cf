import BPE
import Foundation
// TEMP dev driver: tokenmill <file> <vocab> <out.json>
let a = CommandLine.arguments
let data = try! Data(contentsOf: URL(fileURLWithPath: a[1]))
let t0 = Date()
var counter = WordCounter(pattern: .gpt2)
for line in data.split(separator: 10, omittingEmptySubsequences: false) {
    counter.count(Array(line))
}
let t1 = Date()
let model = try! Trainer.train(words: counter, config: TrainerConfig(vocabSize: Int(a[2])!))
let t2 = Date()
try! model.huggingFaceJSON().write(toFile: a[3], atomically: true, encoding: .utf8)
FileHandle.standardError.write("count \(t1.timeIntervalSince(t0))s words \(counter.distinctWords) merge \(t2.timeIntervalSince(t1))s vocab \(model.vocabSize)\n".data(using: .utf8)!)
