import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score the image model (ACC, ROC-AUC, sensitivity/specificity, ECE) or the report reader (per-finding P/R/F1).",
        discussion: """
        Labels must fit the task: image labels 0 ... classes-1, report finding columns 0 or 1 and \
        report labels normal/abnormal/unindexed; a selection without rows is an error. Report \
        rows whose file has no text are skipped and counted.

        --half even|odd scores every other image of the selected rows (positions 0,2,… or \
        1,3,…): a model trained with train --val-half even is measured on the odd half, which \
        chose nothing. --tta K overrides the model's test-time augmentation (0 = off).

        Robustness (--attack fgsm|pgd): every selected image is also attacked (untargeted, against \
        its own label, the weights as they are) at each --epsilon, in 1/255 of the pixel range \
        before normalisation, with pixels kept in that range. The gradient is that of the \
        predictor scored: with test-time augmentation, of the mean over the shifted views \
        (white-box on what analyze reports). FGSM is one signed gradient step of \
        size ε, PGD --pgd-steps steps of --pgd-step-size from a random start in the ε-ball drawn \
        from --seed. The output gives the clean and the attacked ACC/AUC per ε and the share of \
        images whose class flipped.

        Examples:
          lepton-diagnose evaluate --split val \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv
          lepton-diagnose evaluate --split val --half odd --tta 1 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv
          lepton-diagnose evaluate --json --subset test \\
              --reports ../shared/data/medical/iu-xray/findings.csv
          lepton-diagnose evaluate --report-reader combined \\
              --report-model /tmp/report-model \\
              --reports ../shared/data/medical/iu-xray/findings.csv \\
              --report-split samples/diagnose/report-split.csv --part test
          lepton-diagnose evaluate --split val --attack fgsm --epsilon 1,2,4 \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv
        """)

    @Option(name: .long, help: "Image labels CSV (file,label).")
    var labels: String?

    @Option(name: .long, help: "Which image rows: val (under val/), train, or all.")
    var split: String = "val"

    @Option(name: .long, help: ArgumentHelp("Only every other image of the split: even or odd positions.", valueName: "half"))
    var half: ImageHalf?

    @Option(name: .long, help: ArgumentHelp("Test-time augmentation: K-pixel shifts (0 = off; default: the model's).", valueName: "K"))
    var tta: Int?

    @Option(name: .long, help: "Report labels CSV (findings.csv layout).")
    var reports: String?

    @Option(name: .long, help: "Report rows: all, dev (even numbers) or test (odd numbers).")
    var subset: String = "all"

    @Option(name: .long, help: "Report split CSV (file,split; scripts/split-reports.py): score only the rows of --part.")
    var reportSplit: String?

    @Option(name: .long, help: "With --report-split: the part to score (train, validation or test).")
    var part: String = "test"

    @OptionGroup var reading: ReportReaderOptions

    @Option(name: .long, help: "Model folder or .npz (default: the shipped model).")
    var model: String?

    @Option(name: .long, help: "Decision threshold on the positive probability (default: the model's).")
    var threshold: Float?

    @Option(name: .long, help: ArgumentHelp("Also attack every image (fgsm or pgd) and report the attacked figures per --epsilon.",
                                            valueName: "attack"))
    var attack: ScanAttackKind?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var attacks: AttackOptions

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    func validate() throws {
        guard labels != nil || reports != nil else { throw ValidationError("give --labels and/or --reports") }
        guard ["val", "train", "all"].contains(split) else { throw ValidationError("--split must be val, train or all") }
        guard ReportEvaluation.Subset(rawValue: subset) != nil else { throw ValidationError("--subset must be all, dev or test") }
        if let t = threshold, !(t.isFinite && t >= 0 && t <= 1) { throw ValidationError("--threshold must be between 0 and 1") }
        if let k = tta, !(0...4).contains(k) { throw ValidationError("--tta must be between 0 and 4 pixels") }
        guard attack == nil || labels != nil else { throw ValidationError("--attack needs --labels (images)") }
        guard attack != nil || attacks.epsilon == nil else { throw ValidationError("--epsilon needs --attack fgsm|pgd") }
    }

    struct ImageResult: Encodable {
        var count: Int, accuracy: Double, auc: Double, sensitivity: Double, specificity: Double, ece: Double, threshold: Double, nll: Double
    }
    struct FindingResult: Encodable { var precision: Double, recall: Double, f1: Double, support: Int }
    struct ReportResult: Encodable {
        var count: Int, skippedEmpty: Int, macroF1Main: Double, abnormalF1: Double, abnormalPrecision: Double, abnormalRecall: Double
        var findings: [String: FindingResult]
        /// Which reader decided the findings, and its model unless the rules.
        var reader: String, readerModel: ModelIdentity?
    }
    /// One ε of `--attack`: ε in 1/255, the attacked figures, the share of flipped classes.
    struct AttackedResult: Encodable {
        var epsilon: Double, accuracy: Double, auc: Double, sensitivity: Double, specificity: Double, flipped: Double
        var largestChange: Double, withinPixelRange: Bool
    }
    struct RobustnessResult: Encodable {
        var attack: ScanAttackKind, steps: Int?, stepSize: Double?, seed: UInt64?, clean: AttackedResult, attacked: [AttackedResult]
    }
    struct Output: Encodable { var model: ModelIdentity?, image: ImageResult?, reports: ReportResult?, robustness: RobustnessResult? }

    static func findingResults(_ ev: ReportEvaluation) -> [String: FindingResult] {
        ev.perFinding.mapValues { FindingResult(precision: $0.precision, recall: $0.recall, f1: $0.f1, support: $0.tp + $0.fn) }
    }

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            EngineThreads.set(common.threads)
            try diagnoseErrors {
                var out = Output()
                var text: [String] = []
                if let l = labels {
                    let m = try ScanClassifier.load(modelOrShipped: model)
                    if let tta { m.config.tta = tta == 0 ? nil : tta }
                    out.model = m.identity
                    var progress = ProgressReporter(label: "loading images", unit: "images")
                    let (train, val) = try LabeledImages.read(labels: URL(fileURLWithPath: l), size: m.config.inputSize,
                                                              classes: m.config.classes.count) { progress.update(done: $0) }
                    progress.finish()
                    var data: LabeledImages
                    switch split {
                    case "train": data = train
                    case "all": data = train; data.files += val.files; data.labels += val.labels; data.pixels += val.pixels
                    default: data = val
                    }
                    if let half { data = data.half(odd: half == .odd) }
                    guard data.count > 0 else { throw DiagnoseError.badLabels(file: l, line: 0, reason: split == "val" ? "no rows under val/ (the val split); use --split all or train" : "no rows in the \(split) split") }
                    let e = try m.evaluate(data, threshold: threshold)
                    out.image = ImageResult(count: e.count, accuracy: e.accuracy, auc: e.auc, sensitivity: e.sensitivity,
                                            specificity: e.specificity, ece: e.ece, threshold: Double(e.threshold), nll: e.nll)
                    text.append("# model \(m.identity)")
                    text.append(String(format: "images: n=%d ACC %.4f AUC %.4f sensitivity %.4f specificity %.4f ECE %.4f (threshold %.2f)",
                                       e.count, e.accuracy, e.auc, e.sensitivity, e.specificity, e.ece, e.threshold))
                    if let attack {
                        let (result, lines) = try robustness(m, data, attack)
                        out.robustness = result; text += lines
                    }
                }
                if let r = reports, let sub = ReportEvaluation.Subset(rawValue: subset) {
                    let findingReader = try reading.findingReader()
                    let files = try reportSplit.map { try ReportSplit(contentsOf: URL(fileURLWithPath: $0)).files(part, source: $0) }
                    var progress = ProgressReporter(label: "reading reports", unit: "reports")
                    let (rows, skipped) = try ReportEvaluation.labeledReports(findingsCSV: URL(fileURLWithPath: r), subset: sub, files: files) {
                        progress.update(done: $0)
                    }
                    progress.finish()
                    var ev = ReportEvaluation.score(rows, analyses: findingReader.analyze(rows.map(\.text)))
                    ev.skippedEmpty = skipped
                    out.reports = ReportResult(count: ev.reports, skippedEmpty: ev.skippedEmpty, macroF1Main: ev.macroF1Main,
                                               abnormalF1: ev.abnormal.f1, abnormalPrecision: ev.abnormal.precision,
                                               abnormalRecall: ev.abnormal.recall, findings: Self.findingResults(ev),
                                               reader: findingReader.kind.rawValue, readerModel: findingReader.identity)
                    text.append("# report reader \(findingReader.kind.rawValue)\(findingReader.identity.map { ": \($0)" } ?? "")")
                    text.append(String(format: "reports: n=%d (%d without text skipped) macro-F1 (5 main) %.4f abnormal F1 %.4f",
                                       ev.reports, ev.skippedEmpty, ev.macroF1Main, ev.abnormal.f1))
                    for (f, s) in ev.perFinding.sorted(by: { $0.key < $1.key }) {
                        text.append("  " + f.padding(toLength: 13, withPad: " ", startingAt: 0) + String(format: "P %.3f R %.3f F1 %.3f support %d", s.precision, s.recall, s.f1, s.tp + s.fn))
                    }
                }
                emitLine(json ? try jsonLine(out) : text.joined(separator: "\n"))
            }
        }
    }

    /// Clean and attacked figures per ε (text lines too), with progress on stderr.
    func robustness(_ m: ScanClassifier, _ data: LabeledImages, _ kind: ScanAttackKind) throws -> (RobustnessResult, [String]) {
        let epsilons = try attacks.epsilons(default: [1, 2, 4])
        let template = attacks.attack(kind, epsilon: epsilons[0], seed: seeding.seed)
        var progress = ProgressReporter(label: "\(kind.rawValue) attack", total: data.count * epsilons.count, unit: "images")
        var finished = 0
        let results = try m.robustEvaluation(data, kind: kind, epsilons: epsilons, steps: template.steps, stepSize: template.stepSize,
                                             seed: seeding.seed, threshold: threshold) { eps, done in
            progress.update(done: finished + done)
            if done == data.count { finished += done }
        }
        progress.finish()
        func row(_ r: RobustEvaluation) -> AttackedResult {
            AttackedResult(epsilon: Double(r.epsilon * 255), accuracy: r.attacked.accuracy, auc: r.attacked.auc,
                           sensitivity: r.attacked.sensitivity, specificity: r.attacked.specificity, flipped: r.flipped,
                           largestChange: Double(r.largestChange * 255), withinPixelRange: r.withinPixelRange)
        }
        let pgd = kind == .pgd
        let result = RobustnessResult(attack: kind, steps: pgd ? template.steps : nil,
                                      stepSize: pgd ? Double(template.effectiveStepSize * 255) : nil, seed: pgd ? seeding.seed : nil,
                                      clean: row(results[0]), attacked: results.dropFirst().map(row))
        var lines = [pgd ? String(format: "attack: pgd, %d steps, seed %llu (step size in 1/255: 2.5·ε/steps unless given)", template.steps, seeding.seed)
                         : "attack: fgsm"]
        for r in results {
            lines.append(String(format: "  ε %5.2f/255: ACC %.4f AUC %.4f sensitivity %.4f specificity %.4f flipped %.4f",
                                r.epsilon * 255, r.attacked.accuracy, r.attacked.auc, r.attacked.sensitivity, r.attacked.specificity, r.flipped))
        }
        return (result, lines)
    }
}
