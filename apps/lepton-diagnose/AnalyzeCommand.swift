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
        SCAN is a PNG or DICOM file, or a folder read with its subfolders. DICOM images form \
        studies by their StudyInstanceUID (taken from a DICOMDIR when one lists them), whatever \
        their names; other files sharing a folder and name stem form one study (case1.png + \
        case1.xml). A report pairs with a study by stem, or when named after its StudyInstanceUID \
        or AccessionNumber. A study of one image becomes one JSON line with its `file`; a study of \
        several gives a line per image (`"level":"image"`) and then one for the study \
        (`"level":"study"`: the report with the most suspicious image, `images`, `series`, \
        `images_flagged`). A file that cannot be read is reported (a JSON line with `error`, and \
        on stderr) and the batch goes on; the exit status is then 3. A folder without studies is \
        an error (exit 1).

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
          lepton-diagnose analyze samples/diagnose/studies/case1.png \\
              --report samples/diagnose/studies/case1.txt \\
              --heatmap /tmp/cam.png --format html > /tmp/study.html
          lepton-diagnose analyze samples/diagnose/studies/case4.dcm \\
              --report samples/diagnose/studies/case4.txt --json
          lepton-diagnose analyze --report samples/diagnose/studies/case2.xml \\
              --format fhir
          lepton-diagnose analyze samples/diagnose   # exit 3: case6 is not an image
          lepton-diagnose analyze samples/diagnose/studies --shard 0/4
          lepton-diagnose analyze samples/diagnose -o /tmp/studies \\
              --format html   # exit 3: case6 is not an image
          lepton-diagnose analyze samples/diagnose/studies/case4.dcm --frame 1
          lepton-diagnose analyze --report samples/diagnose/studies/case2.xml \\
              --report-reader transformer --report-model /tmp/report-model --json

        Report findings come from --report-reader: the NegEx-style rules, the MiniLM mention \
        classifier (transformer, with a head from `train-reports`, e.g. its example's \
        /tmp/report-model) or both combined; the default is the reader the head's validation \
        chose, and the rules when there is no head (none is shipped). Every output names the reader and, unless the \
        rules, its model (name, version, sha256): `report.reader` and `report.model` in JSON.

        An ONNX model exported from PyTorch (image in, logits out) runs with --model MODEL.onnx; \
        MODEL.onnx.json beside it says how to feed it: {"labels": ["normal", "pneumonia"], \
        "input_size": [H, W], "channels": 1, "mean": 0.5, "std": 0.5} (pixels to 0-1, resized to \
        H x W, then (x - mean) / std; labels[1] is the abnormal class). Grad-CAM uses the output of \
        the graph's last Conv. Sources/LeptonONNX/README.md lists the operators.
        """)

    @Argument(help: "A scan (PNG/DICOM) or a folder of studies.")
    var scan: String?

    @Option(name: .long, help: "Radiology report (Open-i XML, other XML with --section, or plain text).")
    var report: String?

    @Option(name: .long, help: "Model folder (config.json + model.safetensors), an .npz state dict, or an ONNX scan classifier MODEL.onnx with MODEL.onnx.json beside it (labels, input_size, channels, mean, std).")
    var model: String?

    @Option(name: .long, help: "Write the Grad-CAM overlay PNG here (single scan only).")
    var heatmap: String?

    @Option(name: [.customShort("o"), .customLong("out-dir")],
            help: "Write one file per result (by --format), each assessed scan's Grad-CAM overlay and an index.html into this folder; stdout gets the index's path.")
    var outDir: String?

    @Option(name: .long, help: "Frame of a multi-frame DICOM scan to analyse, counted from 1 (default 1, the first). A frame the file does not have is an error (exit 1). Single scan only.")
    var frame: Int?

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

    @OptionGroup var reading: ReportReaderOptions

    func validate() throws {
        guard ["json", "fhir", "html"].contains(format) else { throw ValidationError("--format must be json, fhir or html") }
        guard !(json && format != "json") else { throw ValidationError("--json and --format \(format) cannot be used together") }
        guard scan != nil || report != nil else { throw ValidationError("give a scan, a folder, or --report") }
        if let f = frame, f < 1 { throw ValidationError("--frame counts from 1 (got \(f))") }
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
                if scanIsFolder, frame != nil { throw CLIFailure.usage("--frame takes a single scan; in a folder every image is analysed at its first frame") }
                if scan == nil, frame != nil { throw CLIFailure.usage("--frame needs a scan") }
                if scanIsFolder, report != nil { throw CLIFailure.usage("--report takes a single study; in a folder, reports pair with scans by name") }
                let shard = try sharding.parsed()
                if shard != nil, !scanIsFolder { throw CLIFailure.usage("--shard takes a folder of studies, not a single study") }
                if shard != nil, format == "html", outDir == nil { throw CLIFailure.usage("--shard prints one line per study: use --format json or fhir, or -o DIR") }
                if outDir != nil, heatmap != nil { throw CLIFailure.usage("-o DIR writes every overlay itself: leave out --heatmap") }
                let classifier = scan != nil ? try loadModel() : nil
                // The report reader's model (MiniLM) is loaded only when there may be a report to read.
                let findingReader = report != nil || scanIsFolder ? try reading.findingReader() : .rules
                let pipeline = DiagnosePipeline(model: classifier, reader: reader, privacy: privacy, findingReader: findingReader)
                if scanIsFolder, let folder = scan {
                    try runBatch(folder: folder, pipeline: pipeline, shard: shard)
                    return
                }
                if heatmap != nil && scan == nil { throw CLIFailure.usage("--heatmap needs a scan") }
                let s = try pipeline.analyze(scan: scan.map { URL(fileURLWithPath: $0) }, report: report.map { URL(fileURLWithPath: $0) },
                                             name: scan ?? report ?? "", frame: (frame ?? 1) - 1)
                if let dir = outDir {
                    var folder = try StudyOutputFolder(dir: URL(fileURLWithPath: dir), format: format)
                    try folder.write(s, result: .analysis(s, level: "single", extra: [:]), level: "single", extra: [:])
                    emitLine(try folder.finish().path)
                    return
                }
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

    func loadModel() throws -> any ScanImageModel {
        try loadScanImageModel(modelOrShipped: model)
    }

    func runBatch(folder: String, pipeline: DiagnosePipeline, shard: Shard?) throws {
        let all = try StudyFolder.studies(in: URL(fileURLWithPath: folder)) { Log.error(errorLine("lepton-diagnose", relativePaths($0))) }
        let studies = shard?.select(all) ?? all
        var failures = 0
        var written = try outDir.map { try StudyOutputFolder(dir: URL(fileURLWithPath: $0), format: format) }
        // A line per step only for batches big enough to be worth watching.
        var progress = studies.count >= 20 ? ProgressReporter(label: "analyze", total: studies.count, unit: "studies") : nil
        for st in studies {
            func shown(_ url: URL) -> String {
                var rel = url.standardizedFileURL.path
                let base = URL(fileURLWithPath: folder).standardizedFileURL.path
                if rel.hasPrefix(base + "/") { rel = String(rel.dropFirst(base.count + 1)) }
                return (folder as NSString).appendingPathComponent(rel)
            }
            let name = st.images.count > 1 ? (folder as NSString).appendingPathComponent(st.name) : (st.scan ?? st.report).map(shown) ?? st.stem
            var studyFailed = false
            for result in pipeline.analyze(study: st, name: name, shown: shown) {
                switch result {
                case let .analysis(s, level, extra):
                    if written != nil { try written!.write(s, result: result, level: level, extra: extra); continue }
                    if format == "fhir" {
                        let bundle = s.fhirJSON(images: (extra["images_analysed"] as? Int) ?? 1)
                        emitLine(bundle.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined())
                    } else {
                        emitLine(format == "json" ? result.jsonLine() : render(s, batch: true))
                    }
                case let .failure(file, message):
                    studyFailed = true
                    let text = relativePaths(message)
                    Log.error(errorLine("lepton-diagnose", text))
                    if written != nil { written!.failure(file: file, message: text); continue }
                    // In a FHIR batch the failed study's place holds an OperationOutcome resource.
                    emitLine(format == "fhir" ? StudyAnalysis.fhirOutcome(file: file, error: text)
                                              : "{\"error\":\(jsonString(text)),\"file\":\(jsonString(file))}")
                }
            }
            if studyFailed { failures += 1 }
            progress?.advance()
        }
        progress?.finish()
        if let written { emitLine(try written.finish().path) }
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
