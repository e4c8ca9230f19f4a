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
        Examples:
          lepton-diagnose evaluate \\
              --labels ../shared/data/medical/pneumoniamnist/labels.csv --split val
          lepton-diagnose evaluate --labels test/labels.csv --split all \\
              --model /tmp/model
          lepton-diagnose evaluate \\
              --reports ../shared/data/medical/iu-xray/findings.csv --subset test
        """)

    @Option(name: .long, help: "Image labels CSV (file,label).")
    var labels: String?

    @Option(name: .long, help: "Which image rows: val (under val/), train, or all.")
    var split: String = "val"

    @Option(name: .long, help: "Report labels CSV (findings.csv layout).")
    var reports: String?

    @Option(name: .long, help: "Report rows: all, dev (even numbers) or test (odd numbers).")
    var subset: String = "all"

    @Option(name: .long, help: "Model folder or .npz (default: the shipped model).")
    var model: String?

    @Option(name: .long, help: "Decision threshold on the positive probability (default: the model's).")
    var threshold: Float?

    @OptionGroup var common: CommonOptions

    func run() throws {
        Log.level = common.logLevel
        EngineThreads.set(common.threads)
        guard labels != nil || reports != nil else { Log.error("error: give --labels and/or --reports"); throw ExitCode(ExitStatus.usage) }
        do {
            var out: [String: Any] = [:]
            if let l = labels {
                let m: ScanClassifier
                if let p = model { m = try ScanClassifier.load(from: URL(fileURLWithPath: p)) } else {
                    guard let d = ScanClassifier.defaultModelDirectory() else { throw DiagnoseError.badModel(path: "samples/diagnose/model", reason: "not found") }
                    m = try ScanClassifier.load(from: d)
                }
                let (train, val) = try LabeledImages.read(labels: URL(fileURLWithPath: l), size: m.config.inputSize)
                var data: LabeledImages
                switch split {
                case "train": data = train
                case "all": data = train; data.files += val.files; data.labels += val.labels; data.pixels += val.pixels
                default: data = val.count > 0 ? val : train
                }
                let e = try m.evaluate(data, threshold: threshold)
                out["image"] = ["count": e.count, "accuracy": e.accuracy, "auc": e.auc, "sensitivity": e.sensitivity,
                                "specificity": e.specificity, "ece": e.ece, "threshold": Double(e.threshold), "nll": e.nll]
                Log.info(String(format: "images: n=%d ACC %.4f AUC %.4f sens %.4f spec %.4f ECE %.4f", e.count, e.accuracy, e.auc, e.sensitivity, e.specificity, e.ece))
            }
            if let r = reports {
                guard let sub = ReportEvaluation.Subset(rawValue: subset) else { throw DiagnoseError.usage("--subset must be all, dev or test") }
                let ev = try ReportEvaluation.run(findingsCSV: URL(fileURLWithPath: r), subset: sub)
                var per: [String: Any] = [:]
                for (f, s) in ev.perFinding {
                    per[f] = ["precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.tp + s.fn]
                }
                out["reports"] = ["count": ev.reports, "macro_f1_main": ev.macroF1Main, "abnormal_f1": ev.abnormal.f1,
                                  "abnormal_precision": ev.abnormal.precision, "abnormal_recall": ev.abnormal.recall, "findings": per] as [String: Any]
                Log.info(String(format: "reports: n=%d macro-F1 (5 main) %.4f abnormal F1 %.4f", ev.reports, ev.macroF1Main, ev.abnormal.f1))
            }
            let d = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys, .withoutEscapingSlashes])
            emitLine(String(decoding: d, as: UTF8.self))
        } catch let e as DiagnoseError {
            Log.error("error: \(e)")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
