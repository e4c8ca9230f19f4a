import Foundation
import XCTest
@testable import LeptonDiagnose

/// Subject IDs: SHA-256 as Python's hashlib computes it, and a per-site salt kept in a 0600 file so
/// that two runs give the same ID.
final class SubjectIDTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-salt-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// hashlib.sha256(salt + "\x1e" + "\x1f".join(ids)).hexdigest()[:16], run by python3 here.
    func python(_ salt: String, _ ids: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = "import hashlib,sys; s=sys.argv[1]; ids=[i for i in sys.argv[2:] if i]; "
            + "print(hashlib.sha256((s + '\\x1e' + '\\x1f'.join(ids)).encode('utf-8')).hexdigest()[:16])"
        p.arguments = ["python3", "-c", script, salt] + ids
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw XCTSkip("python3 is not available: \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("python3 failed") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testSubjectIDMatchesHashlib() throws {
        let cases: [(String, [String])] = [
            ("site-salt", ["77654033", "Doe^Archibald", "1.2.840.113619.2.1"]),
            ("", ["only-one"]),
            ("ünïcode-sält", ["", "Müller^Jürgen", ""]),
            (String(repeating: "x", count: 200), ["a", "b"]),  // several SHA-256 blocks
        ]
        for (salt, ids) in cases {
            XCTAssertEqual(Privacy(salt: salt).subjectID(ids), try python(salt, ids), "\(salt.prefix(12)) \(ids)")
        }
    }

    /// First use creates the salt file (mode 0600, folder 0700); later uses read it back, so the ID
    /// is the same across runs; the environment variable wins over the file.
    func testSaltFileIsCreatedOnceAndReused() throws {
        let env = ["XDG_CONFIG_HOME": dir.path]
        let file = try XCTUnwrap(Privacy.defaultSaltFile(environment: env))
        XCTAssertEqual(file.path, dir.path + "/lepton/diagnose-salt")
        XCTAssertFalse(FileManager.default.fileExists(atPath: file.path))
        let first = try Privacy.site(environment: env)
        let attrs = try FileManager.default.attributesOfItem(atPath: file.path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let folder = try FileManager.default.attributesOfItem(atPath: file.deletingLastPathComponent().path)
        XCTAssertEqual((folder[.posixPermissions] as? NSNumber)?.intValue, 0o700)
        XCTAssertGreaterThanOrEqual(first.salt.count, 32)
        let second = try Privacy.site(environment: env)
        XCTAssertEqual(first.salt, second.salt)
        XCTAssertEqual(first.subjectID(["77654033"]), second.subjectID(["77654033"]))
        // HOME fallback, an explicit --salt-file, and the environment variable's precedence.
        XCTAssertEqual(Privacy.defaultSaltFile(environment: ["HOME": "/home/u"])?.path, "/home/u/.config/lepton/diagnose-salt")
        let explicit = dir.appendingPathComponent("other/salt")
        let third = try Privacy.site(saltFile: explicit, environment: env)
        XCTAssertNotEqual(third.salt, first.salt)
        XCTAssertEqual(try Privacy.site(saltFile: explicit, environment: env).salt, third.salt)
        XCTAssertEqual(try Privacy.site(saltFile: explicit, environment: env.merging(["LEPTON_DIAGNOSE_SALT": "pepper"]) { $1 }).salt, "pepper")
        // An empty salt file is an error, not an empty salt.
        try Data().write(to: explicit)
        XCTAssertThrowsError(try Privacy.site(saltFile: explicit, environment: env))
    }

    /// Eight processes' worth of concurrent first uses agree on one salt.
    func testConcurrentFirstUseAgrees() throws {
        let file = dir.appendingPathComponent("race/diagnose-salt")
        let salts = UnsafeMutableBufferPointer<String>.allocate(capacity: 8)
        salts.initialize(repeating: "")
        defer { salts.deallocate() }
        nonisolated(unsafe) let out = salts
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            out[i] = (try? Privacy.site(saltFile: file, environment: [:]).salt) ?? "error"
        }
        XCTAssertEqual(Set(salts).count, 1, "\(Array(salts))")
        XCTAssertNotEqual(salts[0], "error")
    }
}
