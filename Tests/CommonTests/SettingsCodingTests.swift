import Common
import Foundation
import Testing

/// A settings group like the real ones: defaults, a choice, a derived key, an alias, a check.
private struct Sample: SettingsGroup {
    enum Mode: String, SettingsChoice { case fast, exact }
    var vocabSize = 0
    var learningRate: Float = 3e-4
    var batchSize = 8
    var invalidUTF8 = false
    var mode: Mode = .fast
    var stages: [String] = []
    var shardTokens: Int64 = 100

    static var aliases: [String: String] { ["lr": "learningRate"] }
    static var derivedKeys: Set<String> { ["vocabSize"] }
    static var sizeKeys: Set<String> { ["shardTokens"] }
    var problem: SettingsProblem? {
        batchSize < 1 ? SettingsProblem("batchSize", "must be at least 1, not \(batchSize)") : nil
    }
}

@Suite struct SettingsCodingTests {
    @Test func externalNamesAreSnakeCase() {
        #expect(SettingsCoding.externalName("learningRate") == "learning_rate")
        #expect(SettingsCoding.externalName("invalidUTF8") == "invalid_utf8")
        #expect(SettingsCoding.externalName("normalizeNFC") == "normalize_nfc")
        #expect(SettingsCoding.externalName("beta1") == "beta1")
        #expect(SettingsCoding.externalName("minLearningRateFraction") == "min_learning_rate_fraction")
        #expect(SettingsCoding.externalName("URLPath") == "url_path")
    }

    @Test func propertiesInDeclarationOrder() {
        #expect(SettingsCoding.propertyNames(Sample.self)
                == ["vocabSize", "learningRate", "batchSize", "invalidUTF8", "mode", "stages", "shardTokens"])
        #expect(!SettingsCoding.settableNames(Sample.self).contains("vocabSize"))
    }

    @Test func valuesAreLaidOverTheDefaults() throws {
        let s: Sample = try SettingsCoding.decode(["batch_size": .int(16), "lr": .double(0.001), "mode": .string("exact"),
                                                   "invalid_utf8": .bool(true), "stages": .array([.string("nfc")])])
        var expected = Sample()
        expected.batchSize = 16
        expected.learningRate = 0.001
        expected.mode = .exact
        expected.invalidUTF8 = true
        expected.stages = ["nfc"]
        #expect(s == expected)
        // Nothing given: the defaults. Property names are accepted too.
        #expect(try SettingsCoding.decode([:]) == Sample())
        #expect(try SettingsCoding.decode(["batchSize": .int(2)], over: expected).batchSize == 2)
        // A size where a number is wanted.
        #expect(try SettingsCoding.decode(["shard_tokens": .string("10M")]) as Sample == { var s = Sample(); s.shardTokens = 10_000_000; return s }())
    }

    @Test func problemsNameTheKey() {
        func problem(_ values: [String: SettingValue]) -> SettingsProblem? {
            do {
                let _: Sample = try SettingsCoding.decode(values)
                return nil
            } catch {
                return error
            }
        }
        #expect(problem(["batch_sise": .int(1)]) == SettingsProblem("batch_sise", "unknown setting; did you mean 'batch_size'?"))
        #expect(problem(["vocab_size": .int(1)])?.message.hasPrefix("unknown setting") == true)
        #expect(problem(["batch_size": .string("many")]) == SettingsProblem("batchSize", "must be a whole number, not \"many\""))
        #expect(problem(["batch_size": .double(1.5)])?.key == "batchSize")
        #expect(problem(["batch_size": .string("10")]) == SettingsProblem("batchSize", "must be a whole number, not \"10\""))
        #expect(problem(["invalid_utf8": .int(1)]) == SettingsProblem("invalidUTF8", "must be true or false, not 1"))
        #expect(problem(["mode": .string("fsat")])
                == SettingsProblem("mode", "must be one of \"fast\" or \"exact\", not \"fsat\"; did you mean 'fast'?"))
        #expect(problem(["stages": .array([.int(3)])])?.key == "stages")
        #expect(problem(["batch_size": .int(0)]) == SettingsProblem("batchSize", "must be at least 1, not 0"))
        #expect(SettingsProblem("batchSize", "x").description == "batch_size: x")
    }

    @Test func fingerprintsAndDifferences() {
        var a = Sample(), b = Sample()
        #expect(SettingsCoding.fingerprint(a) == SettingsCoding.fingerprint(b))
        b.batchSize = 9
        b.mode = .exact
        #expect(SettingsCoding.fingerprint(a) != SettingsCoding.fingerprint(b))
        #expect(SettingsCoding.fingerprint(a, excluding: ["batchSize", "mode"]) == SettingsCoding.fingerprint(b, excluding: ["batchSize", "mode"]))
        let d = SettingsCoding.differences(a, b)
        #expect(d.map(\.key) == ["batchSize", "mode"])
        #expect(d.map { "\($0.a) → \($0.b)" } == ["8 → 9", "\"fast\" → \"exact\""])
        a.learningRate = 1e-3
        #expect(SettingsCoding.fingerprint(a).contains("\"learningRate\":0.001"))
    }

    @Test func sizes() {
        #expect(parseByteSize("100M") == 100_000_000)
        #expect(parseByteSize("64KiB") == 65536)
        #expect(parseByteSize("1.5G") == 1_500_000_000)
        #expect(parseByteSize("12") == 12)
        #expect(parseByteSize("-1") == nil && parseByteSize("lots") == nil)
    }
}

private struct Floats: SettingsGroup {
    var fraction: Float = 0
    var seed: UInt64 = 1
}

@Suite struct SettingKindTests {
    @Test func anIntegralFloatDefaultTakesAFraction() throws {
        let f: Floats = try SettingsCoding.decode(["fraction": .double(0.5), "seed": .int(7)])
        #expect(f.fraction == 0.5 && f.seed == 7)
        #expect(throws: SettingsProblem("seed", "must be a whole number, not 0.5")) {
            let _: Floats = try SettingsCoding.decode(["seed": .double(0.5)])
        }
    }
}

extension SettingKindTests {
    /// A value that JSON cannot hold (a flag given as `nan`) is refused, not dropped.
    @Test func nonFiniteNumbersAreRefused() {
        var given = Floats()
        given.fraction = .nan
        let values = SettingsCoding.encode(given)
        #expect(values["fraction"] == .string("nan"))
        #expect(throws: SettingsProblem("fraction", "must be a number, not \"nan\"")) {
            let _: Floats = try SettingsCoding.decode(values)
        }
    }
}

extension SettingsCodingTests {
    /// A file written before a setting existed reads with the setting's default; derived
    /// properties are read; keys of a later version are ignored.
    @Test func storedSettingsReadOverTheDefaults() throws {
        let old = Data(#"{"vocabSize": 50, "batchSize": 3, "fromLaterVersion": 1}"#.utf8)
        let s = try SettingsCoding.decodeStored(Sample.self, from: old)
        var expected = Sample()
        expected.vocabSize = 50
        expected.batchSize = 3
        #expect(s == expected)
        #expect(throws: SettingsProblem("batchSize", "must be a whole number, not \"x\"")) {
            _ = try SettingsCoding.decodeStored(Sample.self, from: Data(#"{"batchSize": "x"}"#.utf8))
        }
    }
}
