import ArgumentParser
import Foundation
import XCTest
@testable import LeptonCLI

/// The shared command-line conventions: exit codes, one-line errors, JSON, progress, atomic writes.
final class ConventionsTests: XCTestCase {
    private struct BadRow: Error, CustomStringConvertible { var description: String { "rows.csv: line 3: bad amount\nsecond line" } }

    func testRunCommandMapsFailuresToDocumentedExitCodes() {
        func code(_ body: () throws -> Void) -> Int32? {
            do { try runCommand("lepton-test", nil, body); return 0 }
            catch let e as ExitCode { return e.rawValue }
            catch { return nil }
        }
        XCTAssertEqual(code { }, 0)
        XCTAssertEqual(code { throw CLIFailure.usage("give --model") }, 64)
        XCTAssertEqual(code { throw CLIFailure.input("x.png: truncated") }, 1)
        XCTAssertEqual(code { throw CLIFailure.partial("2 of 5 files failed") }, 3)
        XCTAssertEqual(code { throw BadRow() }, 1)
        XCTAssertEqual(code { throw CocoaError(.fileNoSuchFile) }, 1)
        // ArgumentParser's own usage errors keep their meaning (its exit code for them is 64).
        XCTAssertThrowsError(try runCommand("lepton-test", nil) { throw ValidationError("bad") }) { XCTAssertTrue($0 is ValidationError) }
    }

    func testErrorLineIsOneLineWithTheProgramPrefix() {
        XCTAssertEqual(errorLine("lepton-risk", describe(BadRow())), "lepton-risk: error: rows.csv: line 3: bad amount; second line")
        let fileError = describe(CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: "/nope"]))
        XCTAssertFalse(fileError.contains("\n"))
        XCTAssertFalse(fileError.isEmpty)
    }

    func testJSONStringRoundTripsThroughFoundationsParser() throws {
        let tricky = ["plain", "quote \" and \\ backslash", "tab\tnewline\nreturn\r", "\u{01}\u{1F}\u{7F}", "émoji 👩‍⚕️ and </script>"]
        for s in tricky {
            let parsed = try JSONSerialization.jsonObject(with: Data("[\(jsonString(s))]".utf8)) as? [String]
            XCTAssertEqual(parsed, [s])
        }
    }

    func testJSONLineUsesSnakeCaseSortedKeysAndRefusesNaN() throws {
        struct Row: Encodable { var riskScore: Double; var accountID: String; var modelName = "m" }
        XCTAssertEqual(try jsonLine(Row(riskScore: 0.5, accountID: "A1")), #"{"account_id":"A1","model_name":"m","risk_score":0.5}"#)
        XCTAssertThrowsError(try jsonLine(Row(riskScore: .nan, accountID: "A1")))
    }

    func testProgressPrintsBoundedLinesOffTerminalAndNothingWhenQuiet() {
        var lines: [String] = []
        var p = ProgressReporter(label: "scoring", total: 1000, unit: "rows", terminal: false) { lines.append($0) }
        for _ in 0..<1000 { p.advance() }
        p.finish()
        // A line at the start, one per 10% at most, and the final line: never one per row.
        XCTAssertGreaterThanOrEqual(lines.count, 3)
        XCTAssertLessThanOrEqual(lines.count, 12)
        XCTAssertTrue(lines.last!.hasPrefix("scoring: 1000 rows of 1000 (100%)"), lines.last!)
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })

        var terminalOut = ""
        var t = ProgressReporter(label: "epochs", total: 3, terminal: true) { terminalOut += $0 }
        t.advance(); t.finish()
        XCTAssertTrue(terminalOut.hasPrefix("\r") && terminalOut.hasSuffix("\n"))

        let saved = Log.level; Log.level = .error; defer { Log.level = saved }
        var quiet: [String] = []
        var q = ProgressReporter(label: "x", total: 10, terminal: false) { quiet.append($0) }
        q.advance(by: 10); q.finish()
        XCTAssertEqual(quiet, [])
    }

    func testConcurrentAtomicWritersNeverShareATemporaryFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("out.txt")
        let payloads = (0..<16).map { i in Data(String(repeating: "\(i % 10)", count: 200_000 + i).utf8) }
        let failures = NSLock()
        nonisolated(unsafe) var failed: [String] = []
        DispatchQueue.concurrentPerform(iterations: payloads.count) { i in
            do { try writeAtomically(payloads[i], to: url) }
            catch { failures.lock(); failed.append("\(error)"); failures.unlock() }
        }
        XCTAssertEqual(failed, [])
        let final = try Data(contentsOf: url)
        XCTAssertTrue(payloads.contains(final), "the file holds a mix of writers (\(final.count) bytes)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.txt"])
    }

    func testWriteFailureLeavesNoTemporaryFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The target is a folder: the rename fails, and the temporary file must not stay behind.
        let target = dir.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: target.appendingPathComponent("inner"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try writeAtomically(Data("x".utf8), to: target)) { XCTAssertTrue("\($0)".contains("taken"), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["taken"])
    }
}
