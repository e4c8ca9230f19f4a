import Foundation
import XCTest

/// `--compute-type` on every command that loads Whisper or the MiniLM encoder: a wrong value is
/// a one-line usage error (exit 64) naming the choices, and a right one reaches the model (the
/// JSON's model identity names the compute type, which only the loaded model knows).
final class ComputeTypeOptionTests: XCTestCase {
    func testWrongValueIsOneLineUsageErrorOnEveryCommand() throws {
        let commands: [[String]] = [
            ["transcribe", "samples/chat/jfk.wav"], ["respond", "--text", "hello"], ["classify", "--model", "samples/bank/model", "hello"],
            ["serve", "--port", "0"], ["test", "--model", "samples/bank/model", "--data", "samples/bank/nlu.yml"], ["shell"],
        ]
        for command in commands {
            let r = try ProgramRunner.run("lepton-chat", command + ["--compute-type", "int4"])
            XCTAssertEqual(r.status, 64, "\(command): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(command) printed:\n\(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("lepton-chat: error: "), r.stderr)
            for word in ["int4", "compute-type", "float32", "float16", "int8"] { XCTAssertTrue(r.stderr.contains(word), "\(command): \(r.stderr)") }
            XCTAssertEqual(r.stdout, "")
        }
    }

    /// `$LEPTON_COMPUTE_TYPE` sets the default; a wrong value there is the same usage error.
    func testEnvironmentSetsTheDefaultAndIsChecked() throws {
        let bad = try ProgramRunner.run("lepton-chat", ["classify", "--model", "samples/bank/model", "hello"],
                                        environment: ["LEPTON_COMPUTE_TYPE": "int4"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("LEPTON_COMPUTE_TYPE"), bad.stderr)
        let good = try ProgramRunner.run("lepton-chat", ["classify", "--json", "--model", "samples/bank/model", "hello"],
                                         environment: ["LEPTON_COMPUTE_TYPE": "int8"])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(try JSONDecoder().decode(Identified.self, from: Data(good.stdout.utf8)).model.version.hasSuffix("compute type int8"))
    }

    struct Identified: Decodable {
        struct Model: Decodable { let name: String; let version: String }
        let model: Model
    }

    func testComputeTypeReachesWhisperAndTheIntentModel() throws {
        for type in ["int8", "float16"] {
            let t = try ProgramRunner.run("lepton-chat", ["transcribe", "-f", "json", "--compute-type", type, "samples/chat/jfk.wav"])
            XCTAssertEqual(t.status, 0, t.stderr)
            let whisper = try JSONDecoder().decode(Identified.self, from: Data(t.stdout.utf8)).model
            XCTAssertTrue(whisper.version.hasSuffix("compute type \(type)"), whisper.version)
            XCTAssertTrue(t.stdout.lowercased().contains("ask not what your country can do for you"), t.stdout)

            let c = try ProgramRunner.run("lepton-chat", ["classify", "--json", "--compute-type", type, "--model", "samples/bank/model", "my card has not arrived yet"])
            XCTAssertEqual(c.status, 0, c.stderr)
            let intent = try JSONDecoder().decode(Identified.self, from: Data(c.stdout.utf8)).model
            XCTAssertTrue(intent.version.hasSuffix("compute type \(type)"), intent.version)
        }
        // The default is float32 and says nothing more.
        let c = try ProgramRunner.run("lepton-chat", ["classify", "--json", "--model", "samples/bank/model", "my card has not arrived yet"])
        XCTAssertFalse(try JSONDecoder().decode(Identified.self, from: Data(c.stdout.utf8)).model.version.contains("compute type"))
    }
}
