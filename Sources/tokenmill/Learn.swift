import ArgumentParser
import BPE
import Foundation

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Learn a byte-level BPE vocabulary (pending Corpus).")
    func run() throws { throw CommandError("learn: not wired yet") }
}
