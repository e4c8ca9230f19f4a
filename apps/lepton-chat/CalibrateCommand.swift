import ArgumentParser
import Foundation
import LeptonDialog
import LeptonText
import LeptonCLI
import LeptonEngine

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Fit an intent model's temperature on held-out labelled rows, so its confidence means what it says.",
        discussion: """
        Temperature scaling: the model's probabilities p become softmax(log p / T), with T chosen to \
        minimise the negative log-likelihood of the rows' labels (the ranking, so the accuracy, is \
        unchanged). T is written into the folder's intent-model.json (atomically); the weights are \
        untouched. Use rows the model was not trained on (a validation split), never the rows you \
        report figures on. Rows whose label the model does not know are skipped. Prints the expected \
        calibration error (ECE, 10 equal-width bins) and the reliability diagram's bins before and \
        after; --no-write only measures (at the model's current temperature, or --temperature).

        Examples:
          lepton-chat calibrate --model samples/bank/model --no-write \\
              --data samples/bank/splits/banking77-validation.csv \\
              --data samples/bank/splits/oos-validation.csv

        JSON: examples, skipped, temperature, uncalibrated {ece, nll, bins [{lower, upper, count, \
        confidence, accuracy}]}, calibrated {…}, written, model {name, version, sha256} (after writing).
        Exit status: 0 ok, 1 bad model/data/output, 64 usage.
        """)

    @Option(name: .long, help: "Intent model folder (from `lepton-chat train`); its intent-model.json gets the temperature.")
    var model: String

    @Option(name: .long, help: "Held-out labelled rows: .csv (text,category) or nlu.yml; repeat to use several files.")
    var data: [String]

    @Flag(name: .long, help: "Measure only: do not fit or write a temperature.")
    var noWrite = false

    @Option(name: .long, help: "With --no-write: the temperature to measure (default: the model's own).")
    var temperature: Double?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .long, help: "Sentence-encoder folder (default: the bootstrapped all-MiniLM-L6-v2).")
    var encoder: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard !data.isEmpty else { throw ValidationError("give at least one --data FILE") }
        if let temperature, !(temperature > 0 && temperature <= 100) { throw ValidationError("--temperature must be in (0, 100]") }
        if temperature != nil && !noWrite { throw ValidationError("--temperature only goes with --no-write (without it the temperature is fitted)") }
    }

    struct Report: Encodable {
        var calibration: IntentCalibrationReport
        var written: Bool
        var model: ModelIdentity?
        enum Key: String, CodingKey { case written, model }
        func encode(to encoder: Encoder) throws {
            try calibration.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(written, forKey: .written)
            try c.encodeIfPresent(model, forKey: .model)
        }
    }

    func run() throws {
        try runCommand("lepton-chat", common) {
            EngineThreads.set(common.threads)
            let folder = URL(fileURLWithPath: model)
            let m = try IntentModel(folder: folder, encoderFolder: encoder.map { URL(fileURLWithPath: $0) } ?? ModelCache.miniLM)
            var examples: [(text: String, label: String)] = []
            for d in data { examples += try NLUData.load(URL(fileURLWithPath: d)).labeledTexts }
            let report: IntentCalibrationReport
            var identity: ModelIdentity?
            if noWrite {
                report = try m.calibrationReport(on: examples, temperature: temperature)
            } else {
                let (p, y, _) = try m.calibrationData(examples)
                let t = IntentCalibration.fitTemperature(p, classes: m.config.labels.count, labels: y)
                report = try m.calibrationReport(on: examples, temperature: t)
                try IntentModel.saveTemperature(t, config: m.config, to: folder)
                var written = m.config
                written.temperature = Float(t)
                identity = try IntentModel.identity(folder: folder, config: written)
            }
            if json {
                emitLine(try jsonLine(Report(calibration: report, written: !noWrite, model: identity)))
            } else {
                emitLine(String(format: "temperature %.4f%@: ECE %.4f → %.4f, NLL %.4f → %.4f (%d rows, %d skipped)",
                                report.temperature, noWrite ? "" : " (fitted, written)", report.uncalibrated.ece, report.calibrated.ece,
                                report.uncalibrated.nll, report.calibrated.nll, report.examples, report.skipped))
                emitLine("bin\tcount\tconfidence\taccuracy\t(calibrated) count\tconfidence\taccuracy")
                for (a, b) in zip(report.uncalibrated.bins, report.calibrated.bins) {
                    emitLine(String(format: "%.1f-%.1f\t%d\t%.3f\t%.3f\t%d\t%.3f\t%.3f", a.lower, a.upper, a.count, a.confidence, a.accuracy,
                                    b.count, b.confidence, b.accuracy))
                }
            }
        }
    }
}
