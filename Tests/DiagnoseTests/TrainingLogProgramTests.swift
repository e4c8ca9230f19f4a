import Foundation
import XCTest

/// `lepton-diagnose train --logdir`: one curves.csv row per epoch with the documented columns and
/// a TensorBoard event file whose TFRecord frames carry valid checksums.
extension DiagnoseProgramTests {
    /// A tiny labelled set in `dir`: the first 48 training and 24 validation rows of
    /// PneumoniaMNIST, copied with their labels.csv (returned).
    func tinyLabelledSet() throws -> URL {
        let rows = try String(contentsOf: DiagnoseFixtures.pneumonia.appendingPathComponent("labels.csv"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).dropFirst()
        let picked = Array(rows.filter { $0.hasPrefix("train/") }.prefix(48)) + Array(rows.filter { $0.hasPrefix("val/") }.prefix(24))
        for sub in ["train", "val"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        for row in picked {
            let file = String(row.split(separator: ",")[0])
            try FileManager.default.copyItem(at: DiagnoseFixtures.pneumonia.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        try (["file,label"] + picked.map(String.init)).joined(separator: "\n").write(to: dir.appendingPathComponent("labels.csv"),
                                                                                     atomically: true, encoding: .utf8)
        return dir.appendingPathComponent("labels.csv")
    }

    func testTrainWritesCurvesAndTensorBoardEvents() throws {
        let labels = try tinyLabelledSet()
        let logdir = dir.appendingPathComponent("run")
        let r = try run(["train", "--labels", labels.path, "--out", dir.appendingPathComponent("model").path,
                         "--epochs", "2", "--batch", "16", "--channels", "4,8", "--seed", "1", "--logdir", logdir.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["epochs_run"] as? Int, 2)
        let csv = try String(contentsOf: logdir.appendingPathComponent("curves.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(csv.first, ["epoch", "train_loss", "val_accuracy", "val_auc", "val_loss", "seconds"])
        XCTAssertEqual(csv.dropFirst().map { $0[0] }, ["1", "2"])
        for row in csv.dropFirst() {
            let values = row.dropFirst().compactMap(Double.init)
            XCTAssertEqual(values.count, 5, "\(row)")
            XCTAssertTrue((0...1).contains(values[1]) && (0...1).contains(values[2]), "accuracy and AUC in [0, 1]: \(row)")
        }

        let check: UInt32 = 0xE306_9283   // CRC-32C of "123456789", the standard check value
        XCTAssertEqual(maskedCRC32C(Array("123456789".utf8)), ((check >> 15) | (check << 17)) &+ 0xA282_EAD8)
        let events = try FileManager.default.contentsOfDirectory(atPath: logdir.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 1)
        let bytes = [UInt8](try Data(contentsOf: logdir.appendingPathComponent(try XCTUnwrap(events.first))))
        var at = 0, records = 0
        while at + 16 <= bytes.count {
            let header = Array(bytes[at..<(at + 8)])
            let length = header.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            XCTAssertEqual(littleEndian32(bytes, at + 8), maskedCRC32C(header))
            XCTAssertEqual(littleEndian32(bytes, at + 12 + length), maskedCRC32C(Array(bytes[(at + 12)..<(at + 12 + length)])))
            at += 16 + length; records += 1
        }
        XCTAssertEqual(at, bytes.count)
        XCTAssertEqual(records, 1 + 2, "the file-version record and one per epoch")
    }

    func littleEndian32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    /// TFRecord's checksum, written here from the definition (CRC-32C, bit by bit, reflected
    /// polynomial 0x82F63B78; then rotated right by 15 and offset by 0xA282EAD8), independent of
    /// the writer's table-driven one.
    func maskedCRC32C(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
