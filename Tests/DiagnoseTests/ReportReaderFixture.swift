import Foundation
import XCTest

/// A report reader head for the tests: no head is shipped (the IU labels it is fitted on may be
/// used as test data only), so the tests train one with the built `lepton-diagnose train-reports`
/// on the train part of samples/diagnose/report-split.csv (~40 s) and keep it in the cache.
enum ReportReaderFixture {
    static let folder = FileManager.default.homeDirectoryForCurrentUser
        .appendingPathComponent(".cache/lepton/fixtures/report-reader")

    /// The trained head's folder, training it first when it is missing.
    static func trained() throws -> URL {
        let files = ["report-reader.json", "report-reader.safetensors"].map { folder.appendingPathComponent($0).path }
        if files.allSatisfy(FileManager.default.fileExists(atPath:)) { return folder }
        let exe = DiagnoseFixtures.program
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            XCTFail("lepton-diagnose is not built at \(exe.path): the report reader head is trained with it")
            throw XCTSkip("no lepton-diagnose")
        }
        let staging = folder.deletingLastPathComponent().appendingPathComponent("report-reader.\(getpid())")
        try? FileManager.default.removeItem(at: staging)
        let p = Process()
        p.executableURL = exe
        p.arguments = ["train-reports", "--out", staging.path, "-q",
                       "--reports", DiagnoseFixtures.iu.appendingPathComponent("findings.csv").path,
                       "--split", DiagnoseFixtures.samples.appendingPathComponent("report-split.csv").path]
        p.currentDirectoryURL = DiagnoseFixtures.repo
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            XCTFail("train-reports failed (\(p.terminationStatus)): \(message)")
            throw XCTSkip("no report reader head")
        }
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.moveItem(at: staging, to: folder)
        return folder
    }
}
