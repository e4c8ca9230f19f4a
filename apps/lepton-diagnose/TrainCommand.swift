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
        early stopping (ROC-AUC, or the loss with --select-by loss) and the temperature fitted for calibrated probabilities. \
        Augmentation: shifts ±2 px, rotations ±10°, scale ±5 %, gain ±15 %, offset ±0.08. \
        Class-weighted cross-entropy, AdamW with cosine decay. With --logdir, every epoch's \
        train_loss, val_loss, val_accuracy and val_auc go to DIR/curves.csv and TensorBoard \
        event files in DIR.

        Architecture (--arch): cnn, the plain conv blocks, or resnet, a small ResNet (a 3×3 conv \
        stem, then per --channels width a stage of --residual-blocks basic blocks, stride 2 \
        between stages, global average pool). --tta K averages the logits of each image and its \
        four K-pixel shifts, in validation and in analyze. --val-half even|odd keeps only every \
        other validation row (positions 0,2,… or 1,3,…) for early stopping and temperature, so \
        the other half chose nothing (evaluate --half).

        Distillation (--distil-from TEACHER): the new model (the student; by default every conv \
        block half as wide as the teacher's) learns from the teacher's outputs softened by \
        --distil-temperature T as well as from the labels: α·T²·KL + (1−α)·cross-entropy, \
        α = --distil-alpha (Hinton et al. 2015). --save-dtype float16 halves the saved file.

        Adversarial training (--adversarial fgsm|pgd --epsilon E): every batch is trained on \
        together with its adversarial version at ε = E/255 (made by that attack on the model as it \
        stands; see evaluate --attack), so the loss is the mean of the clean and the adversarial \
        cross-entropy. --start-from MODEL fine-tunes that model (same architecture) instead of \
        starting from random weights.

        Examples:
          lepton-diagnose train --out /tmp/model --epochs 1 --seed 1 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv \\
              --logdir /tmp/scan-run
          lepton-diagnose train --out /tmp/resnet --epochs 1 --seed 1 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv \\
              --arch resnet --channels 4,8,16 --val-half even --tta 1
          lepton-diagnose train --out /tmp/student --epochs 1 --seed 1 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv \\
              --distil-from samples/diagnose/model --save-dtype float16
          lepton-diagnose train --out /tmp/robust --epochs 1 --seed 1 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv \\
              --start-from samples/diagnose/model --lr 5e-4 \\
              --adversarial fgsm --epsilon 2
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

    @Option(name: .long, help: ArgumentHelp("Validation figure that chooses the epoch kept: auc or loss.", valueName: "figure"))
    var selectBy: EpochSelection = .auc

    @Option(name: .long, help: "Comma-separated class names (index order).")
    var classes: String = "normal,pneumonia"

    @Option(name: .long, help: "Comma-separated conv block widths (default: 16,32,64; with --distil-from, half the teacher's).")
    var channels: String?

    @Option(name: .long, help: "Network: cnn (plain conv blocks) or resnet (residual stages).")
    var arch: ScanArchitecture?

    @Option(name: .long, help: "With --arch resnet: residual blocks per stage (1...8).")
    var residualBlocks: Int?

    @Option(name: .long, help: ArgumentHelp("Test-time augmentation: average over K-pixel shifts (0 = off, up to 4).", valueName: "K"))
    var tta: Int?

    @Option(name: .long, help: ArgumentHelp("Validate on this half of the val rows only (even or odd positions).", valueName: "half"))
    var valHalf: ImageHalf?

    @Option(name: .long, help: ArgumentHelp("Distil from this trained model (folder or .npz): learn its softened outputs as well as the labels.",
                                            valueName: "teacher"))
    var distilFrom: String?

    @Option(name: .long, help: "Distillation temperature T (1...100).")
    var distilTemperature: Float = 4

    @Option(name: .long, help: "Weight α of the teacher's soft targets (0...1); 1 − α goes to the labels.")
    var distilAlpha: Float = 0.9

    @Flag(name: .long, help: "Disable augmentation.")
    var noAugment = false

    @Option(name: .long, help: ArgumentHelp("Adversarial training: add each batch's fgsm or pgd version at --epsilon.", valueName: "attack"))
    var adversarial: ScanAttackKind?

    @Option(name: .long, help: ArgumentHelp("Fine-tune this trained model (folder or .npz; its architecture) instead of random weights.",
                                            valueName: "model"))
    var startFrom: String?

    @OptionGroup var attacks: AttackOptions

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var log: TrainingLogOptions

    @OptionGroup var saving: SaveDTypeOptions

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    func validate() throws {
        guard (1...10_000).contains(epochs) else { throw ValidationError("--epochs must be between 1 and 10000") }
        guard (1...65_536).contains(batch) else { throw ValidationError("--batch must be between 1 and 65536") }
        guard lr.isFinite, lr > 0, lr < 10 else { throw ValidationError("--lr must be a positive number below 10") }
        guard patience >= 1 else { throw ValidationError("--patience must be at least 1") }
        guard distilTemperature.isFinite, (1...100).contains(distilTemperature) else { throw ValidationError("--distil-temperature must be between 1 and 100") }
        guard distilAlpha.isFinite, (0...1).contains(distilAlpha) else { throw ValidationError("--distil-alpha must be between 0 and 1") }
        if adversarial != nil {
            guard let e = attacks.epsilon, !e.contains(",") else { throw ValidationError("--adversarial needs one --epsilon (in 1/255)") }
        } else if attacks.epsilon != nil {
            throw ValidationError("--epsilon needs --adversarial fgsm|pgd")
        }
        if let b = residualBlocks, !(1...8).contains(b) { throw ValidationError("--residual-blocks must be between 1 and 8") }
        if residualBlocks != nil && arch != .resnet { throw ValidationError("--residual-blocks needs --arch resnet") }
        if let k = tta, !(0...4).contains(k) { throw ValidationError("--tta must be between 0 and 4 pixels") }
        guard startFrom == nil || (distilFrom == nil && channels == nil && arch == nil && residualBlocks == nil) else {
            throw ValidationError("--start-from takes its architecture from the model: not with --channels, --arch, --residual-blocks or --distil-from")
        }
    }

    struct Output: Encodable {
        var out: String, model: ModelIdentity, epochsRun: Int, bestEpoch: Int, valAccuracy: Double, valAuc: Double, valEce: Double
        var temperature: Double, seconds: Double, secondsPerEpoch: Double
    }

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            EngineThreads.set(common.threads)
            try diagnoseErrors {
                let teacher = try distilFrom.map { try ScanClassifier.load(from: URL(fileURLWithPath: $0)) }
                let start = try startFrom.map { try ScanClassifier.load(from: URL(fileURLWithPath: $0)) }
                var config = teacher.map { ScanClassifierConfig.student(of: $0.config) } ?? start?.config.architecture ?? ScanClassifierConfig()
                config.classes = classes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let widths = channels ?? config.channels.map(String.init).joined(separator: ",")
                config.channels = try widths.split(separator: ",").map { part in
                    guard let c = Int(part.trimmingCharacters(in: .whitespaces)), (1...1024).contains(c) else {
                        throw CLIFailure.usage("--channels takes widths 1...1024, got '\(part)'")
                    }
                    return c
                }
                guard config.channels.count >= 1, config.channels.count <= 4, config.classes.count >= 2, !config.classes.contains("") else {
                    throw CLIFailure.usage("--channels needs 1 to 4 widths and --classes at least 2 names")
                }
                config.pool = config.channels.indices.map { $0 < config.channels.count - 1 }
                if let arch { config.arch = arch == .cnn ? nil : arch }
                if let residualBlocks { config.residualBlocks = residualBlocks }
                if let tta { config.tta = tta == 0 ? nil : tta }
                let k = config.classes.count
                var loading = ProgressReporter(label: "loading images", unit: "images")
                var (train, valSet) = try LabeledImages.read(labels: URL(fileURLWithPath: labels), size: config.inputSize, classes: k) {
                    loading.update(done: $0)
                }
                if let v = val {
                    let (a, b) = try LabeledImages.read(labels: URL(fileURLWithPath: v), size: config.inputSize, classes: k) {
                        loading.update(done: train.count + valSet.count + $0)
                    }
                    valSet = b.count > 0 ? b : a
                }
                if let valHalf { valSet = valSet.half(odd: valHalf == .odd) }
                loading.finish("\(train.count) training and \(valSet.count) validation images")
                var opts = TrainingOptions()
                opts.epochs = epochs; opts.batchSize = batch; opts.learningRate = lr; opts.patience = patience; opts.selectBy = selectBy
                opts.seed = seeding.seed; opts.augment = !noAugment
                opts.distillation = teacher.map { ScanDistillation(teacher: $0, temperature: distilTemperature, alpha: distilAlpha) }
                opts.startFrom = start
                opts.adversarial = try adversarial.map { attacks.attack($0, epsilon: try attacks.epsilons(default: [])[0], seed: seeding.seed) }
                // The engine reports one line per epoch: that is the progress of this long step. The
                // curves (--logdir) are written without a second line on stderr.
                let curves = log.logdir == nil ? nil
                    : try log.progress(epochs: epochs, stepsPerEpoch: (train.count + batch - 1) / batch, quiet: true)
                let (model, summary) = try ScanClassifier.train(train: train, val: valSet, config: config, options: opts,
                                                                curves: curves) { Log.info($0) }
                let day = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
                model.config.version = "\(day) seed \(seeding.seed)"
                model.config.notes = [
                    "trained_on": labels, "seed": "\(seeding.seed)", "epochs_run": "\(summary.epochsRun)", "best_epoch": "\(summary.bestEpoch)",
                    "val_accuracy": String(format: "%.4f", summary.valAccuracy), "val_auc": String(format: "%.4f", summary.valAUC),
                    "val_ece": String(format: "%.4f", summary.valECE), "train_seconds": String(format: "%.1f", summary.seconds),
                    "threads": "\(common.threads)", "selected_by": "validation \(selectBy.rawValue)",
                ]
                if let valHalf { model.config.notes["validated_on"] = "\(valHalf.rawValue) half of the validation rows (\(valSet.count) images)" }
                if let distilFrom, let teacher {
                    model.config.notes["distilled_from"] = "\(distilFrom) (\(teacher.identity.description))"
                    model.config.notes["distil_temperature"] = "\(distilTemperature)"; model.config.notes["distil_alpha"] = "\(distilAlpha)"
                }
                if saving.saveDType != .float32 { model.config.notes["save_dtype"] = saving.saveDType.rawValue }
                if let startFrom, let start { model.config.notes["started_from"] = "\(startFrom) (\(start.identity.description))" }
                if let a = opts.adversarial {
                    model.config.notes["adversarial"] = a.kind == .pgd
                        ? String(format: "pgd epsilon %g/255, %d steps of %g/255", a.epsilon * 255, a.steps, a.effectiveStepSize * 255)
                        : String(format: "fgsm epsilon %g/255", a.epsilon * 255)
                }
                try model.save(to: URL(fileURLWithPath: out), dtype: saving.saveDType)
                // The image check (gate.safetensors): scans unlike the training images get no suggestion.
                let gate = try ScanGate.fit(model: model, train: train, validation: valSet)
                try gate.gate.save(to: URL(fileURLWithPath: out))
                Log.info(FitGateCommand.describe(gate))
                let result = Output(out: out, model: model.identity, epochsRun: summary.epochsRun, bestEpoch: summary.bestEpoch,
                                    valAccuracy: summary.valAccuracy, valAuc: summary.valAUC, valEce: summary.valECE,
                                    temperature: Double(summary.temperature), seconds: summary.seconds,
                                    secondsPerEpoch: summary.secondsPerEpoch)
                emitLine(json ? try jsonLine(result) : String(
                    format: "saved %@ to %@: best epoch %d of %d, validation ACC %.4f AUC %.4f ECE %.4f, temperature %.3f, %.1f s",
                    model.identity.description, out, summary.bestEpoch, summary.epochsRun, summary.valAccuracy, summary.valAUC,
                    summary.valECE, summary.temperature, summary.seconds))
            }
        }
    }
}
