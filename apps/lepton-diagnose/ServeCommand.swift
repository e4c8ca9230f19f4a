import ArgumentParser
import Foundation
import Hummingbird
import LeptonCLI
import LeptonDiagnose
import LeptonEngine
import LeptonServer
import MultipartKit

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve study analyses over HTTP with the scan model loaded once.",
        discussion: """
        The scan model is loaded once and shared by every request.
          POST /v1/analyze   multipart/form-data: a part `scan` (PNG or DICOM)
              and/or a part `report` (XML or text), each with its filename
              -> the study as `analyze --format json` (?format=fhir|html as well)
              ?images=1   adds `images`: the scan as decoded and its Grad-CAM
                          colour layer (PNG data URLs, the scan's size)
          GET /              the radiology review page (a browser console)
          GET /healthz, /metrics, /openapi.json   (openapi/lepton-diagnose.json)
        The parts are written under their file names (the output's scan_file, report_file) \
        to a private temporary folder, removed after the answer; subject IDs are salted as \
        `analyze` salts them. Errors are JSON {"error": "..."}: 400 not a form, no part, \
        a scan or report that cannot be read; 401 no or wrong key (--api-key-file), 413 body \
        above --max-body-mb, 503 + Retry-After while loading or with --queue requests \
        waiting, 504 after --timeout.

        Runs until SIGTERM or Ctrl-C; `listening on http://HOST:PORT` says it is ready:
          $ lepton-diagnose serve --port 8080
          $ curl -s -F scan=@samples/diagnose/studies/case1.png \\
              -F report=@samples/diagnose/studies/case1.txt \\
              http://127.0.0.1:8080/v1/analyze
        """)

    @Option(name: .long, help: "Model folder (config.json + model.safetensors), an .npz state dict, or an ONNX scan classifier MODEL.onnx with MODEL.onnx.json beside it (default: the shipped model).")
    var model: String?

    @Option(name: .long, help: "Salt file for subject IDs (created with mode 0600 if missing).")
    var saltFile: String?

    @OptionGroup var serve: ServeOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var reading: ReportReaderOptions

    func run() throws {
        try runCommand("lepton-diagnose", common) {
            let modelPath = model, saltPath = saltFile, readerKind = reading.reportReader, readerModel = reading.reportModel
            let service = try ModelService<DiagnosePipeline>(program: "lepton-diagnose", options: serve, threads: common.threads)
            try service.run(models: ["scan"], load: {
                let privacy = try Privacy.site(saltFile: saltPath.map { URL(fileURLWithPath: $0) })
                let findingReader = try ReportReaderOptions.findingReader(reader: readerKind, model: readerModel)
                return DiagnosePipeline(model: try loadScanImageModel(modelOrShipped: modelPath), privacy: privacy, findingReader: findingReader)
            }, console: .radiologyReview) { router in
                router.post("/v1/analyze") { request, _ -> Response in
                    let format = request.uri.queryParameters["format"].map(String.init) ?? "json"
                    guard ["json", "fhir", "html"].contains(format) else {
                        throw ServiceError.badRequest("query parameter format must be json, fhir or html, got \(format)")
                    }
                    let images = try RequestInput.flag(request, "images")
                    if images && format != "json" { throw ServiceError.badRequest("images=1 goes with format=json only") }
                    let boundary = try formBoundary(request)
                    let body = try await service.body(request)
                    let study = try StudyParts(body, boundary: boundary)
                    let answer = try await service.work { pipeline in
                        try studyErrors {
                            try RequestInput.withTemporaryFiles(study.files) { urls in
                                let scan = study.scanIndex.map { urls[$0] }, report = study.reportIndex.map { urls[$0] }
                                let s = try pipeline.analyze(scan: scan, report: report, name: (scan ?? report)!.lastPathComponent)
                                switch format {
                                case "fhir": return s.fhirJSON()
                                case "html": return s.html()
                                default: return try s.jsonLine(images: images)
                                }
                            }
                        }
                    }
                    let type = ["fhir": "application/fhir+json", "html": "text/html; charset=utf-8"][format] ?? "application/json"
                    return .json(answer, contentType: type)
                }
            }
        }
    }
}

