import Foundation
import XCTest

/// `--logdir` on the built program's `train`: one curves.csv row per epoch with the documented
/// columns, and a TensorBoard event file whose frames parse.
extension RespondPipelineTests {
    func testTrainWritesCurvesAndTensorBoardEvents() throws {
        let data = dir.appendingPathComponent("tiny.yml")
        try """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hello
            - hi there
            - good morning
            - hey
        - intent: check_balance
          examples: |
            - what's my balance
            - how much money do I have
            - show my balance
            - balance please
        """.write(to: data, atomically: true, encoding: .utf8)
        let logdir = dir.appendingPathComponent("run")
        let r = try run(["train", "--data", data.path, "--out", dir.appendingPathComponent("model").path, "--solver", "adam",
                         "--epochs", "3", "--val-fraction", "0", "--lexical-weight", "0", "--logdir", logdir.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try json(r)["epochs_run"] as? Int, 3)
        let rows = try String(contentsOf: logdir.appendingPathComponent("curves.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.first, ["epoch", "train_loss", "seconds"])
        XCTAssertEqual(rows.dropFirst().map { $0[0] }, ["1", "2", "3"])
        for row in rows.dropFirst() { XCTAssertNotNil(Float(row[1]).map { $0.isFinite && $0 > 0 }, "\(row)") }
        try assertEventFile(in: logdir, records: 1 + 3, tags: ["train_loss"])
    }

    /// The TFRecord frames of the one event file in `folder` (8-byte length, 4-byte CRC, payload,
    /// 4-byte CRC): `records` of them, filling the file exactly, the tags among the payloads.
    func assertEventFile(in folder: URL, records: Int, tags: [String], line: UInt = #line) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 1, "\(files)", line: line)
        let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(try XCTUnwrap(files.first))))
        var at = 0, found = 0, payloads = Data()
        while at + 12 <= bytes.count {
            let length = (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) }
            guard at + 16 + length <= bytes.count else { break }
            payloads += bytes[(at + 12)..<(at + 12 + length)]
            at += 16 + length; found += 1
        }
        XCTAssertEqual(found, records, line: line)
        XCTAssertEqual(at, bytes.count, "trailing bytes", line: line)
        for tag in tags { XCTAssertNotNil(payloads.range(of: Data(tag.utf8)), tag, line: line) }
    }
}
