import ArgumentParser
import LeptonSpeech

/// faster-whisper's decoding options, under the names its `transcribe` and the whisper CLI give
/// them, with faster-whisper 1.2.1's defaults.
struct DecodingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Temperatures tried in turn when a window's text is too repetitive or too unlikely (comma-separated; one value: no fallback).", valueName: "list"))
    var temperatures: String = "0,0.2,0.4,0.6,0.8,1.0"

    @Option(name: .long, help: ArgumentHelp("Give each window the previous window's text as its prompt. Turn it off when a long file's later windows go wrong (the text drifts, repeats itself or stops early).", valueName: "true|false"))
    var conditionOnPreviousText: Bool = true

    @Option(name: .long, help: ArgumentHelp("A window whose no-speech probability is above this (and whose text is unlikely, see --logprob-threshold) is skipped as silence ('none' = never).", valueName: "p"))
    var noSpeechThreshold: String = "0.6"

    @Option(name: .long, help: ArgumentHelp("A window's text whose zlib compression ratio is above this is decoded again at the next temperature ('none' = never).", valueName: "ratio"))
    var compressionRatioThreshold: String = "2.4"

    @Option(name: .long, help: ArgumentHelp("A window's text whose average log-probability is below this is decoded again at the next temperature ('none' = never).", valueName: "logp"))
    var logprobThreshold: String = "-1"

    @Option(name: .long, help: "Candidates sampled at each temperature above 0 (faster-whisper's best_of).")
    var bestOf: Int = 5

    @Flag(name: .long, help: "Time every word from the model's cross-attention (json: segments[].words[{start,end,word,probability}]; segments then start and end with their words).")
    var wordTimestamps = false

    func validate() throws { _ = try parsed() }

    /// The options applied to `options` (the others left as they are).
    func apply(to options: inout WhisperTranscribeOptions) throws {
        let p = try parsed()
        options.temperatures = p.temperatures
        options.conditionOnPreviousText = conditionOnPreviousText
        options.noSpeechThreshold = p.noSpeech
        options.compressionRatioThreshold = p.compression
        options.logProbThreshold = p.logProb
        options.bestOf = bestOf
        options.wordTimestamps = wordTimestamps
    }

    private func parsed() throws -> (temperatures: [Float], noSpeech: Double?, compression: Double?, logProb: Double?) {
        let temps = temperatures.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !temps.isEmpty, temps.count <= 16, temps.allSatisfy({ $0 != nil && (0...2).contains($0!) }) else {
            throw ValidationError("--temperatures must be 1 to 16 comma-separated numbers in [0, 2], e.g. 0,0.2,0.4")
        }
        func threshold(_ text: String, _ name: String, _ range: ClosedRange<Double>) throws -> Double? {
            if text == "none" { return nil }
            guard let x = Double(text), range.contains(x) else {
                throw ValidationError("--\(name) must be a number in [\(range.lowerBound), \(range.upperBound)] or none")
            }
            return x
        }
        guard (1...16).contains(bestOf) else { throw ValidationError("--best-of must be 1...16") }
        return (temps.map { $0! }, try threshold(noSpeechThreshold, "no-speech-threshold", 0...1),
                try threshold(compressionRatioThreshold, "compression-ratio-threshold", 0...100),
                try threshold(logprobThreshold, "logprob-threshold", -100...0))
    }
}
