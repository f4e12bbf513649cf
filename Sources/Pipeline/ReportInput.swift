/// The plain data a run report is drawn from. `tokenmill report RUNDIR` gathers it from the run
/// directory (log, index, samples); the report itself depends on nothing else, so it can be built
/// and tested from hand-made values.
///
///     let input = ReportInput(title: "demo run — out/demo",
///                             summary: [ReportFact("vocab", "4,096 tokens")],
///                             steps: try RunLog.read("out/demo/log.jsonl", tokensPerStep: 4096))
///     let html = Report.html(input)
public struct ReportInput: Sendable, Codable, Equatable {
    /// The page heading, e.g. "demo run — out/demo".
    public var title: String
    /// Key facts shown at the top, in order: corpus, vocabulary, model size, steps, final losses,
    /// where the files are.
    public var summary: [ReportFact]
    /// One record per logged training step (see `RunLog`).
    public var steps: [StepRecord]
    /// How often each token id occurs, any order (the report sorts them, descending, for the
    /// rank-frequency plot). Zero counts are ids that never occur.
    public var tokenCounts: [UInt64]
    /// Histogram of document lengths in tokens, in ascending bucket order.
    public var documentLengths: [LengthBucket]
    /// Tokens per source file.
    public var sourceShares: [SourceShare]
    /// Generated samples.
    public var samples: [GeneratedSample]

    public init(title: String, summary: [ReportFact] = [], steps: [StepRecord] = [],
                tokenCounts: [UInt64] = [], documentLengths: [LengthBucket] = [],
                sourceShares: [SourceShare] = [], samples: [GeneratedSample] = []) {
        self.title = title
        self.summary = summary
        self.steps = steps
        self.tokenCounts = tokenCounts
        self.documentLengths = documentLengths
        self.sourceShares = sourceShares
        self.samples = samples
    }
}

/// One line of the summary: "vocab" → "4,096 tokens".
public struct ReportFact: Sendable, Codable, Equatable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// One logged training step.
public struct StepRecord: Sendable, Codable, Equatable {
    public var step: Int
    /// NaN when the log holds `null` (a non-finite loss).
    public var trainLoss: Double
    /// Present on evaluation steps; NaN when the log holds `null`.
    public var validationLoss: Double?
    public var learningRate: Double
    public var tokensPerSecond: Double
    /// Tokens the model had trained on when this step's loss was measured, when known.
    public var tokens: UInt64?

    public init(step: Int, trainLoss: Double, validationLoss: Double? = nil, learningRate: Double = .nan,
                tokensPerSecond: Double = .nan, tokens: UInt64? = nil) {
        self.step = step
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.learningRate = learningRate
        self.tokensPerSecond = tokensPerSecond
        self.tokens = tokens
    }

    // NaN is not JSON: encode non-finite numbers as null so that a ReportInput always round-trips
    // through JSONEncoder.
    enum CodingKeys: String, CodingKey {
        case step, trainLoss, validationLoss, learningRate, tokensPerSecond, tokens
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        trainLoss = try c.decodeIfPresent(Double.self, forKey: .trainLoss) ?? .nan
        validationLoss = try c.contains(.validationLoss)
            ? (c.decodeIfPresent(Double.self, forKey: .validationLoss) ?? .nan) : nil
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? .nan
        tokensPerSecond = try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond) ?? .nan
        tokens = try c.decodeIfPresent(UInt64.self, forKey: .tokens)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func put(_ x: Double, _ key: CodingKeys) throws {
            if x.isFinite { try c.encode(x, forKey: key) } else { try c.encodeNil(forKey: key) }
        }
        try c.encode(step, forKey: .step)
        try put(trainLoss, .trainLoss)
        if let validationLoss { try put(validationLoss, .validationLoss) }
        try put(learningRate, .learningRate)
        try put(tokensPerSecond, .tokensPerSecond)
        try c.encodeIfPresent(tokens, forKey: .tokens)
    }

    public static func == (a: StepRecord, b: StepRecord) -> Bool {
        func same(_ x: Double, _ y: Double) -> Bool { x == y || (x.isNaN && y.isNaN) }
        let val: Bool
        switch (a.validationLoss, b.validationLoss) {
        case (nil, nil): val = true
        case let (x?, y?): val = same(x, y)
        default: val = false
        }
        return a.step == b.step && same(a.trainLoss, b.trainLoss) && val
            && same(a.learningRate, b.learningRate) && same(a.tokensPerSecond, b.tokensPerSecond)
            && a.tokens == b.tokens
    }
}

/// Documents whose length in tokens lies in `lowerTokens..<upperTokens`.
public struct LengthBucket: Sendable, Codable, Equatable {
    public var lowerTokens: UInt64
    public var upperTokens: UInt64
    public var count: UInt64
    public init(lowerTokens: UInt64, upperTokens: UInt64, count: UInt64) {
        self.lowerTokens = lowerTokens
        self.upperTokens = upperTokens
        self.count = count
    }

    /// Power-of-two buckets (0..<2, 2..<4, 4..<8, …) over `lengths`, from the first to the last
    /// non-empty bucket.
    ///
    ///     LengthBucket.log2Buckets([1, 5, 6]) // [0..<2: 1, 2..<4: 0, 4..<8: 2]
    public static func log2Buckets(_ lengths: some Sequence<UInt64>) -> [LengthBucket] {
        var counts = [UInt64](repeating: 0, count: 64)
        for n in lengths { counts[n <= 1 ? 0 : 63 - n.leadingZeroBitCount] += 1 }
        guard let first = counts.firstIndex(where: { $0 > 0 }),
              let last = counts.lastIndex(where: { $0 > 0 }) else { return [] }
        return (first...last).map { (k: Int) -> LengthBucket in
            let lower: UInt64 = k == 0 ? 0 : UInt64(1) << UInt64(k)
            let upper: UInt64 = k == 63 ? UInt64.max : UInt64(1) << UInt64(k + 1)
            return LengthBucket(lowerTokens: lower, upperTokens: upper, count: counts[k])
        }
    }
}

/// The tokens that came from one source file.
public struct SourceShare: Sendable, Codable, Equatable {
    public var name: String
    public var tokens: UInt64
    public init(name: String, tokens: UInt64) {
        self.name = name
        self.tokens = tokens
    }
}

/// A generated sample: the prompt and the text the model continued it with.
public struct GeneratedSample: Sendable, Codable, Equatable {
    public var prompt: String
    public var text: String
    public init(prompt: String, text: String) {
        self.prompt = prompt
        self.text = text
    }
}
