import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Make the scan classifier smaller and faster: remove a fraction of each conv block's channels, then fine-tune.",
        discussion: """
        Channel pruning (network slimming): in every conv block the channels with the smallest \
        batch-norm scale |γ| are removed, with the weights that read them, so the saved model is \
        an ordinary narrower one (fewer parameters, fewer multiplications with the same dense \
        kernels). Then --epochs of fine-tuning on --labels (the train command's recipe: \
        augmentation, AdamW at --lr with cosine decay, early stopping on validation ROC-AUC, the \
        temperature refitted); --epochs 0 saves the pruned model as it is.

        Example:
          lepton-diagnose prune --model samples/diagnose/model --sparsity 0.5 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv \\
              --epochs 1 --out /tmp/scan-pruned --seed 1
        """)

    @Option(name: .long, help: "The model to prune (folder or .npz; default: the shipped model).")
    var model: String?

    @Option(name: .long, help: "Fraction of each conv block's channels to remove, at least 0 and below 1.")
    var sparsity: Double

    @Option(name: .long, help: "Output model folder.")
    var out: String

    @Option(name: .long, help: "CSV with columns file,label for fine-tuning (rows under val/ are the validation set).")
    var labels: String?

    @Option(name: .long, help: "Fine-tuning epochs (0 = none).")
    var epochs: Int = 5

    @Option(name: .long, help: "Peak fine-tuning learning rate.")
    var lr: Float = 5e-4

    @Option(name: .long, help: "Batch size.")
    var batch: Int = 64

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var saving: SaveDTypeOptions

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    func validate() throws {
        guard sparsity.isFinite, sparsity >= 0, sparsity < 1 else { throw ValidationError("--sparsity must be at least 0 and below 1") }
        guard (0...10_000).contains(epochs) else { throw ValidationError("--epochs must be between 0 and 10000") }
        guard epochs == 0 || labels != nil else { throw ValidationError("fine-tuning needs --labels (or --epochs 0)") }
        guard (1...65_536).contains(batch) else { throw ValidationError("--batch must be between 1 and 65536") }
        guard lr.isFinite, lr > 0, lr < 10 else { throw ValidationError("--lr must be a positive number below 10") }
    }

    struct Output: Encodable {
        var out: String, model: ModelIdentity, prunedFrom: ModelIdentity, sparsity: Double, channels: [Int]
        var parameters: Int, parametersBefore: Int, epochsRun: Int, valAccuracy: Double?, valAuc: Double?
    }

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            EngineThreads.set(common.threads)
            try diagnoseErrors {
                let source = try ScanClassifier.load(modelOrShipped: model)
                var pruned = try source.channelPruned(sparsity: sparsity)
                Log.info("pruned \(source.config.channels) to \(pruned.config.channels) channels: \(pruned.parameterCount) of \(source.parameterCount) parameters")
                var summary: TrainingSummary?
                var gateFit: ScanGate.Fit?
                if epochs > 0, let labels {
                    let k = source.config.classes.count
                    var loading = ProgressReporter(label: "loading images", unit: "images")
                    let (train, val) = try LabeledImages.read(labels: URL(fileURLWithPath: labels), size: source.config.inputSize, classes: k) {
                        loading.update(done: $0)
                    }
                    loading.finish("\(train.count) training and \(val.count) validation images")
                    var opts = TrainingOptions()
                    opts.epochs = epochs; opts.batchSize = batch; opts.learningRate = lr; opts.seed = seeding.seed
                    opts.startFrom = pruned
                    let (tuned, s) = try ScanClassifier.train(train: train, val: val, config: pruned.config, options: opts) { Log.info($0) }
                    pruned = tuned; summary = s
                    // The pruned network's features are new: its image check is fitted again.
                    gateFit = try ScanGate.fit(model: pruned, train: train, validation: val)
                    pruned.config.notes["fine_tuned_on"] = labels
                    pruned.config.notes["val_accuracy"] = String(format: "%.4f", s.valAccuracy)
                    pruned.config.notes["val_auc"] = String(format: "%.4f", s.valAUC)
                }
                pruned.config.notes["pruned_from"] = (model ?? "samples/diagnose/model") + " (\(source.identity.description))"
                pruned.config.notes["fine_tune_epochs"] = "\(summary?.epochsRun ?? 0)"
                pruned.config.notes["seed"] = "\(seeding.seed)"
                pruned.config.version = (source.config.version ?? "unversioned") + String(format: ", channels pruned %.0f%%", sparsity * 100)
                try pruned.save(to: URL(fileURLWithPath: out), dtype: saving.saveDType)
                if let gateFit {
                    try gateFit.gate.save(to: URL(fileURLWithPath: out))
                    Log.info(FitGateCommand.describe(gateFit))
                }
                let result = Output(out: out, model: pruned.identity, prunedFrom: source.identity, sparsity: sparsity, channels: pruned.config.channels,
                                    parameters: pruned.parameterCount, parametersBefore: source.parameterCount, epochsRun: summary?.epochsRun ?? 0,
                                    valAccuracy: summary?.valAccuracy, valAuc: summary?.valAUC)
                emitLine(json ? try jsonLine(result) : "saved \(pruned.identity.description) to \(out): channels \(pruned.config.channels), "
                         + "\(pruned.parameterCount) of \(source.parameterCount) parameters"
                         + (summary.map { String(format: ", fine-tuned %d epochs: validation ACC %.4f AUC %.4f", $0.epochsRun, $0.valAccuracy, $0.valAUC) } ?? ""))
            }
        }
    }
}
