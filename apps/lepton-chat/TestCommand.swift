import ArgumentParser
import Foundation
import LeptonDialog
import LeptonText
import LeptonCLI
import LeptonEngine
import LeptonImage

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Score an intent model on labelled data: accuracy, macro-F1, per-intent P/R/F1, most confused pairs.",
        discussion: """
        Accuracy and F1 use the model's top-ranked intent; the fallback rate (threshold/margin) is \
        reported beside them. --confusion writes the row-normalised confusion matrix as a PNG \
        (rows = true intent, columns = predicted, in the model's label order; white 0 → dark blue 1).

        Examples:
          lepton-chat test --model samples/bank/model --data samples/bank/asr-heard.csv
          lepton-chat test --model samples/bank/model --data samples/bank/nlu.yml \\
              --json --confusion /tmp/confusion.png

        JSON: examples, accuracy, macro_f1, fallback_rate, accuracy_with_fallback, per_intent, \
        most_confused, labels, unknown_labels, calibration {examples, skipped, temperature, \
        uncalibrated {ece, nll, bins}, calibrated {…}: the expected calibration error and reliability \
        bins at temperature 1 and at the model's temperature (see `lepton-chat calibrate`)}, \
        model {name, version, sha256}.
        Exit status: 0 ok, 1 bad model/data/output, 64 usage.
        """)

    @Option(name: .long, help: "Intent model folder (from `lepton-chat train`).")
    var model: String

    @Option(name: .long, help: "Labelled data: .csv (text,category) or nlu.yml.")
    var data: String

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .long, help: "Write the confusion matrix as a PNG image here.")
    var confusion: String?

    @Option(name: .long, help: "How many confused pairs to list.")
    var pairs: Int = 10

    @Option(name: .long, help: "Sentence-encoder folder (default: the bootstrapped all-MiniLM-L6-v2).")
    var encoder: String?

    @OptionGroup var compute: ComputeTypeOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        try runCommand("lepton-chat", common) {
            EngineThreads.set(common.threads)
            let m = try IntentModel(folder: URL(fileURLWithPath: model),
                                    encoderFolder: encoder.map { URL(fileURLWithPath: $0) } ?? ModelCache.miniLM,
                                    computeType: compute.computeType)
            let examples = try NLUData.load(URL(fileURLWithPath: data)).labeledTexts
            let start = Date()
            let ev = try IntentEvaluation.evaluate(m, on: examples, confusedPairs: max(0, pairs))
            Log.info("\(ev.examples) examples in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
            if let confusion { try writeConfusionPNG(ev, to: URL(fileURLWithPath: confusion)) }
            if json {
                var e = ev
                e.confusion = []   // large; the PNG carries it
                emitLine(try jsonLine(TestReport(evaluation: e, calibration: try m.calibrationReport(on: examples), model: try m.identity())))
            } else {
                emitLine(String(format: "accuracy %.4f  macro-F1 %.4f  (%d examples; fallback rate %.4f, accuracy counting fallbacks as errors %.4f)",
                                ev.accuracy, ev.macroF1, ev.examples, ev.fallbackRate, ev.accuracyWithFallback))
                if ev.unknownLabels > 0 { emitLine("\(ev.unknownLabels) examples carry intents the model does not know") }
                emitLine("intent\tprecision\trecall\tf1\tsupport")
                for p in ev.perIntent { emitLine(String(format: "%@\t%.3f\t%.3f\t%.3f\t%d", p.intent, p.precision, p.recall, p.f1, p.support)) }
                if !ev.mostConfused.isEmpty {
                    emitLine("most confused (actual → predicted: count)")
                    for c in ev.mostConfused { emitLine("\(c.actual) → \(c.predicted): \(c.count)") }
                }
            }
        }
    }

    /// Row-normalised confusion matrix, `cell` pixels per entry, as RGB.
    func writeConfusionPNG(_ ev: IntentEvaluation, to url: URL) throws {
        let k = ev.labels.count, cell = max(2, min(16, 800 / max(k, 1)))
        let side = k * cell
        var px = [UInt8](repeating: 255, count: side * side * 3)
        for a in 0..<k {
            let rowSum = max(1, ev.confusion[a].reduce(0, +))
            for p in 0..<k {
                let v = Double(ev.confusion[a][p]) / Double(rowSum)
                let (r, g, b) = (UInt8(255 - 247 * v), UInt8(255 - 207 * v), UInt8(255 - 148 * v))   // white → (8, 48, 107)
                for y in (a * cell)..<((a + 1) * cell) {
                    for x in (p * cell)..<((p + 1) * cell) {
                        let o = (y * side + x) * 3
                        px[o] = r; px[o + 1] = g; px[o + 2] = b
                    }
                }
            }
        }
        let data = try PNGEncoder.encode(samples: px, width: side, height: side, channels: 3)
        try writeAtomically(data, to: url)
    }
}

/// `test --json`: the evaluation's fields and the identity of the model scored.
struct TestReport: Encodable {
    var evaluation: IntentEvaluation
    var calibration: IntentCalibrationReport
    var model: ModelIdentity
    enum Key: String, CodingKey { case model, calibration }
    func encode(to encoder: Encoder) throws {
        try evaluation.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(calibration, forKey: .calibration)
        try c.encode(model, forKey: .model)
    }
}
