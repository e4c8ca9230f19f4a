import XCTest

/// Usage errors of every program: exit 64 and one line in the shared format, never
/// ArgumentParser's several lines; help and --version still print on stdout with exit 0.
final class UsageErrorTests: XCTestCase {
    func testUsageErrorsAreOneLineWithExit64InEveryProgram() throws {
        let cases: [(String, [String])] = [
            ("lepton-chat", ["transcribe", "--beam-size", "many", "x.wav"]),
            ("lepton-chat", ["no-such-command"]),
            ("lepton-risk", ["score"]),
            ("lepton-risk", ["stats", "--transactions", "x.csv", "--bogus"]),
            ("lepton-diagnose", ["analyze", "--threads", "two"]),
            ("lepton-diagnose", ["evaluate", "--split"]),
        ]
        for (program, args) in cases {
            let r = try ProgramRunner.run(program, args)
            XCTAssertEqual(r.status, 64, "\(program) \(args): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(program) \(args) printed:\n\(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("\(program): error: "), r.stderr)
            XCTAssertEqual(r.stdout, "")
        }
        for program in ["lepton-chat", "lepton-risk", "lepton-diagnose"] {
            let h = try ProgramRunner.run(program, ["--help"])
            XCTAssertEqual(h.status, 0); XCTAssertTrue(h.stdout.contains("USAGE"))
            // --threads' default is shown once (ArgumentParser adds it; the text must not repeat it).
            let sub = program == "lepton-risk" ? "stats" : (program == "lepton-chat" ? "classify" : "analyze")
            let sh = try ProgramRunner.run(program, [sub, "--help"])
            let threadsLine = sh.stdout.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--threads") } ?? ""
            XCTAssertEqual(threadsLine.components(separatedBy: "default").count - 1, 1, "\(program) \(sub): \(threadsLine)")
        }
    }
}