/// The boundary of a `multipart/form-data` request (400 for any other Content-Type).
private func formBoundary(_ request: Request) throws -> String {
    let type = request.headers[.contentType] ?? ""
    let fields = type.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
    guard fields.first?.lowercased() == "multipart/form-data" else {
        throw ServiceError.badRequest("Content-Type must be multipart/form-data with parts scan and/or report, got \(type.isEmpty ? "none" : type)")
    }
    for f in fields.dropFirst() where f.lowercased().hasPrefix("boundary=") {
        let value = f.dropFirst("boundary=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        if !value.isEmpty { return value }
    }
    throw ServiceError.badRequest("multipart/form-data without a boundary")
}

/// The `scan` and `report` parts of a form (parsed by MultipartKit), as files to write.
private struct StudyParts: Sendable {
    var files: [(name: String, bytes: ByteBuffer)] = []
    var scanIndex: Int?
    var reportIndex: Int?

    init(_ body: ByteBuffer, boundary: String) throws {
        let parser = MultipartParser(boundary: boundary)
        var parts: [MultipartPart] = []
        var headers = HTTPHeaders(), bytes = ByteBuffer()
        var complete = false
        parser.onHeader = { headers.add(name: $0, value: $1) }
        parser.onBody = { bytes.writeBuffer(&$0) }
        parser.onPartComplete = {
            parts.append(MultipartPart(headers: headers, body: bytes))
            headers = HTTPHeaders(); bytes = ByteBuffer()
            complete = true
        }
        do { try parser.execute(body) } catch {
            throw ServiceError.badRequest("malformed multipart/form-data body: \(error)")
        }
        guard complete else { throw ServiceError.badRequest("malformed multipart/form-data body: no complete part (is the boundary right?)") }
        for part in parts {
            guard let name = part.name, name == "scan" || name == "report" else {
                throw ServiceError.badRequest("unknown form part \(part.name.map { "\"\($0)\"" } ?? "without a name"): send scan and/or report")
            }
            guard (name == "scan" ? scanIndex : reportIndex) == nil else { throw ServiceError.badRequest("two \(name) parts: send one study") }
            let file = Self.fileName(part, fallback: name)
            if files.contains(where: { $0.name == file }) { throw ServiceError.badRequest("the scan and the report have the same file name \(file)") }
            if name == "scan" { scanIndex = files.count } else { reportIndex = files.count }
            files.append((file, part.body))
        }
        guard !files.isEmpty else { throw ServiceError.badRequest("no scan or report part") }
    }

    /// The part's file name, reduced to a safe base name (it names the temporary file and shows
    /// in the output as scan_file/report_file); `fallback` without one.
    static func fileName(_ part: MultipartPart, fallback: String) -> String {
        let disposition = part.headers.first(name: "Content-Disposition") ?? ""
        var raw = ""
        for field in disposition.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) })
        where field.lowercased().hasPrefix("filename=") {
            raw = field.dropFirst("filename=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        let base = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let safe = String(base.unicodeScalars.map { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) ? Character($0) : "_" })
        return safe.isEmpty || safe.allSatisfy({ $0 == "." }) ? fallback : String(safe.prefix(128))
    }
}

/// The one place diagnose errors become HTTP answers: a scan or report that cannot be read is 400
/// naming it (as its uploaded file name); a model problem passes on as a 500 without details.
private func studyErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ServiceError { throw e } catch let e as DiagnoseError {
        let message = e.description.replacingOccurrences(of: #"/[^ :]*/lepton-[A-Za-z0-9]{6}/"#, with: "", options: .regularExpression)
        switch e {
        case .badModel, .writeFailed, .saltFile: throw e
        default: throw ServiceError.badRequest(message)
        }
    }
}
