import Foundation
import XCTest
import LeptonDiagnose

/// Folders grouped into studies by Study/Series Instance UID and by DICOMDIR, built in a temporary
/// folder from the shared DICOM files. The UIDs quoted here are those DCMTK's dcmdump prints.
final class StudyFolderGroupingTests: XCTestCase {
    var dir: URL!
    let fm = FileManager.default

    override func setUpWithError() throws {
        dir = fm.temporaryDirectory.appendingPathComponent("lepton-folders-\(getpid())-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? fm.removeItem(at: dir) }

    func copy(_ shared: String, to path: String, root: URL? = nil) throws {
        let dest = (root ?? dir).appendingPathComponent(path)
        try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        try fm.copyItem(at: DiagnoseFixtures.dicom.appendingPathComponent(shared), to: dest)
    }

    func write(_ text: String, _ path: String) throws {
        let dest = dir.appendingPathComponent(path)
        try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: dest, atomically: true, encoding: .utf8)
    }

    func testGroupedByStudyUIDWhateverTheNames() throws {
        // One NM series of two instances (JPEG2000.dcm is instance 3, JPGExtended.dcm instance 5),
        // under unrelated names and folders, the later instance first by path.
        try copy("JPGExtended.dcm", to: "p1/a/first.dcm")
        try copy("JPEG2000.dcm", to: "p1/b/IM3")
        // Two files of one MR study (same UIDs), and a CT with a report beside it.
        try copy("MR_small.dcm", to: "mr/x.dcm")
        try copy("MR_small_RLE.dcm", to: "mr/y.dcm")
        try copy("CT_small.dcm", to: "ct.dcm")
        try write("No effusion.", "ct.txt")
        // A report named after the CR study's StudyInstanceUID pairs with that study.
        try copy("dicomdirtests_77654033_CR1_6154.dcm", to: "cr/6154")
        try write("Clear lungs.", "reports/1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1.txt")
        let studies = try StudyFolder.studies(in: dir)
        XCTAssertEqual(studies.map(\.stem), ["cr/6154", "ct", "mr/x", "p1/a/first"])
        let nm = studies[3]
        XCTAssertEqual(nm.images.map(\.lastPathComponent), ["IM3", "first.dcm"], "by InstanceNumber, not by path")
        XCTAssertEqual(nm.seriesCount, 1)
        XCTAssertEqual(nm.name, "p1")
        XCTAssertNil(nm.report)
        XCTAssertEqual(studies[2].images.map(\.lastPathComponent), ["x.dcm", "y.dcm"])
        XCTAssertEqual(studies[2].name, "mr")
        XCTAssertEqual(studies[1].images.count, 1)
        XCTAssertEqual(studies[1].report?.lastPathComponent, "ct.txt")
        XCTAssertEqual(studies[0].report?.lastPathComponent, "1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1.txt")
    }

    /// The DICOMDIR's grouping wins over the files' headers: here NM/IM5 holds CT_small.dcm, whose
    /// own header names another study, yet the DICOMDIR lists it in the NM series.
    func testDICOMDIRIsRead() throws {
        let fixture = DiagnoseFixtures.repo.appendingPathComponent("Tests/ImageTests/Fixtures/DICOMDIR")
        try fm.copyItem(at: fixture, to: dir.appendingPathComponent("DICOMDIR"))
        try copy("MR_small.dcm", to: "MR/IM1")
        try copy("JPEG2000.dcm", to: "NM/IM3")
        try copy("CT_small.dcm", to: "NM/IM5")
        var warnings: [String] = []
        let studies = try StudyFolder.studies(in: dir) { warnings.append($0) }
        XCTAssertEqual(warnings, [])
        XCTAssertEqual(studies.map(\.stem), ["MR/IM1", "NM/IM3"], "the DICOMDIR itself is no study")
        XCTAssertEqual(studies[1].images.map(\.lastPathComponent), ["IM3", "IM5"])
        // Without the DICOMDIR the headers split them.
        try fm.removeItem(at: dir.appendingPathComponent("DICOMDIR"))
        XCTAssertEqual(try StudyFolder.studies(in: dir).map(\.stem), ["MR/IM1", "NM/IM3", "NM/IM5"])
        // A DICOMDIR that cannot be read is a warning naming it; the headers are used.
        try Data("not a dicomdir".utf8).write(to: dir.appendingPathComponent("DICOMDIR"))
        XCTAssertEqual(try StudyFolder.studies(in: dir) { warnings.append($0) }.map(\.stem), ["MR/IM1", "NM/IM3", "NM/IM5"])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("DICOMDIR") == true, "\(warnings)")
    }
}
