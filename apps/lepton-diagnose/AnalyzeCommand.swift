import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Analyse a scan and/or a report (or a folder of studies) and suggest findings for review.",
        discussion: """
        SCAN is a PNG or DICOM file, or a folder read with its subfolders. Files sharing a \
        folder and name stem form one study (case1.dcm + case1.xml); every study becomes one \
        JSON line with its `file`. A study that cannot be read is reported (a JSON line with \
        `error`, and on stderr) and the batch goes on; the exit status is then 3. A folder \
        without studies is an error (exit 1).

        Output never contains patient identifiers from DICOM headers or reports (names in report \
        text are scrubbed too); `subject_id` is a salted hash. The salt is $LEPTON_DIAGNOSE_SALT, \
        else the file of --salt-file, else $XDG_CONFIG_HOME/lepton/diagnose-salt \
        (~/.config/lepton/diagnose-salt), created with mode 0600 on first use: IDs are stable \
        per site. Every output names the image model (name, version, sha256 of its files).

        With --shard i/N (a folder, json or fhir) only the studies k (0-based, in the folder's \
        order) with k mod N = i are analysed, a line each; `lepton-diagnose merge` joins the N \
        outputs into exactly one run's output.

        Examples:
          lepton-diagnose analyze samples/diagnose/studies/case1.png --json
          lepton-diagnose analyze samples/diagnose/studies/case4.dcm \\
              --report samples/diagnose/studies/case4.txt \\
              --heatmap /tmp/cam.png --format html > /tmp/study.html
          lepton-diagnose analyze --report samples/diagnose/studies/case2.xml \\
              --format fhir
          lepton-diagnose analyze samples/diagnose   # exit 3: case5 is JPEG 2000
          lepton-diagnose analyze samples/diagnose/studies --shard 1/4
        """)

    @Argument(help: "A scan (PNG/DICOM) or a folder of studies.")
    var scan: String?

    @Option(name: .long, help: "Radiology report (Open-i XML, other XML with --section, or plain text).")
    var report: String?

    @Option(name: .long, help: "Model folder (config.json + model.safetensors) or an .npz state dict.")
    var model: String?

    @Option(name: .long, help: "Write the Grad-CAM overlay PNG here (single scan only).")
    var heatmap: String?

    @Option(name: .long, help: "json, fhir or html.")
    var format: String = "json"

    @Flag(name: .long, help: "JSON lines on stdout (the default; same as --format json).")
    var json = false

    @Option(name: .long, parsing: .singleValue, help: "XML section selector NAME=XPATH, any XPath 1.0 (repeatable; default: Open-i FINDINGS and IMPRESSION).")
    var section: [String] = []

    @Option(name: .long, help: "Salt file for subject IDs (created with mode 0600 if missing).")
    var saltFile: String?

    @OptionGroup var common: CommonOptions

    @OptionGroup var sharding: ShardOptions

    func validate() throws {
        guard ["json", "fhir", "html"].contains(format) else { throw ValidationError("--format must be json, fhir or html") }
        guard !(json && format != "json") else { throw ValidationError("--json and --format \(format) cannot be used together") }
        guard scan != nil || report != nil else { throw ValidationError("give a scan, a folder, or --report") }
    }

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            EngineThreads.set(common.threads)
            try diagnoseErrors {
                let reader = section.isEmpty ? ReportReader() : ReportReader(selectors: try ReportReader.parseSelectors(section))
                let privacy = try Privacy.site(saltFile: saltFile.map { URL(fileURLWithPath: $0) })
                var isDir: ObjCBool = false
                let scanIsFolder = scan.map { FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && isDir.boolValue } ?? false
                if scanIsFolder, heatmap != nil { throw CLIFailure.usage("--heatmap takes a single scan, not a folder") }
                if scanIsFolder, report != nil { throw CLIFailure.usage("--report takes a single study; in a folder, reports pair with scans by name") }
                let shard = try sharding.parsed()
                if shard != nil, !scanIsFolder { throw CLIFailure.usage("--shard takes a folder of studies, not a single study") }
                if shard != nil, format == "html" { throw CLIFailure.usage("--shard prints one line per study: use --format json or fhir") }
                let classifier = scan != nil ? try loadModel() : nil
                let pipeline = DiagnosePipeline(model: classifier, reader: reader, privacy: privacy)
                if scanIsFolder, let folder = scan {
                    try runBatch(folder: folder, pipeline: pipeline, shard: shard)
                    return
                }
                if heatmap != nil && scan == nil { throw CLIFailure.usage("--heatmap needs a scan") }
                let s = try pipeline.analyze(scan: scan.map { URL(fileURLWithPath: $0) }, report: report.map { URL(fileURLWithPath: $0) },
                                             name: scan ?? report ?? "")
                if let h = heatmap { try DiagnosePipeline.writeHeatmap(s, to: URL(fileURLWithPath: h)) }
                emitLine(render(s, batch: false))
            }
        }
    }

    func render(_ s: StudyAnalysis, batch: Bool) -> String {
        switch format {
        // One line per study in a batch; a single study's bundle is pretty-printed.
        case "fhir": return batch ? s.fhirJSON().split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined() : s.fhirJSON()
        case "html": return s.html()
        default: return s.jsonLine()
        }
    }

    func loadModel() throws -> ScanClassifier {
        if let m = model { return try ScanClassifier.load(from: URL(fileURLWithPath: m)) }
        guard let dir = ScanClassifier.defaultModelDirectory() else {
            throw DiagnoseError.badModel(path: "samples/diagnose/model", reason: "no --model given and the shipped model was not found (set LEPTON_DIAGNOSE_MODEL)")
        }
        Log.debug("model: \(dir.path)")
        return try ScanClassifier.load(from: dir)
    }

    func runBatch(folder: String, pipeline: DiagnosePipeline, shard: Shard?) throws {
        let all = try StudyFolder.studies(in: URL(fileURLWithPath: folder))
        let studies = shard?.select(all) ?? all
        var failures = 0
        // A line per step only for batches big enough to be worth watching.
        var progress = studies.count >= 20 ? ProgressReporter(label: "analyze", total: studies.count, unit: "studies") : nil
        for st in studies {
            let shown = (folder as NSString).appendingPathComponent(((st.scan ?? st.report)?.lastPathComponent).map {
                (st.stem as NSString).deletingLastPathComponent.isEmpty ? $0 : (st.stem as NSString).deletingLastPathComponent + "/" + $0
            } ?? st.stem)
            do {
                emitLine(render(try pipeline.analyze(scan: st.scan, report: st.report, name: shown), batch: true))
            } catch let e as DiagnoseError {
                failures += 1
                let message = relativePaths(e.description)
                Log.error(errorLine("lepton-diagnose", message))
                emitLine("{\"error\":\(jsonString(message)),\"file\":\(jsonString(shown))}")
            }
            progress?.advance()
        }
        progress?.finish()
        if failures > 0 { throw CLIFailure.partial("\(failures) of \(studies.count) studies failed") }
        Log.info("\(studies.count) studies analysed")
    }
}

/// Runs `body`, turning the library's usage errors into exit 64 and every other `DiagnoseError`
/// into a one-line failure (exit 1).
func diagnoseErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as DiagnoseError {
        if case let .usage(message) = e { throw CLIFailure.usage(relativePaths(message)) }
        throw CLIFailure.input(relativePaths(e.description))
    }
}

/// `message` with the current folder's prefix removed from paths, so errors name files as the user
/// gave them (`samples/x.dcm`, not `/home/…/samples/x.dcm`).
func relativePaths(_ message: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath
    return cwd.count > 1 ? message.replacingOccurrences(of: cwd + "/", with: "") : message
}
