import ArgumentParser
import Foundation
import LeptonChat
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
          lepton-chat classify --model models/banking77 \\
              "I still have not received my new card"
          lepton-chat classify --model models/banking77 --json --top-k 3 \\
              --input questions.txt

        JSON (one object per input line): text, intent, confidence, fallback, top_k [{intent, probability}].
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

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if (input == nil) == (text == nil) { throw ValidationError("give either TEXT or --input FILE") }
        if topK < 1 { throw ValidationError("--top-k must be ≥ 1") }
    }

    func run() throws {
        Log.level = common.logLevel
        EngineThreads.set(common.threads)
        do {
            let m = try IntentModel(folder: URL(fileURLWithPath: model),
                                    encoderFolder: encoder.map { URL(fileURLWithPath: $0) } ?? ModelCache.miniLM)
            var texts: [String]
            if let input {
                guard let data = FileManager.default.contents(atPath: input), let s = String(data: data, encoding: .utf8) else {
                    throw IntentError.badTrainingSet(reason: "cannot read \(input) as UTF-8 text")
                }
                texts = s.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\r")) }
                if texts.last == "" { texts.removeLast() }
            } else {
                texts = [text ?? ""]
            }
            // Batches of 256 lines keep memory flat on large files while sorting each batch by length.
            for start in stride(from: 0, to: texts.count, by: 256) {
                let chunk = Array(texts[start..<min(texts.count, start + 256)])
                for (t, p) in zip(chunk, m.predict(chunk)) {
                    let top = p.ranking.prefix(topK)
                    if json {
                        let o: [String: Any] = ["text": t, "intent": p.intent, "confidence": Double(p.confidence), "fallback": p.isFallback,
                                                "top_k": top.map { ["intent": $0.intent, "probability": Double($0.probability)] }]
                        let d = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])
                        emitLine(String(decoding: d, as: UTF8.self))
                    } else {
                        emitLine("\(p.intent)\t\(String(format: "%.3f", p.confidence))\t"
                                 + top.map { "\($0.intent):\(String(format: "%.3f", $0.probability))" }.joined(separator: " ") + "\t\(t)")
                    }
                }
            }
        } catch {
            Log.error("lepton-chat classify: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
