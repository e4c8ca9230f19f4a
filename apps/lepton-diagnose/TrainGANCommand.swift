import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

struct TrainGANCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-gan",
        abstract: "Train a DCGAN on the training X-rays (28×28) and report a Fréchet distance on the scan model's features.",
        discussion: """
        The generator (noise → linear → two stride-2 transposed convolutions → tanh) and the \
        discriminator (two stride-2 convolutions → linear) learn on the training rows of --labels \
        (not those under val/), of one class with --class. Adam at --lr, β₁ 0.5. Each epoch's \
        d_loss, g_loss, D(real), D(fake) and Fréchet distance go to stderr, and with --logdir to \
        DIR/curves.csv and TensorBoard event files.

        The Fréchet distance (FID's formula) compares the validation images (of the class) with as \
        many generated ones on the pooled features of the scan model (--model, default the shipped \
        one); the distance between the training and the validation images is printed beside it as \
        the floor real images reach. OUT gets gan.json, gan.safetensors and samples.png (an 8×8 grid); \
        --write-images N also writes N generated PNGs and a labels.csv (every row the class) to \
        OUT/generated, to add to a training CSV.

        Example:
          lepton-diagnose train-gan --out /tmp/gan --class normal --epochs 1 --seed 1 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv
        """)

    @Option(name: .long, help: "CSV with columns file,label (rows under val/ are the Fréchet reference).")
    var labels: String

    @Option(name: .long, help: "Output folder.")
    var out: String

    @Option(name: .customLong("class"), help: ArgumentHelp("Train on this class only (name or index; default all).", valueName: "class"))
    var trainClass: String?

    @Option(name: .long, help: "Epochs.")
    var epochs: Int = 10

    @Option(name: .long, help: "Batch size.")
    var batch: Int = 64

    @Option(name: .long, help: "Adam learning rate.")
    var lr: Float = 2e-4

    @Option(name: .long, help: "Noise length.")
    var latent: Int = 64

    @Option(name: .long, help: "Generator's last hidden channels (the other hidden layer has twice as many).")
    var width: Int = 32

    @Option(name: .long, help: "Scan model whose features the Fréchet distance uses (folder or .npz; default: the shipped model).")
    var model: String?

    @Option(name: .long, help: ArgumentHelp("Also write this many generated images to OUT/generated.", valueName: "n"))
    var writeImages: Int = 0

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var log: TrainingLogOptions

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    func validate() throws {
        guard (1...10_000).contains(epochs) else { throw ValidationError("--epochs must be between 1 and 10000") }
        guard (2...4096).contains(batch) else { throw ValidationError("--batch must be between 2 and 4096") }
        guard lr.isFinite, lr > 0, lr < 1 else { throw ValidationError("--lr must be a positive number below 1") }
        guard (1...1024).contains(latent) else { throw ValidationError("--latent must be between 1 and 1024") }
        guard (1...512).contains(width) else { throw ValidationError("--width must be between 1 and 512") }
        guard (0...100_000).contains(writeImages) else { throw ValidationError("--write-images must be between 0 and 100000") }
    }

    struct Output: Encodable {
        var out: String, gan: ModelIdentity, scanModel: ModelIdentity, trainedOnClass: String?, trainingImages: Int, epochs: Int
        var frechetGeneratedToVal: Double, frechetTrainToVal: Double, frechetPerEpoch: [Double], valImages: Int
        var dLoss: Double, gLoss: Double, seconds: Double, sampleGrid: String, generatedImages: Int
    }

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            EngineThreads.set(common.threads)
            try diagnoseErrors {
                let scan = try ScanClassifier.load(modelOrShipped: model)
                let classes = scan.config.classes
                let classIndex: Int? = try trainClass.map { name in
                    if let i = classes.firstIndex(of: name) { return i }
                    if let i = Int(name), classes.indices.contains(i) { return i }
                    throw CLIFailure.usage("--class must be one of \(classes.joined(separator: ", ")) or an index, got '\(name)'")
                }
                var loading = ProgressReporter(label: "loading images", unit: "images")
                var (train, val) = try LabeledImages.read(labels: URL(fileURLWithPath: labels), size: 28, classes: classes.count) {
                    loading.update(done: $0)
                }
                if let c = classIndex {
                    train = train.subset(train.labels.indices.filter { train.labels[$0] == c })
                    val = val.subset(val.labels.indices.filter { val.labels[$0] == c })
                }
                loading.finish("\(train.count) training and \(val.count) validation images")
                guard val.count >= 2 else { throw DiagnoseError.badLabels(file: labels, line: 0, reason: "the Fréchet distance needs at least 2 rows under val/ (of the class)") }
                var config = ScanGANConfig()
                config.latent = latent; config.width = width; config.trainedOnClass = classIndex
                var options = GANTrainingOptions()
                options.epochs = epochs; options.batchSize = batch; options.learningRate = lr; options.seed = seeding.seed
                let curves = try log.progress(epochs: epochs, stepsPerEpoch: max(1, train.count / max(2, min(batch, train.count))), quiet: true)
                let (gan, summary) = try ScanGAN.train(images: train, config: config, options: options, fidModel: scan, fidReference: val,
                                                       curves: curves) { Log.info($0) }
                let day = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
                gan.config.version = "\(day) seed \(seeding.seed)"
                let floor = try ScanGAN.frechetDistance(train.pixels, val.pixels, model: scan)
                let final = summary.frechet.last ?? .nan
                gan.config.notes = [
                    "trained_on": labels, "class": classIndex.map { classes[$0] } ?? "all", "seed": "\(seeding.seed)", "epochs": "\(epochs)",
                    "frechet_generated_to_val": String(format: "%.4f", final), "frechet_train_to_val": String(format: "%.4f", floor),
                    "frechet_model": scan.identity.description, "train_seconds": String(format: "%.1f", summary.seconds),
                ]
                let outURL = URL(fileURLWithPath: out)
                try gan.save(to: outURL)
                let grid = outURL.appendingPathComponent("samples.png")
                try writeFileAtomicallyReporting(try ScanGAN.gridPNG(gan.generate(count: 64, seed: seeding.seed &+ 7)), to: grid)
                if writeImages > 0 {
                    try gan.writeImages(count: writeImages, seed: seeding.seed &+ 11, label: classIndex ?? 0,
                                        to: outURL.appendingPathComponent("generated"))
                }
                let result = Output(out: out, gan: gan.identity, scanModel: scan.identity, trainedOnClass: classIndex.map { classes[$0] },
                                    trainingImages: train.count, epochs: summary.epochsRun, frechetGeneratedToVal: final,
                                    frechetTrainToVal: floor, frechetPerEpoch: summary.frechet, valImages: val.count,
                                    dLoss: summary.discriminatorLoss, gLoss: summary.generatorLoss, seconds: summary.seconds,
                                    sampleGrid: grid.path, generatedImages: writeImages)
                emitLine(json ? try jsonLine(result) : String(
                    format: "saved %@ to %@: %d epochs on %d images (%@), Fréchet distance to %d validation images %.4f (training images: %.4f), %.1f s",
                    gan.identity.description, out, summary.epochsRun, train.count, classIndex.map { classes[$0] } ?? "all classes",
                    val.count, final, floor, summary.seconds))
            }
        }
    }

    /// The sample grid through the same atomic write as the model files.
    func writeFileAtomicallyReporting(_ data: Data, to url: URL) throws {
        do { try writeFileAtomically(data, to: url) } catch {
            throw DiagnoseError.writeFailed(path: url.path, reason: "\(error)")
        }
    }
}
