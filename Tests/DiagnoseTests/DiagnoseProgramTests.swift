import Foundation
import XCTest
import LeptonDiagnose

/// The built `lepton-diagnose` as a user runs it: exit codes, one-line errors, JSON, stable IDs,
/// the model named in the output.
final class DiagnoseProgramTests: XCTestCase {
    struct Run { var status: Int32; var stdout: String; var stderr: String }

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-prog-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Runs the program from the repository root with its own config folder (for the salt file).
    func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Run {
        let exe = DiagnoseFixtures.program
        guard FileManager.default.isExecutableFile(atPath: exe.path) else { throw XCTSkip("lepton-diagnose is not built at \(exe.path)") }
        let p = Process()
        p.executableURL = exe
        p.arguments = arguments
        p.currentDirectoryURL = DiagnoseFixtures.repo
        var env = ProcessInfo.processInfo.environment
        env["LEPTON_DIAGNOSE_SALT"] = nil
        env["XDG_CONFIG_HOME"] = dir.appendingPathComponent("config").path
        p.environment = env.merging(extra) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return Run(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    func assertOneLineError(_ r: Run, status: Int32, contains: String, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.stderr, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("lepton-diagnose: error: ") && r.stderr.contains(contains), r.stderr, line: line)
    }

    /// `--frame N` (1-based) picks a frame of a multi-frame file: case4.dcm made two-frame with the
    /// second frame inverted gives another probability; the first is the default; a missing frame
    /// is exit 1 with a one-line error, frame 0 a usage error.
    func testFrameOption() throws {
        var b = [UInt8](try Data(contentsOf: DiagnoseFixtures.samples.appendingPathComponent("studies/case4.dcm")))
        let pixelTag: [UInt8] = [0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x57, 0, 0]  // (7FE0,0010) OW
        let at = try XCTUnwrap((0..<b.count - 8).last { Array(b[$0..<$0 + 8]) == pixelTag })
        let length = Int(b[at + 8]) | Int(b[at + 9]) << 8 | Int(b[at + 10]) << 16 | Int(b[at + 11]) << 24
        XCTAssertEqual(at + 12 + length, b.count)
        // Frame 2: each 12-bit stored value v becomes 4095 - v.
        var second: [UInt8] = []
        for i in stride(from: at + 12, to: b.count, by: 2) {
            let v = 4095 - (Int(b[i]) | Int(b[i + 1]) << 8) & 0x0FFF
            second += [UInt8(v & 0xFF), UInt8(v >> 8)]
        }
        b += second
        let doubled = 2 * length
        b.replaceSubrange(at + 8..<at + 12, with: [UInt8(doubled & 0xFF), UInt8(doubled >> 8 & 0xFF), UInt8(doubled >> 16 & 0xFF), UInt8(doubled >> 24)])
        let rowsTag: [UInt8] = [0x28, 0x00, 0x10, 0x00, 0x55, 0x53]  // (0028,0010) US
        let rows = try XCTUnwrap((0..<b.count - 6).first { Array(b[$0..<$0 + 6]) == rowsTag })
        b.insert(contentsOf: [0x28, 0x00, 0x08, 0x00, 0x49, 0x53, 2, 0, 0x32, 0x20], at: rows)  // NumberOfFrames IS "2 "
        let file = dir.appendingPathComponent("two-frames.dcm")
        try Data(b).write(to: file)
        // The file is a cervical-spine radiograph, which the gate refuses: the image check's
        // distance (computed for every frame read) tells the frames apart.
        func probabilities(_ r: Run) throws -> Double {
            XCTAssertEqual(r.status, 0, r.stderr)
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try XCTUnwrap(((o["image"] as? [String: Any])?["gate"] as? [String: Any])?["distance"] as? Double, r.stdout)
        }
        let byDefault = try run(["analyze", file.path, "--json"])
        let first = try run(["analyze", file.path, "--json", "--frame", "1"])
        let second2 = try run(["analyze", file.path, "--json", "--frame", "2"])
        XCTAssertEqual(byDefault.stdout, first.stdout)
        XCTAssertNotEqual(try probabilities(first), try probabilities(second2), "frame 2 is another image")
        assertOneLineError(try run(["analyze", file.path, "--frame", "3"]), status: 1, contains: "frame 3 does not exist; the file has 2 frames")
        assertOneLineError(try run(["analyze", "samples/diagnose/studies/case1.png", "--frame", "2"]), status: 1, contains: "frame 2 does not exist")
        XCTAssertEqual(try run(["analyze", file.path, "--frame", "0"]).status, 64)
    }

    /// A folder holding one NM series of two images (under unrelated names) and a report named after
    /// the study's UID: a line per image, then one for the study with the report read.
    func testSeriesGivesOneLinePerImageAndOnePerStudy() throws {
        let folder = dir.appendingPathComponent("pacs")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("s"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: DiagnoseFixtures.dicom.appendingPathComponent("JPGExtended.dcm"), to: folder.appendingPathComponent("s/a"))
        try FileManager.default.copyItem(at: DiagnoseFixtures.dicom.appendingPathComponent("JPEG2000.dcm"), to: folder.appendingPathComponent("s/b"))
        // StudyInstanceUID of both files as DCMTK's dcmdump prints it.
        try "Mild cardiomegaly. No pneumothorax.".write(to: folder.appendingPathComponent("1.3.6.1.4.1.5962.1.2.8.20040826185059.5457.txt"),
                                                       atomically: true, encoding: .utf8)
        let r = try run(["analyze", folder.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(lines.count, 3, r.stdout)
        XCTAssertEqual(lines.map { $0["level"] as? String }, ["image", "image", "study"])
        XCTAssertEqual(lines.prefix(2).map { ($0["file"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent } }, ["b", "a"], "instance 3 before 5")
        XCTAssertEqual(lines[2]["images"] as? Int, 2)
        XCTAssertEqual(lines[2]["series"] as? Int, 1)
        XCTAssertNotNil(lines[2]["report"], "the study line reads the report: \(lines[2].keys.sorted())")
        XCTAssertNil(lines[0]["report"])
    }

    /// The help's folder example reads studies/ below it: five studies and one reported failure, exit 3.
    func testFolderBatchIsRecursiveAndPartial() throws {
        let r = try run(["analyze", "samples/diagnose", "--json"])
        XCTAssertEqual(r.status, 3, r.stderr)
        let lines = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines.filter { $0["error"] != nil }.compactMap { $0["file"] as? String }, ["samples/diagnose/studies/case6.dcm"])
        XCTAssertTrue(r.stderr.contains("lepton-diagnose: error: 1 of 6 studies failed"), r.stderr)
        XCTAssertFalse(r.stderr.contains(DiagnoseFixtures.repo.path), "paths as given: \(r.stderr)")
        // An empty folder is an error, not "0 studies".
        let empty = dir.appendingPathComponent("empty/sub")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        assertOneLineError(try run(["analyze", empty.deletingLastPathComponent().path]), status: 1, contains: "no studies")
    }

    /// One scan with a NaN window in a folder fails alone; the good study still comes out.
    func testNonFiniteDICOMFailsOnlyItsStudy() throws {
        var bytes = [UInt8](try Data(contentsOf: DiagnoseFixtures.samples.appendingPathComponent("studies/case4.dcm")))
        let tag: [UInt8] = [0x28, 0x00, 0x51, 0x10, 0x44, 0x53]  // (0028,1051) WindowWidth, DS
        let at = try XCTUnwrap((0..<(bytes.count - 8)).first { Array(bytes[$0..<$0 + 6]) == tag })
        let length = Int(bytes[at + 6]) | Int(bytes[at + 7]) << 8
        bytes.replaceSubrange((at + 8)..<(at + 8 + length), with: Array("inf".utf8) + [UInt8](repeating: 0x20, count: length - 3))
        let batch = dir.appendingPathComponent("batch")
        try FileManager.default.createDirectory(at: batch, withIntermediateDirectories: true)
        try Data(bytes).write(to: batch.appendingPathComponent("bad.dcm"))
        try FileManager.default.copyItem(at: DiagnoseFixtures.samples.appendingPathComponent("studies/case1.png"), to: batch.appendingPathComponent("good.png"))
        let r = try run(["analyze", batch.path])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"predicted\""), "the good study is analysed: \(r.stdout)")
        XCTAssertTrue(r.stderr.contains("WindowWidth"), r.stderr)
    }

    func testBadInputsAreOneLineErrorsWithDocumentedCodes() throws {
        let zero = dir.appendingPathComponent("zero.txt")
        try Data().write(to: zero)
        assertOneLineError(try run(["analyze", "--report", zero.path]), status: 1, contains: "report has no text")
        let header = dir.appendingPathComponent("findings.csv")
        try "file,label,effusion\n".write(to: header, atomically: true, encoding: .utf8)
        assertOneLineError(try run(["evaluate", "--reports", header.path]), status: 1, contains: "no report rows")
        try FileManager.default.copyItem(at: DiagnoseFixtures.samples.appendingPathComponent("studies/case1.png"), to: dir.appendingPathComponent("a.png"))
        let labels = dir.appendingPathComponent("labels.csv")
        try "file,label\nval/a.png,7\n".write(to: labels, atomically: true, encoding: .utf8)
        assertOneLineError(try run(["evaluate", "--labels", labels.path]), status: 1, contains: "label 7")
        // Usage errors exit 64.
        XCTAssertEqual(try run(["analyze", "--format", "xml", "x.png"]).status, 64)
        XCTAssertEqual(try run(["evaluate", "--reports", header.path, "--subset", "odd"]).status, 64)
        XCTAssertEqual(try run(["analyze", "--seed", "1", "x.png"]).status, 64, "--seed only on train")
    }

    /// Two runs give the same subject_id through the salt file created on the first (mode 0600);
    /// the JSON names the model by the SHA-256 of its files, computed here by python's hashlib.
    func testStableSubjectIDAndModelIdentity() throws {
        let scan = "samples/diagnose/studies/case4.dcm"
        func object(_ r: Run) throws -> [String: Any] {
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }
        let a = try object(run(["analyze", scan, "--json"])), b = try object(run(["analyze", scan]))
        XCTAssertEqual(a["subject_id"] as? String, b["subject_id"] as? String)
        let salt = dir.appendingPathComponent("config/lepton/diagnose-salt")
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: salt.path)[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertNotEqual(try object(run(["analyze", scan], environment: ["LEPTON_DIAGNOSE_SALT": "other"]))["subject_id"] as? String,
                          a["subject_id"] as? String)

        let model = DiagnoseFixtures.samples.appendingPathComponent("model")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import hashlib,sys; h=hashlib.sha256(); [h.update(open(f,'rb').read()) for f in sys.argv[1:]]; print(h.hexdigest()[:12])",
                       model.appendingPathComponent("config.json").path, model.appendingPathComponent("model.safetensors").path]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw XCTSkip("python3 is not available") }
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        p.waitUntilExit()
        let m = try XCTUnwrap(a["model"] as? [String: String])
        XCTAssertEqual(m, ["name": "lepton-scan-cnn", "version": "1.1", "sha256": expected])
        XCTAssertTrue(try run(["analyze", scan, "--format", "fhir"]).stdout.contains(expected))
        XCTAssertTrue(try run(["analyze", scan, "--format", "html"]).stdout.contains("sha256 \(expected)"))
        // evaluate --json: snake_case keys and the model.
        let csv = dir.appendingPathComponent("labels.csv")
        try FileManager.default.copyItem(at: DiagnoseFixtures.samples.appendingPathComponent("studies/case1.png"), to: dir.appendingPathComponent("p.png"))
        try FileManager.default.copyItem(at: DiagnoseFixtures.samples.appendingPathComponent("studies/case2.png"), to: dir.appendingPathComponent("n.png"))
        try "file,label\np.png,1\nn.png,0\n".write(to: csv, atomically: true, encoding: .utf8)
        let ev = try object(run(["evaluate", "--labels", csv.path, "--split", "all", "--json"]))
        XCTAssertEqual((ev["model"] as? [String: String])?["sha256"], expected)
        XCTAssertEqual((ev["image"] as? [String: Any])?["count"] as? Int, 2)
    }
}
