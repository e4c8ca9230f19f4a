import Foundation
import LeptonAudio
import LeptonDialog

/// Speaks the agent's reply into a WAV file, through the `espeak-ng` program.
///
/// Why a separate program: espeak-ng is GPL-3.0, and Lepton links nothing GPL so that a bank can
/// ship it. The synthesizer is therefore an optional tool the operator installs
/// (`apt-get install espeak-ng`) and Lepton runs as a child process; without it `--speak` fails
/// with a clear error and nothing else changes. The program's output is decoded by LeptonAudio,
/// resampled to `sampleRate` and written atomically (temporary file, then rename), so a failed
/// synthesis never leaves a partial file behind.
public struct ReplySpeaker: Sendable {
    /// Program name (looked up in `PATH`) or path.
    public var program = "espeak-ng"
    /// espeak-ng voice (`en-us`, `en-gb`, `en-gb+f3` …).
    public var voice = "en-us"
    /// Words per minute.
    public var wordsPerMinute = 160
    /// Output sample rate in Hz (16 kHz: what the rest of Lepton reads; 8000 for a phone line).
    public var sampleRate = 16_000
    /// Longest reply spoken, in characters (longer text is cut at a word boundary).
    public static let maxCharacters = 1_000

    public init() {}

    /// The program's absolute path, or `nil` when it is not installed.
    public func programPath() -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The program's absolute path.
    /// - Throws: ``ChatError/speech(_:)`` saying how to install it when it is missing.
    public func requireProgram() throws -> String {
        guard let exe = programPath() else {
            throw ChatError.speech("--speak needs the `\(program)` program (apt-get install espeak-ng); Lepton runs it but does not ship it")
        }
        return exe
    }

    /// Writes `text` as speech to `url` (mono 16-bit PCM WAV at ``sampleRate``).
    /// - Throws: ``ChatError/speech(_:)`` when the program is missing or fails, or the file cannot be written.
    public func speak(_ text: String, to url: URL) throws {
        let exe = try requireProgram()
        var spoken = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !spoken.isEmpty else { throw ChatError.speech("nothing to say: the reply is empty") }
        if spoken.count > Self.maxCharacters {
            let cut = spoken.prefix(Self.maxCharacters)
            spoken = String(cut[..<(cut.lastIndex(of: " ") ?? cut.endIndex)])
        }
        let raw = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).espeak-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).wav")
        defer { try? FileManager.default.removeItem(at: raw) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        // `--` ends the options: a reply starting with "-" is still text.
        process.arguments = ["-v", voice, "-s", String(wordsPerMinute), "-w", raw.path, "--", spoken]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw ChatError.speech("cannot run \(exe): \(error.localizedDescription)")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let line = String(decoding: message, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "no message"
            throw ChatError.speech("\(program) failed (status \(process.terminationStatus)): \(line)")
        }
        do {
            let audio = try AudioDecoder.decode(url: raw, sampleRate: sampleRate)
            try WAVEncoder.write(audio.samples, sampleRate: sampleRate, to: url)
        } catch {
            throw ChatError.speech("\(url.path): \(error)")
        }
    }
}
