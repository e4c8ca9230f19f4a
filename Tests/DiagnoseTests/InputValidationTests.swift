import Foundation
import XCTest
@testable import LeptonDiagnose
import LeptonImage

/// Inputs that used to give a silent wrong result: empty reports, empty or out-of-range label files,
/// folders whose studies sit in subfolders, and DICOM headers with non-finite numbers.
final class InputValidationTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-input-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url
    }

    func assertEmptyReport(_ body: @autoclosure () throws -> Any, _ what: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), what, line: line) { e in
            guard case DiagnoseError.emptyReport = e else { return XCTFail("\(what): \(e)", line: line) }
            XCTAssertFalse("\(e)".contains("\n"), line: line)
        }
    }

    /// A zero-byte, blank, metadata-only or section-less report is an error for that study, not
    /// "the report states no pneumonia".
    func testEmptyReportsAreErrors() throws {
        let pipeline = DiagnosePipeline(model: nil, privacy: Privacy(salt: "s"))
        for (name, text) in [("zero.txt", ""), ("blank.txt", " \n\t\n  "), ("meta.txt", "PATIENT: Doe^John\nMRN: 1234\n"),
                             ("empty.xml", "<eCitation><AbstractText Label=\"FINDINGS\">  </AbstractText></eCitation>")] {
            let url = try write(text, name)
            assertEmptyReport(try ReportReader().read(url), name)
            assertEmptyReport(try pipeline.analyze(scan: nil, report: url, name: name), name)
        }
        // A one-line report still reads.
        let ok = try write("No pneumothorax.", "ok.txt")
        XCTAssertEqual(try pipeline.analyze(scan: nil, report: ok, name: "ok.txt").reportAbnormal, false)
    }

    /// The report evaluation refuses an empty selection and labels outside a binary task.
    func testReportEvaluationRejectsNoRowsAndNonBinaryLabels() throws {
        _ = try write("FINDINGS: Small right pleural effusion.", "reports/0001.xml.txt")
        let header = "file,label,has_text,n_images,cardiomegaly,effusion\n"
        let empty = try write(header, "none.csv")
        XCTAssertThrowsError(try ReportEvaluation.run(findingsCSV: empty)) { XCTAssertTrue("\($0)".contains("no report rows"), "\($0)") }
        // Only odd report numbers: the dev subset (even) is empty.
        let odd = try write(header + "reports/0001.xml.txt,abnormal,1,1,0,1\n", "odd.csv")
        XCTAssertEqual(try ReportEvaluation.run(findingsCSV: odd, subset: .test).reports, 1)
        XCTAssertThrowsError(try ReportEvaluation.run(findingsCSV: odd, subset: .dev))
        let seven = try write(header + "reports/0001.xml.txt,abnormal,1,1,0,7\n", "seven.csv")
        XCTAssertThrowsError(try ReportEvaluation.run(findingsCSV: seven)) { e in
            XCTAssertTrue("\(e)".contains("seven.csv:2") && "\(e)".contains("effusion"), "\(e)")
        }
        let badLabel = try write(header + "reports/0001.xml.txt,7,1,1,0,1\n", "label.csv")
        XCTAssertThrowsError(try ReportEvaluation.run(findingsCSV: badLabel)) { XCTAssertTrue("\($0)".contains("label.csv:2"), "\($0)") }
    }

    /// Image labels: a 7 in a binary task and a file without rows are errors naming file and line.
    func testImageLabelsRejectOutOfRangeAndEmpty() throws {
        let png = DiagnoseFixtures.samples.appendingPathComponent("studies/case1.png")
        try FileManager.default.copyItem(at: png, to: dir.appendingPathComponent("a.png"))
        XCTAssertEqual(try LabeledImages.read(labels: write("file,label\na.png,1\n", "ok.csv"), size: 28, classes: 2).train.count, 1)
        XCTAssertThrowsError(try LabeledImages.read(labels: write("file,label\na.png,1\na.png,7\n", "seven.csv"), size: 28, classes: 2)) { e in
            XCTAssertTrue("\(e)".contains("seven.csv:3") && "\(e)".contains("label 7"), "\(e)")
        }
        XCTAssertThrowsError(try LabeledImages.read(labels: write("file,label\na.png,-1\n", "neg.csv"), size: 28, classes: 2))
        XCTAssertThrowsError(try LabeledImages.read(labels: write("file,label\n", "empty.csv"), size: 28, classes: 2)) { e in
            XCTAssertTrue("\(e)".contains("no file,label rows"), "\(e)")
        }
    }

    /// Studies in subfolders are found (samples/diagnose keeps them in studies/), pairs are made per
    /// folder, and a folder with no study is an error.
    func testFoldersAreReadRecursively() throws {
        let found = try StudyFolder.studies(in: DiagnoseFixtures.samples)
        XCTAssertEqual(found.map(\.stem), ["studies/case1", "studies/case2", "studies/case3", "studies/case4", "studies/case5", "studies/case6"])
        XCTAssertEqual(found[0].scan?.lastPathComponent, "case1.png")
        XCTAssertEqual(found[0].report?.lastPathComponent, "case1.txt")
        XCTAssertNil(found[4].report)
        _ = try write("No effusion.", "x/a.txt")
        _ = try write("No effusion.", "y/a.txt")
        _ = try write("hidden", ".git/b.txt")
        XCTAssertEqual(try StudyFolder.studies(in: dir).map(\.stem), ["x/a", "y/a"])
        let empty = dir.appendingPathComponent("empty/sub")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        _ = try write("{}", "empty/sub/notes.json")
        XCTAssertThrowsError(try StudyFolder.studies(in: dir.appendingPathComponent("empty"))) { e in
            guard case DiagnoseError.emptyFolder = e else { return XCTFail("\(e)") }
        }
    }

    /// A DICOM scan whose WindowCenter is NaN is a per-study error (the batch goes on), not a trap.
    func testNonFiniteDICOMHeaderIsAStudyError() throws {
        var bytes = [UInt8](try Data(contentsOf: DiagnoseFixtures.samples.appendingPathComponent("studies/case4.dcm")))
        // Overwrite the value of (0028,1050) WindowCenter in place with "NaN" padded to its length.
        let tag: [UInt8] = [0x28, 0x00, 0x50, 0x10, 0x44, 0x53]  // (0028,1050) DS, explicit VR little endian
        guard let at = (0..<(bytes.count - 8)).first(where: { Array(bytes[$0..<$0 + 6]) == tag }) else {
            return XCTFail("case4.dcm has no WindowCenter")
        }
        let length = Int(bytes[at + 6]) | Int(bytes[at + 7]) << 8
        let value = Array("NaN".utf8) + [UInt8](repeating: 0x20, count: length - 3)
        bytes.replaceSubrange((at + 8)..<(at + 8 + length), with: value)
        let scan = dir.appendingPathComponent("nan.dcm")
        try Data(bytes).write(to: scan)
        let model = try ScanClassifier.load(from: DiagnoseFixtures.samples.appendingPathComponent("model"))
        XCTAssertThrowsError(try DiagnosePipeline(model: model, privacy: Privacy(salt: "s")).analyze(scan: scan, report: nil, name: "nan.dcm")) { e in
            guard case let DiagnoseError.badScan(file, reason) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(file, scan.path)
            XCTAssertTrue(reason.contains("WindowCenter"), reason)
        }
    }
}
