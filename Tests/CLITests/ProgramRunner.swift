import Foundation
import XCTest

/// Runs one of the built programs (they sit beside the test bundle in `.build/<config>/`)
/// and captures what it printed, as a user would see it.
struct ProgramRun {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum ProgramRunner {
    /// The folder that holds the built executables.
    static var productsDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL
    }

    /// The repository root (for `samples/`) and `../shared` beside it.
    static var repoRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    static var shared: URL { repoRoot.deletingLastPathComponent().appendingPathComponent("shared") }

    /// Runs `program` with `arguments`; fails the test (skips) if the program was not built.
    /// - Parameter environment: variables set (or replaced) in the program's environment.
    static func run(_ program: String, _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
                    file: StaticString = #filePath, line: UInt = #line) throws -> ProgramRun {
        let exe = productsDirectory.appendingPathComponent(program)
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            throw XCTSkip("\(program) is not built at \(exe.path)")
        }
        let p = Process()
        p.executableURL = exe
        p.arguments = arguments
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.currentDirectoryURL = repoRoot
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(stdin) }
        try inp.fileHandleForWriting.close()
        // Read both pipes before waiting, so a chatty program cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter(); DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.wait()
        p.waitUntilExit()
        return ProgramRun(status: p.terminationStatus,
                          stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    }
}

final class ProgramBasicsTests: XCTestCase {
    func testEveryProgramAnswersVersionAndHelp() throws {
        for program in ["lepton-chat", "lepton-risk", "lepton-diagnose"] {
            let v = try ProgramRunner.run(program, ["--version"])
            XCTAssertEqual(v.status, 0, program)
            XCTAssertTrue(v.stdout.contains("0."), "\(program) --version printed \(v.stdout)")
            let h = try ProgramRunner.run(program, ["--help"])
            XCTAssertEqual(h.status, 0, program)
            XCTAssertTrue(h.stdout.contains("USAGE"), "\(program) --help printed \(h.stdout)")
        }
    }
}
