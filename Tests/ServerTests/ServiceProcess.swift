import Foundation
import XCTest

/// A `serve` command run as a child process (`--port 0`), called with curl: the independent client.
///
/// `start` waits for the `listening on http://HOST:PORT` line on stderr; every stderr line is kept
/// (`log`) so tests can read the service's logs.
final class ServiceProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private(set) var port = 0

    /// The folder holding the built programs (next to the test bundle).
    static let binDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    /// The repository (samples, openapi/).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Launches `program serve ARGS --port 0` (without waiting).
    init(_ program: String, _ args: [String], env: [String: String] = [:], port: Int = 0) throws {
        process.executableURL = Self.binDir.appendingPathComponent(program)
        process.arguments = ["serve"] + args + ["--port", String(port)]
        process.currentDirectoryURL = Self.root
        process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { [weak self] h in
            let data = h.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock(); defer { self.lock.unlock() }
            self.pending += String(decoding: data, as: UTF8.self)
            while let nl = self.pending.firstIndex(of: "\n") {
                self.lines.append(String(self.pending[..<nl]))
                self.pending = String(self.pending[self.pending.index(after: nl)...])
            }
        }
        try process.run()
    }
    /// The last line while it is incomplete.
    private var pending = ""

    /// Starts the service and waits until it is ready (its `listening on` line).
    static func start(_ program: String, _ args: [String], env: [String: String] = [:], timeout: TimeInterval = 120) throws -> ServiceProcess {
        let s = try ServiceProcess(program, args, env: env)
        try s.waitForLine(containing: "listening on http://", timeout: timeout)
        guard let line = s.log.first(where: { $0.contains("listening on http://") }),
              let m = line.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) else {
            s.stop(); throw ServiceTestError("no port in the listening line")
        }
        s.port = Int(line[m].split(separator: ":").last!.prefix { $0.isNumber })!
        return s
    }

    var log: [String] { lock.lock(); defer { lock.unlock() }; return lines }

    /// Waits until a stderr line contains `text` (or the process ends, or `timeout`).
    func waitForLine(containing text: String, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(where: { $0.contains(text) }) { return }
            if !process.isRunning {
                Thread.sleep(forTimeInterval: 0.2)
                throw ServiceTestError("the service exited (\(process.terminationStatus)) before \"\(text)\"; stderr:\n" + log.suffix(10).joined(separator: "\n"))
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ServiceTestError("no \"\(text)\" on stderr within \(timeout) s; stderr:\n" + log.suffix(10).joined(separator: "\n"))
    }

    /// SIGTERM, then waits for the exit.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }

    var base: String { "http://127.0.0.1:\(port)" }

    /// One request with curl.
    func call(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil, bodyFile: String? = nil,
              form: [String] = []) throws -> HTTPAnswer {
        try curl(method, base + path, headers: headers, body: body, bodyFile: bodyFile, form: form)
    }
}

/// An answer as curl saw it.
struct HTTPAnswer {
    var status: Int
    var headers: [String: String]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as a JSON object (nil when it is not one).
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

struct ServiceTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs curl (`--data-binary` for bodies, `-F` for forms) and parses its status line and headers.
func curl(_ method: String, _ url: String, headers: [String: String] = [:], body: Data? = nil, bodyFile: String? = nil,
          form: [String] = [], timeout: Double = 120) throws -> HTTPAnswer {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var args = ["-sS", "--http1.1", "-X", method, "-D", dir.appendingPathComponent("h").path, "-o", dir.appendingPathComponent("b").path,
                "--max-time", String(timeout)]
    for (k, v) in headers.sorted(by: { $0.key < $1.key }) { args += ["-H", "\(k): \(v)"] }
    if let body {
        try body.write(to: dir.appendingPathComponent("in"))
        args += ["--data-binary", "@" + dir.appendingPathComponent("in").path]
    }
    if let bodyFile { args += ["--data-binary", "@" + bodyFile] }
    for f in form { args += ["-F", f] }
    args.append(url)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = args
    p.currentDirectoryURL = ServiceProcess.root
    let err = Pipe()
    p.standardError = err
    try p.run()
    let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw ServiceTestError("curl \(method) \(url) failed (\(p.terminationStatus)): \(errText)") }
    let head = String(decoding: (try? Data(contentsOf: dir.appendingPathComponent("h"))) ?? Data(), as: UTF8.self)
    // The last response's head (after any 100 Continue).
    let block = head.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.last ?? ""
    let headLines = block.components(separatedBy: "\r\n")
    let status = Int(headLines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    var fields: [String: String] = [:]
    for l in headLines.dropFirst() {
        guard let colon = l.firstIndex(of: ":") else { continue }
        fields[l[..<colon].lowercased()] = l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return HTTPAnswer(status: status, headers: fields, body: (try? Data(contentsOf: dir.appendingPathComponent("b"))) ?? Data())
}

/// Runs a built program (the CLI, as the reference for a route's answer) and returns its stdout.
func runCLI(_ program: String, _ args: [String], env: [String: String] = [:], cwd: URL = ServiceProcess.root) throws -> String {
    try runTool(ServiceProcess.binDir.appendingPathComponent(program), args, env: env, cwd: cwd)
}

/// Runs `executable` (a built program, psql, sqlite3, python3 …); its stdout. It must exit 0: else
/// an error with its stderr.
func runTool(_ executable: URL, _ args: [String], env: [String: String] = [:], cwd: URL = ServiceProcess.root) throws -> String {
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    p.currentDirectoryURL = cwd
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw ServiceTestError("\(executable.lastPathComponent) \(args.joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: errData, as: UTF8.self))")
    }
    return String(decoding: data, as: UTF8.self)
}

/// A JSON line parsed as an object.
func jsonObject(_ line: String) throws -> [String: Any] {
    guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { throw ServiceTestError("not a JSON object: \(line)") }
    return o
}

/// Two JSON values equal (as Foundation parses them).
func sameJSON(_ a: Any, _ b: Any) -> Bool { NSDictionary(dictionary: ["v": a]).isEqual(to: ["v": b]) }

/// A temporary file holding `text`, mode 0600.
func temporaryFile(_ text: String) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("server-tests-\(UUID().uuidString)")
    try Data(text.utf8).write(to: url)
    return url.path
}
