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
        SCAN is a PNG or DICOM file, or a folder. In a folder, files sharing a name stem form one \
        study (e.g. case1.dcm + case1.xml); every study becomes one JSON line with its `file`. A \
        file that cannot be read is reported (a JSON line with `error`, and on stderr) and the \
        batch goes on; the exit status is then 3 (partial).

        Output never contains patient identifiers from DICOM headers or reports; `subject_id` is a \
        salted hash (salt from $LEPTON_DIAGNOSE_SALT, random per run when unset).

        Examples:
          lepton-diagnose analyze scan.png
          lepton-diagnose analyze scan.dcm --report report.xml --heatmap cam.png \\
              --format html > study.html
          lepton-diagnose analyze --report report.txt --format fhir
          lepton-diagnose analyze samples/diagnose
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

    @Option(name: .long, parsing: .singleValue, help: "XML section selector NAME=XPATH, any XPath 1.0 (repeatable; default: Open-i FINDINGS and IMPRESSION).")
    var section: [String] = []

    @OptionGroup var common: CommonOptions

    func run() throws {
        Log.level = common.logLevel
        EngineThreads.set(common.threads)
        guard ["json", "fhir", "html"].contains(format) else {
            Log.error("error: --format must be json, fhir or html"); throw ExitCode(ExitStatus.usage)
        }
        guard scan != nil || report != nil else {
            Log.error("error: give a scan, a folder, or --report"); throw ExitCode(ExitStatus.usage)
        }
        do {
            let reader = section.isEmpty ? ReportReader() : ReportReader(selectors: try ReportReader.parseSelectors(section))
            var isDir: ObjCBool = false
            let scanIsFolder = scan.map { FileManager.default.fileExists(atPath: $0, isDirectory: &isDir) && isDir.boolValue } ?? false
            let needModel = scan != nil
            let classifier = needModel ? try loadModel() : nil
            let pipeline = DiagnosePipeline(model: classifier, reader: reader)
            if scanIsFolder, let folder = scan {
                try runBatch(folder: folder, pipeline: pipeline)
                return
            }
            let s = try pipeline.analyze(scan: scan.map { URL(fileURLWithPath: $0) }, report: report.map { URL(fileURLWithPath: $0) },
                                         name: scan ?? report ?? "")
            if let h = heatmap { try DiagnosePipeline.writeHeatmap(s, to: URL(fileURLWithPath: h)) }
            switch format {
            case "fhir": emitLine(s.fhirJSON())
            case "html": emitLine(s.html())
            default: emitLine(s.jsonLine())
            }
        } catch let e as DiagnoseError {
            Log.error("error: \(e)")
            throw ExitCode(ExitStatus.failure)
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

    func runBatch(folder: String, pipeline: DiagnosePipeline) throws {
        let dir = URL(fileURLWithPath: folder)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        let scanExt: Set<String> = ["png", "dcm", "dicom"], reportExt: Set<String> = ["xml", "txt"]
        var studies: [String: (scan: String?, report: String?)] = [:]
        var order: [String] = []
        for n in names {
            let ext = (n as NSString).pathExtension.lowercased(), stem = (n as NSString).deletingPathExtension
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: dir.appendingPathComponent(n).path, isDirectory: &isDir)
            if isDir.boolValue { continue }
            guard scanExt.contains(ext) || reportExt.contains(ext) || ext.isEmpty else { continue }
            if studies[stem] == nil { order.append(stem); studies[stem] = (nil, nil) }
            if reportExt.contains(ext) { studies[stem]!.report = n } else { studies[stem]!.scan = n }
        }
        var failures = 0
        for stem in order {
            guard let st = studies[stem] else { continue }
            let shown = (folder as NSString).appendingPathComponent(st.scan ?? st.report ?? stem)
            do {
                let s = try pipeline.analyze(scan: st.scan.map { dir.appendingPathComponent($0) },
                                             report: st.report.map { dir.appendingPathComponent($0) }, name: shown)
                switch format {
                case "fhir": emitLine(s.fhirJSON().replacingOccurrences(of: "\n", with: ""))
                case "html": emitLine(s.html())
                default: emitLine(s.jsonLine())
                }
            } catch let e as DiagnoseError {
                failures += 1
                Log.error("error: \(e)")
                let obj: [String: Any] = ["file": shown, "error": "\(e)"]
                if let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes]) {
                    emitLine(String(decoding: d, as: UTF8.self))
                }
            }
        }
        Log.info("\(order.count) studies, \(failures) failed")
        if failures > 0 { throw ExitCode(ExitStatus.partial) }
    }
}
