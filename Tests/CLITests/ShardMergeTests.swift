import Foundation
import XCTest
@testable import LeptonCLI

/// `--shard i/N` on every batch command, and `merge`: for N = 1…4 the merged outputs of the N
/// shards must equal the single run's output byte for byte (the reference is the program's own
/// unsharded run on the same inputs, an independent code path: no selection, no rank, no merge).
final class ShardMergeTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Runs the single command and its N shards for N in `counts`, merges each set, compares.
    /// `headerLines`: lines every shard repeats (the risk summary); nil when shards overlap (`--top`).
    private func assertShardsMerge(_ program: String, _ arguments: [String], mergeArguments: [String] = [],
                                   counts: [Int] = [1, 2, 3, 4], expectStatus: Int32 = 0, headerLines: Int? = 0,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let single = try ProgramRunner.run(program, arguments)
        XCTAssertEqual(single.status, expectStatus, "\(program) \(arguments): \(single.stderr)", file: file, line: line)
        XCTAssertFalse(single.stdout.isEmpty, file: file, line: line)
        for n in counts {
            var paths: [String] = []
            var lines = 0
            for i in 0..<n {
                let run = try ProgramRunner.run(program, arguments + ["--shard", "\(i)/\(n)"])
                XCTAssertTrue([0, expectStatus].contains(run.status), "shard \(i)/\(n): \(run.stderr)", file: file, line: line)
                let path = dir.appendingPathComponent("\(program)-\(i)-of-\(n).out").path
                try Data(run.stdout.utf8).write(to: URL(fileURLWithPath: path))
                paths.append(path)
                lines += run.stdout.split(separator: "\n").count
            }
            // The shards partition the items: together they printed each one once.
            if let h = headerLines {
                XCTAssertEqual(lines, single.stdout.split(separator: "\n").count + (n - 1) * h, "N=\(n)", file: file, line: line)
            }
            let merged = try ProgramRunner.run(program, ["merge"] + mergeArguments + paths)
            XCTAssertEqual(merged.status, 0, "merge N=\(n): \(merged.stderr)", file: file, line: line)
            XCTAssertEqual(merged.stdout, single.stdout, "\(program) N=\(n): merged shards differ from the single run", file: file, line: line)
        }
    }

    func testTranscribeShardsMergeToTheSingleRun() throws {
        let dev = ProgramRunner.shared.appendingPathComponent("data/speech/dev").path
        let files = ["samples/chat/jfk.wav", "samples/chat/jfk_tel8k.wav", "\(dev)/LJ001-0001.wav", "\(dev)/goforward.wav", "\(dev)/LJ002-0020.wav"]
        guard files.allSatisfy({ FileManager.default.fileExists(atPath: $0.hasPrefix("/") ? $0 : ProgramRunner.repoRoot.path + "/" + $0) }) else {
            throw XCTSkip("speech samples missing")
        }
        try assertShardsMerge("lepton-chat", ["transcribe", "-f", "json", "--beam-size", "1", "--threads", "1"] + files)
        try assertShardsMerge("lepton-chat", ["transcribe", "--beam-size", "1", "--threads", "1"] + files, counts: [2])
    }

    func testAnalyzeShardsMergeToTheSingleRun() throws {
        // case6 cannot be read (a structured report, no image): its error line must land in its place too (exit 3).
        try assertShardsMerge("lepton-diagnose", ["analyze", "samples/diagnose/studies", "--json"], counts: [1, 2, 3, 4, 7], expectStatus: 3)
        try assertShardsMerge("lepton-diagnose", ["analyze", "samples/diagnose/studies", "--format", "fhir"], counts: [2], expectStatus: 3)
    }

    func testScoreShardsMergeToTheSingleRun() throws {
        let base = ["score", "--model", "samples/risk/model", "--transactions", "samples/risk/test.csv", "--history", "samples/risk/train.csv"]
        try assertShardsMerge("lepton-risk", base + ["--json"], headerLines: 1)
        try assertShardsMerge("lepton-risk", base + ["--json", "--top", "25"], mergeArguments: ["--top", "25"], headerLines: nil)
        try assertShardsMerge("lepton-risk", base + ["--top", "40"], mergeArguments: ["--top", "40"], counts: [3], headerLines: nil)  // CSV
        try assertShardsMerge("lepton-risk", base + ["--accounts", "--json", "--top", "30"], mergeArguments: ["--top", "30"], counts: [2, 4],
                              headerLines: nil)
        try assertShardsMerge("lepton-risk", base + ["--accounts"], counts: [3], headerLines: 1)
        try assertShardsMerge("lepton-risk", base + ["--json", "--threshold", "0.2"], counts: [3], headerLines: 1)
    }

    func testInvalidShardIsAUsageError() throws {
        let cases: [(String, [String])] = [
            ("lepton-chat", ["transcribe", "samples/chat/jfk.wav"]),
            ("lepton-diagnose", ["analyze", "samples/diagnose/studies"]),
            ("lepton-risk", ["score", "--model", "samples/risk/model", "--transactions", "samples/risk/test.csv"]),
        ]
        for (program, arguments) in cases {
            for bad in ["4/4", "-1/2", "1/0", "a/b", "1", "1/2/3", "1/"] {
                let r = try ProgramRunner.run(program, arguments + ["--shard", bad])
                XCTAssertEqual(r.status, 64, "\(program) --shard \(bad): \(r.stderr)")
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(program) --shard \(bad): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("--shard"), r.stderr)
                XCTAssertTrue(r.stdout.isEmpty)
            }
        }
        let html = try ProgramRunner.run("lepton-diagnose", ["analyze", "samples/diagnose/studies", "--format", "html", "--shard", "0/2"])
        XCTAssertEqual(html.status, 64, html.stderr)
        let srt = try ProgramRunner.run("lepton-chat", ["transcribe", "-f", "srt", "samples/chat/jfk.wav", "--shard", "0/2"])
        XCTAssertEqual(srt.status, 64, srt.stderr)
    }

    func testMergeRefusesShardsThatCannotBeOneBatch() throws {
        // 7 items cut 3 ways: 3, 2, 2 lines.
        XCTAssertEqual(try ShardMerge.interleave([["a", "d", "g"], ["b", "e"], ["c", "f"]], names: ["0", "1", "2"]),
                       ["a", "b", "c", "d", "e", "f", "g"])
        XCTAssertThrowsError(try ShardMerge.interleave([["a", "d"], ["b", "e", "h"], ["c", "f"]], names: ["0", "1", "2"]))
        XCTAssertThrowsError(try ShardMerge.interleave([["a", "d", "g"], ["b"], ["c", "f"]], names: ["0", "1", "2"]))
        // The risk merge: a shard given twice, and a file that is not a sharded output.
        let part = dir.appendingPathComponent("part.jsonl").path
        let run = try ProgramRunner.run("lepton-risk", ["score", "--model", "samples/risk/model", "--transactions", "samples/risk/test.csv",
                                                         "--json", "--top", "5", "--shard", "0/2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        try Data(run.stdout.utf8).write(to: URL(fileURLWithPath: part))
        let twice = try ProgramRunner.run("lepton-risk", ["merge", part, part])
        XCTAssertEqual(twice.status, 1, twice.stderr)
        XCTAssertTrue(twice.stderr.contains("twice"), twice.stderr)
        let plain = dir.appendingPathComponent("plain.jsonl").path
        let single = try ProgramRunner.run("lepton-risk", ["score", "--model", "samples/risk/model", "--transactions", "samples/risk/test.csv",
                                                            "--json", "--top", "5"])
        try Data(single.stdout.utf8).write(to: URL(fileURLWithPath: plain))
        let notSharded = try ProgramRunner.run("lepton-risk", ["merge", plain])
        XCTAssertEqual(notSharded.status, 1, notSharded.stderr)
        XCTAssertEqual(notSharded.stderr.split(separator: "\n").count, 1, notSharded.stderr)
    }
}
