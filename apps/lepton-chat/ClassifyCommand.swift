import ArgumentParser
import Foundation
import LeptonText
import LeptonCLI
import LeptonEngine

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Rank the intents of a sentence, or of every line of a file, with a trained intent model.",
        discussion: """
        Each input gives the decided intent (the fallback intent when the top probability is below the \
        model's threshold or too close to the runner-up), its confidence and the top-k alternatives. \
        With --input every line is one sentence (empty lines included); output keeps input order.

        Examples:
          lepton-chat classify --model samples/bank/model \\
              "I still have not received my new card"
          lepton-chat classify --model samples/bank/model --json --top-k 3 \\
              --input samples/chat/questions.txt
          lepton-chat classify --model samples/bank/model --compute-type int8 \\
              "I still have not received my new card"

        JSON (one object per input line): text, intent, confidence, fallback, top_k [{intent, probability}], \
        model {name, version, sha256}.
        Exit status: 0 ok, 1 bad model/input, 64 usage.
        """)

    @Option(name: .long, help: "Intent model folder (from `lepton-chat train`).")
    var model: String

    @Option(name: .long, help: "File with one sentence per line.")
    var input: String?

    @Argument(help: "The sentence (omit with --input).")
    var text: String?

    @Option(name: .long, help: "Alternatives to print per input.")
    var topK: Int = 3

    @Flag(name: .long, help: "One JSON object per input line.")
    var json = false

    @Option(name: .long, help: "Sentence-encoder folder (default: the bootstrapped all-MiniLM-L6-v2).")
    var encoder: String?

    @OptionGroup var compute: ComputeTypeOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if (input == nil) == (text == nil) { throw ValidationError("give either TEXT or --input FILE") }
        if topK < 1 { throw ValidationError("--top-k must be ≥ 1") }
    }

    func run() throws {
        try runCommand("lepton-chat", common) {
            EngineThreads.set(common.threads)
            let m = try IntentModel(folder: URL(fileURLWithPath: model),
                                    encoderFolder: encoder.map { URL(fileURLWithPath: $0) } ?? ModelCache.miniLM,
                                    computeType: compute.computeType)
            let identity = json ? try m.identity() : nil
            var texts: [String]
            if let input {
                guard let data = FileManager.default.contents(atPath: input), let s = String(data: data, encoding: .utf8) else {
                    throw CLIFailure.input("cannot read \(input) as UTF-8 text")
                }
                texts = s.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\r")) }
                if texts.last == "" { texts.removeLast() }
            } else {
                texts = [text ?? ""]
            }
            // Batches of 256 lines keep memory flat on large files while sorting each batch by length.
            var progress = ProgressReporter(label: "classify", total: texts.count, unit: "lines")
            for start in stride(from: 0, to: texts.count, by: 256) {
                let chunk = Array(texts[start..<min(texts.count, start + 256)])
                for (t, p) in zip(chunk, try m.checkedPredict(chunk)) {
                    let top = p.ranking.prefix(topK)
                    if json {
                        emitLine(try jsonLine(ClassifyLine(text: t, intent: p.intent, confidence: p.confidence, fallback: p.isFallback,
                                                           topK: top.map { .init(intent: $0.intent, probability: $0.probability) },
                                                           model: identity)))
                    } else {
                        emitLine("\(p.intent)\t\(String(format: "%.3f", p.confidence))\t"
                                 + top.map { "\($0.intent):\(String(format: "%.3f", $0.probability))" }.joined(separator: " ") + "\t\(t)")
                    }
                }
                if texts.count > 256 { progress.update(done: start + chunk.count) }
            }
            if texts.count > 256 { progress.finish() }
        }
    }
}

/// One line of `classify --json`.
struct ClassifyLine: Encodable {
    struct Alternative: Encodable { var intent: String; var probability: Float }
    var text: String
    var intent: String
    var confidence: Float
    var fallback: Bool
    var topK: [Alternative]
    var model: ModelIdentity?
}
