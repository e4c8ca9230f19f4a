import Foundation
import XCTest
@testable import LeptonEngine

final class TrainingProgressTests: XCTestCase {
    func testCRC32CCheckValues() {
        // The standard CRC-32C check value, and RFC 3720 (iSCSI) B.4 test vectors.
        XCTAssertEqual(TensorBoardWriter.crc32c(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(TensorBoardWriter.crc32c([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(TensorBoardWriter.crc32c([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(TensorBoardWriter.crc32c(Array(0..<32)), 0x46DD_794E)
    }

    func testEventEncodingByHand() {
        // Event{wall_time: 1.5, step: 3, summary{value{tag: "loss", simple_value: 0.25}}}
        let expected: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0x03,
                                 0x2A, 0x0D, 0x0A, 0x0B, 0x0A, 0x04, 0x6C, 0x6F, 0x73, 0x73, 0x15, 0x00, 0x00, 0x80, 0x3E]
        XCTAssertEqual(TensorBoardWriter.event(wallTime: 1.5, step: 3, scalars: [("loss", 0.25)]), expected)
        XCTAssertEqual(TensorBoardWriter.varint(300), [0xAC, 0x02])
        // Framing: 8-byte length, masked CRC of the length, data, masked CRC of the data.
        let rec = [UInt8](TensorBoardWriter.record([1, 2, 3]))
        XCTAssertEqual(rec.count, 8 + 4 + 3 + 4)
        XCTAssertEqual(Array(rec[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
        let c = TensorBoardWriter.crc32c([1, 2, 3])
        let masked = ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
        XCTAssertEqual(Array(rec[15..<19]), withUnsafeBytes(of: masked.littleEndian) { Array($0) })
    }

    func testCSVAndEventFilesAreWritten() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-progress-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let progress = try TrainingProgress(epochs: 2, stepsPerEpoch: 2, csv: dir.appendingPathComponent("curve.csv"),
                                            tensorBoard: dir.appendingPathComponent("tb"), quiet: true)
        progress.step(loss: 1.0); progress.step(loss: 0.5)
        try progress.endEpoch(metrics: ["val_accuracy": 0.5])
        progress.step(loss: 0.25); progress.step(loss: 0.25)
        try progress.endEpoch(metrics: ["val_accuracy": 0.75])
        let csv = try String(contentsOf: dir.appendingPathComponent("curve.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(lines[0], ["epoch", "train_loss", "val_accuracy", "seconds"])
        XCTAssertEqual(Array(lines[1].prefix(3)), ["1", "0.75", "0.5"])
        XCTAssertEqual(Array(lines[2].prefix(3)), ["2", "0.25", "0.75"])
        // Event file: parse the frames back and check every CRC.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tb").path)
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(files[0].hasPrefix("events.out.tfevents."))
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("tb").appendingPathComponent(files[0])))
        var i = 0, records = 0
        while i < bytes.count {
            let len = Int(bytes[i..<(i + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
            func u32(_ at: Int) -> UInt32 { bytes[at..<(at + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
            XCTAssertEqual(u32(i + 8), TensorBoardWriter.maskedCRC32C(Array(bytes[i..<(i + 8)])))
            XCTAssertEqual(u32(i + 12 + len), TensorBoardWriter.maskedCRC32C(Array(bytes[(i + 12)..<(i + 12 + len)])))
            i += 16 + len; records += 1
        }
        XCTAssertEqual(records, 3)   // file_version + two epochs
        XCTAssertEqual(i, bytes.count)
    }

    func testUnwritableLocationIsATypedError() {
        XCTAssertThrowsError(try TrainingProgress(epochs: 1, stepsPerEpoch: 1, tensorBoard: URL(fileURLWithPath: "/proc/lepton-no-such/tb"), quiet: true)) {
            XCTAssertTrue($0 is TrainingLogError)
        }
    }
}
