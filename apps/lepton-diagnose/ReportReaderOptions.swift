import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

/// `--report-reader` and `--report-model`: which reader decides a report's findings, on every
/// command that reads reports (analyze, evaluate, serve).
struct ReportReaderOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Who decides report findings: rules (NegEx-style lexicon), transformer (MiniLM mention classifier) or combined (both, mixed as validation chose). Default: the report model's choice on validation; the rules when no report model is found.",
        valueName: "rules|transformer|combined"))
    var reportReader: String?

    @Option(name: .long, help: ArgumentHelp(
        "Report reader model folder (report-reader.json + report-reader.safetensors, from train-reports; default: $LEPTON_MODELS/report-reader, where a deployment puts its own; none is shipped). Needs the MiniLM encoder from scripts/bootstrap.sh.",
        valueName: "dir"))
    var reportModel: String?

    func validate() throws {
        if let r = reportReader, ReportReaderKind(rawValue: r) == nil {
            throw ValidationError("--report-reader must be rules, transformer or combined, got '\(r)'")
        }
    }

    /// The reader the options ask for. An explicit transformer or combined reader, or an explicit
    /// --report-model, whose model (or MiniLM encoder) cannot be loaded is an error naming the
    /// file; without either, a shipped model that is missing or unusable means the rules (said on
    /// stderr, and every output names the reader).
    func findingReader() throws -> FindingReader {
        try Self.findingReader(reader: reportReader, model: reportModel)
    }

    /// ``findingReader()`` from the two options' values (for a closure that must not capture the options).
    static func findingReader(reader: String?, model: String?) throws -> FindingReader {
        let kind = reader.flatMap(ReportReaderKind.init(rawValue:))
        if kind == .rules { return .rules }
        guard let folder = model.map({ URL(fileURLWithPath: $0) }) ?? TransformerFindingModel.defaultFolder() else {
            if kind != nil {
                throw DiagnoseError.badModel(path: ModelCache.root.appendingPathComponent("report-reader/\(TransformerFindingConfig.fileName)").path,
                                             reason: "no report reader model found (give --report-model DIR, or train one with lepton-diagnose train-reports)")
            }
            Log.debug("no report reader head found (none is shipped; train-reports makes one): report findings by the rules")
            return .rules
        }
        do {
            return FindingReader(model: try TransformerFindingModel(folder: folder), kind: kind)
        } catch where kind == nil && model == nil {
            // Nothing was asked for: the shipped default is not usable here (e.g. no MiniLM encoder).
            Log.info("report reader model not usable (\(error)): report findings by the rules")
            return .rules
        }
    }
}
