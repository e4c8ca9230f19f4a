import Foundation
import XCTest
@testable import LeptonEngine

/// `lepton-risk train --logdir DIR`: the training curve as `curves.csv` and a TensorBoard event file.
extension RiskProgramTests {
    func testTrainWritesCurvesAndEventsWithLogdir() throws {
        let runs = tmp.appendingPathComponent("runs-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: runs) }
        let r = try risk(["train", "--transactions", "samples/risk/train.csv", "--out", tmp.appendingPathComponent("logged-model").path,
                          "--trees", "30", "--depth", "5", "--gnn-epochs", "4", "--logdir", runs.path, "--json"])   // depth 5: CV keeps the GNN
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try json(Substring(r.stdout.split(separator: "\n").last ?? ""))
        let validation = try XCTUnwrap(summary["validation"] as? [String: Double])
        let scorer = try XCTUnwrap(summary["scorer"] as? String)

        // curves.csv: one row per tree checkpoint (10, 20, 30 trees), then one per GNN epoch when
        // cross-validation kept the GNN (the final GNN is trained only then).
        let csv = try String(contentsOf: runs.appendingPathComponent("curves.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0], rows = Array(lines.dropFirst())
        XCTAssertEqual(header.first, "epoch"); XCTAssertEqual(header.last, "seconds")
        func column(_ name: String) throws -> [Double?] {
            let c = try XCTUnwrap(header.firstIndex(of: name), "no column \(name) in \(header)")
            return rows.map { Double($0[c]) }
        }
        let trees = try column("trees").compactMap { $0 }
        XCTAssertEqual(trees, [10, 20, 30])
        XCTAssertEqual(rows.count, 3 + (scorer == "trees" ? 0 : 4), csv)
        XCTAssertEqual(rows.map { $0[0] }, (1...rows.count).map(String.init))
        let loss = try column("trees_train_loss").prefix(3).map { try XCTUnwrap($0) }
        let ap = try column("trees_validation_pr_auc").prefix(3).map { try XCTUnwrap($0) }
        XCTAssertTrue(loss.allSatisfy { $0 > 0 && $0 < 1 }, "\(loss)")
        XCTAssertTrue(ap.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(ap)")
        // The curve shows the figures the model selection used: its best out-of-fold PR-AUC is the
        // one train reports (the selection keeps a checkpoint within 1e-4 of the best).
        let reported = try XCTUnwrap(validation["trees_cv_pr_auc"])
        XCTAssertEqual(ap.max()!, reported, accuracy: 1.5e-4)
        if scorer != "trees" { XCTAssertEqual(try column("gnn_train_loss").compactMap { $0 }.count, 4) }

        // The event file: every record's framing CRCs check, one record per row after the file version.
        let files = try FileManager.default.contentsOfDirectory(atPath: runs.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 1)
        let bytes = [UInt8](try Data(contentsOf: runs.appendingPathComponent(files[0])))
        var i = 0, records = 0
        func u32(_ at: Int) -> UInt32 { bytes[at..<(at + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
        while i + 12 <= bytes.count {
            let len = Int(bytes[i..<(i + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
            XCTAssertLessThanOrEqual(i + 16 + len, bytes.count)
            guard i + 16 + len <= bytes.count else { break }
            XCTAssertEqual(u32(i + 8), TensorBoardWriter.maskedCRC32C(Array(bytes[i..<(i + 8)])))
            XCTAssertEqual(u32(i + 12 + len), TensorBoardWriter.maskedCRC32C(Array(bytes[(i + 12)..<(i + 12 + len)])))
            i += 16 + len; records += 1
        }
        XCTAssertEqual(i, bytes.count)
        XCTAssertEqual(records, 1 + rows.count)
        XCTAssertNotNil(String(decoding: bytes, as: UTF8.self).range(of: "trees_validation_pr_auc"))
    }
}
