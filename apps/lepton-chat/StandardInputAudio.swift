import Foundation
import LeptonCLI
import LeptonSpeech

/// Audio given as `-`: read from stdin into a private temporary file first, because the
/// transcriber reads its input twice (the log-mel maximum, then the windows) and a pipe can be
/// read once. The file is removed when done, whatever happens.
enum StandardInputAudio {
    /// The most stdin may bring (an hour of 48 kHz stereo 16-bit WAV is about 0.7 GB).
    static let maxBytes = 2 << 30

    /// Runs `body` on a private file holding what stdin brought.
    static func withFile(_ body: (URL) throws -> WhisperTranscription) throws -> WhisperTranscription {
        guard isatty(FileHandle.standardInput.fileDescriptor) == 0 else {
            throw CLIFailure.input("-: stdin is a terminal; pipe or redirect an audio file into it")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lepton-stdin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("stdin")
        guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let out = FileHandle(forWritingAtPath: url.path) else {
            throw CLIFailure.input("-: cannot create a temporary file in \(dir.path)")
        }
        var total = 0
        while true {
            let chunk = FileHandle.standardInput.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            total += chunk.count
            guard total <= maxBytes else {
                try? out.close()
                throw CLIFailure.input("-: more than \(maxBytes >> 30) GiB on stdin; give the file's path instead")
            }
            out.write(chunk)
        }
        try? out.close()
        guard total > 0 else { throw CLIFailure.input("-: stdin is empty") }
        do {
            return try body(url)
        } catch let SpeechError.audio(_, reason) {
            throw CLIFailure.input("-: \(reason)")
        } catch let CLIFailure.input(reason) {
            // The temporary file's name means nothing to the user: it was stdin.
            throw CLIFailure.input(reason.replacingOccurrences(of: url.path, with: "-"))
        }
    }
}
