import Foundation
import Pipeline
import TestSupport
import Testing

@Suite struct ReportLogTests {
    static func parse(_ text: String, tokensPerStep: UInt64? = nil) throws(ReportError) -> [StepRecord] {
        try RunLog.parse(Array(text.utf8), path: "out/run/log.jsonl", tokensPerStep: tokensPerStep)
    }

    static func failure(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func readsTheTrainersLines() throws {
        let log = """
        {"step":0,"train_loss":8.3,"lr":0.0003,"grad_norm":1.9,"ms":103.5,"tokens_per_second":9893.1,"val_loss":8.25}
        {"step":1,"train_loss":7.9,"lr":0.0003,"grad_norm":1.7,"ms":101.0,"tokens_per_second":10139.4}

        """
        let records = try Self.parse(log, tokensPerStep: 1024)
        #expect(records == [
            StepRecord(step: 0, trainLoss: 8.3, validationLoss: 8.25, learningRate: 0.0003, tokensPerSecond: 9893.1, tokens: 0),
            StepRecord(step: 1, trainLoss: 7.9, learningRate: 0.0003, tokensPerSecond: 10139.4, tokens: 1024),
        ])
        // Without tokens per step or a "tokens" field, the token count is unknown.
        #expect(try Self.parse(log).map(\.tokens) == [nil, nil])
    }

    @Test func nonFiniteNumbersAndTokensField() throws {
        let log = """
        {"step":3,"train_loss":null,"lr":0.0003,"grad_norm":null,"ms":1.000,"tokens_per_second":100.0,"val_loss":null}
        {"step":4,"train_loss":NaN,"lr":1e-4,"tokens":40960,"tokens_per_second":Infinity,"val_loss":-Infinity}
        """ + "\n"
        let records = try Self.parse(log, tokensPerStep: 7)
        #expect(records.count == 2)
        #expect(records[0].trainLoss.isNaN && records[0].validationLoss?.isNaN == true && records[0].tokens == 21)
        #expect(records[1].trainLoss.isNaN && records[1].tokensPerSecond == .infinity)
        #expect(records[1].validationLoss == -.infinity && records[1].tokens == 40960 && records[1].learningRate == 1e-4)
    }

    @Test func unknownFieldsOfAnyShapeAreSkipped() throws {
        let log = #"""
        {"note":"a } tricky \" string {","step":2,"extra":{"nested":[1,{"x":"]"}],"s":"}"},"flag":true,"train_loss":4.5,"none":null,"list":[]}
        """#
        #expect(try Self.parse(log) == [StepRecord(step: 2, trainLoss: 4.5)])
    }

    @Test func eventsBlankLinesAndCRLF() throws {
        let log = "{\"event\":\"start\",\"run\":\"demo\"}\r\n\r\n  \n{\"step\":0,\"train_loss\":5}\r\n{}\n"
        #expect(try Self.parse(log) == [StepRecord(step: 0, trainLoss: 5)])
        #expect(try Self.parse("").isEmpty)
    }

    @Test func truncatedLastLineIsDropped() throws {
        let complete = "{\"step\":0,\"train_loss\":5}\n{\"step\":1,\"train_loss\":4}"
        #expect(try Self.parse(complete).map(\.step) == [0, 1])   // complete, only the newline missing
        for cut in ["{\"step\":2,\"train_lo", "{\"step\":2,", "{", "{\"step\":2,\"train_loss\":4.", "{\"step\":2,\"train_loss\":4.5"] {
            #expect(try Self.parse(complete + "\n" + cut).map(\.step) == [0, 1], "\(cut)")
        }
    }

    @Test func resumedRunReplacesTheStepsItRedid() throws {
        let log = [0, 1, 2, 3, 2, 3, 4].enumerated().map { i, s in
            "{\"step\":\(s),\"train_loss\":\(10 - i)}"
        }.joined(separator: "\n") + "\n"
        let records = try Self.parse(log)
        #expect(records.map(\.step) == [0, 1, 2, 3, 4])
        #expect(records.map(\.trainLoss) == [10, 9, 6, 5, 4])
    }

    @Test func badLinesNameTheFileAndLine() {
        let good = "{\"step\":0,\"train_loss\":5}\n"
        #expect(Self.failure(good + "{\"step\":1 \"train_loss\":5}\n" + good)
                == "out/run/log.jsonl:2: expected ',' or '}' at column 11")
        #expect(Self.failure(good + "{\"step\":1,\"train_loss\":5}x\n") == "out/run/log.jsonl:2: unexpected text after the object at column 26")
        #expect(Self.failure("[1,2]\n") == "out/run/log.jsonl:1: expected '{' at column 1")
        #expect(Self.failure(good + good + "{\"step\":2,\"train_loss\":wat}\n")
                == "out/run/log.jsonl:3: expected a value at column 24")
        #expect(Self.failure("{\"step\":1.5,\"train_loss\":5}\n") == "out/run/log.jsonl:1: \"step\" is not a non-negative integer")
        #expect(Self.failure("{\"step\":-1,\"train_loss\":5}\n") == "out/run/log.jsonl:1: \"step\" is not a non-negative integer")
        #expect(Self.failure("{\"step\":1}\n") == "out/run/log.jsonl:1: step 1 has no \"train_loss\"")
        #expect(Self.failure("{\"step\":1,\"train_loss\":\"low\"}\n") == "out/run/log.jsonl:1: \"train_loss\" is not a number")
        #expect(Self.failure("{\"step\":1,\"train_loss\":1,\"tokens\":-5}\n")
                == "out/run/log.jsonl:1: \"tokens\" is not a non-negative integer")
    }

    @Test func readsFromDisk() throws {
        let dir = try TempDir()
        let path = try dir.write("log.jsonl", "{\"step\":0,\"train_loss\":5}\n{\"step\":1,\"train_loss\":4}\n")
        #expect(try RunLog.read(path, tokensPerStep: 10).map(\.tokens) == [0, 10])
        let missing = dir.file("nope.jsonl")
        let error = #expect(throws: ReportError.self) { try RunLog.read(missing) }
        #expect(error?.description == missing + ": no such file or directory")
    }
}
