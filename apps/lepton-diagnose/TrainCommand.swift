import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the scan classifier on labelled images (file,label CSV) and save it as safetensors + JSON.",
        discussion: """
        Rows whose file starts with val/ (or the rows of --val) are the validation set: it drives \
        early stopping (ROC-AUC) and the temperature fitted for calibrated probabilities. \
        Augmentation: shifts ±2 px, rotations ±10°, scale ±5 %, gain ±15 %, offset ±0.08. \
        Class-weighted cross-entropy, AdamW with cosine decay.

        Example:
          lepton-diagnose train \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv \\
              --out /tmp/model --epochs 20 --seed 1
        """)

    @Option(name: .long, help: "CSV with columns file,label (paths relative to the CSV's folder).")
    var labels: String

    @Option(name: .long, help: "Output model folder.")
    var out: String

    @Option(name: .long, help: "Separate validation CSV (default: rows under val/ in --labels).")
    var val: String?

    @Option(name: .long, help: "Maximum epochs.")
    var epochs: Int = 20

    @Option(name: .long, help: "Batch size.")
    var batch: Int = 64

    @Option(name: .long, help: "Peak learning rate.")
    var lr: Float = 2e-3

    @Option(name: .long, help: "Early-stopping patience in epochs.")
    var patience: Int = 5

    @Option(name: .long, help: "Comma-separated class names (index order).")
    var classes: String = "normal,pneumonia"

    @Option(name: .long, help: "Comma-separated conv block widths.")
    var channels: String = "16,32,64"

    @Flag(name: .long, help: "Disable augmentation.")
    var noAugment = false

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    func run() throws {
        Log.level = common.logLevel
        EngineThreads.set(common.threads)
        do {
            var config = ScanClassifierConfig()
            config.classes = classes.split(separator: ",").map(String.init)
            config.channels = channels.split(separator: ",").compactMap { Int($0) }
            guard config.channels.count >= 1, config.channels.count <= 4, config.classes.count >= 2 else {
                throw DiagnoseError.usage("--channels needs 1 to 4 widths and --classes at least 2 names")
            }
            config.pool = config.channels.indices.map { $0 < config.channels.count - 1 }
            let t0 = Date()
            var (train, valSet) = try LabeledImages.read(labels: URL(fileURLWithPath: labels), size: config.inputSize)
            if let v = val {
                let (a, b) = try LabeledImages.read(labels: URL(fileURLWithPath: v), size: config.inputSize)
                valSet = b.count > 0 ? b : a
            }
            Log.info("loaded \(train.count) training and \(valSet.count) validation images in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
            var opts = TrainingOptions()
            opts.epochs = epochs; opts.batchSize = batch; opts.learningRate = lr; opts.patience = patience
            opts.seed = seeding.seed; opts.augment = !noAugment
            let (model, summary) = try ScanClassifier.train(train: train, val: valSet, config: config, options: opts) { Log.info($0) }
            model.config.notes = [
                "trained_on": labels, "seed": "\(seeding.seed)", "epochs_run": "\(summary.epochsRun)", "best_epoch": "\(summary.bestEpoch)",
                "val_accuracy": String(format: "%.4f", summary.valAccuracy), "val_auc": String(format: "%.4f", summary.valAUC),
                "val_ece": String(format: "%.4f", summary.valECE), "train_seconds": String(format: "%.1f", summary.seconds),
                "threads": "\(common.threads)",
            ]
            try model.save(to: URL(fileURLWithPath: out))
            let obj: [String: Any] = ["out": out, "epochs_run": summary.epochsRun, "best_epoch": summary.bestEpoch,
                                      "val_accuracy": summary.valAccuracy, "val_auc": summary.valAUC, "val_ece": summary.valECE,
                                      "temperature": Double(summary.temperature), "seconds": summary.seconds,
                                      "seconds_per_epoch": summary.secondsPerEpoch]
            let d = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
            emitLine(String(decoding: d, as: UTF8.self))
        } catch let e as DiagnoseError {
            Log.error("error: \(e)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
