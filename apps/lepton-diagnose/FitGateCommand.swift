import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

/// `lepton-diagnose fit-gate`: the image check of an existing model (``ScanGate``), fitted on its
/// training images; `train` does the same for a new model.
struct FitGateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit-gate",
        abstract: "Fit the check that refuses scans unlike the model's training images (writes gate.safetensors).",
        discussion: """
        The check is the Mahalanobis distance of the CNN's pooled features to the nearest class \
        mean of the training images (rows not under val/). Its threshold is the --quantile of \
        the distances of every other validation image (val/ rows); the remaining validation \
        images, which played no part in that choice, give the false-alarm rate on chest \
        X-rays. `analyze` then refuses a scan above the threshold, as it refuses a DICOM whose \
        header names another modality, body part or view (image.applicable, image.reason).

        Example:
          lepton-diagnose fit-gate --model /tmp/scan-model \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Model folder (gate.safetensors is written into it).") var model: String
    @Option(help: "CSV with columns file,label of the model's training (and val/) images.") var labels: String
    @Option(help: "Share of validation chest X-rays the check lets through (0.9 to 0.9999).") var quantile: Double = 0.99
    @Flag(help: "Print one JSON object.") var json = false

    struct Output: Encodable {
        var model: String
        var threshold: Float
        var quantile: Double
        var trainImages: Int
        var chosenOn: Int
        var checkedOn: Int
        var falseAlarms: Int
        var falseAlarmRate: Double
    }

    static func describe(_ f: ScanGate.Fit) -> String {
        String(format: "image check: threshold %.2f (%g quantile of %d validation images); %d of %d other validation chest X-rays refused (%.1f%%)",
               Double(f.gate.threshold), f.quantile, f.chosenOn, f.falseAlarms, f.checkedOn,
               100 * Double(f.falseAlarms) / Double(max(f.checkedOn, 1)))
    }

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            EngineThreads.set(common.threads)
            guard (0.9...0.9999).contains(quantile) else { throw CLIFailure.usage("--quantile must be between 0.9 and 0.9999, got \(quantile)") }
            try diagnoseErrors {
                let dir = URL(fileURLWithPath: model)
                let m = try ScanClassifier.load(from: dir)
                let (train, val) = try LabeledImages.read(labels: URL(fileURLWithPath: labels), size: m.config.inputSize,
                                                          classes: m.config.classes.count)
                let fit = try ScanGate.fit(model: m, train: train, validation: val, quantile: quantile)
                try fit.gate.save(to: dir)
                if json {
                    emitLine(try jsonLine(Output(model: m.identity.description, threshold: fit.gate.threshold, quantile: quantile,
                                                 trainImages: fit.trainImages, chosenOn: fit.chosenOn, checkedOn: fit.checkedOn,
                                                 falseAlarms: fit.falseAlarms,
                                                 falseAlarmRate: Double(fit.falseAlarms) / Double(max(fit.checkedOn, 1)))))
                } else {
                    emitLine(Self.describe(fit) + "; written to \(dir.appendingPathComponent(ScanGate.fileName).path)")
                }
            }
        }
    }
}
