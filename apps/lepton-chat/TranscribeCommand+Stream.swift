import ArgumentParser
import Foundation
import LeptonAudio
import LeptonCLI
import LeptonSpeech

/// `transcribe --stream`: audio read as it arrives, JSON lines out as utterances are heard.
struct StreamingOptions: ParsableArguments {
    @Flag(name: .long, help: "Live transcription of one FILE (or - : a 16-bit PCM WAV arriving on stdin): JSON lines {\"type\":\"partial\"|\"final\",\"start\",\"end\",\"text\"} as utterances are spoken and end (the voice-activity filter finds the ends; --vad-… options apply).")
    var stream = false

    @Flag(name: .long, help: "With --stream and a FILE: read it at the speed it plays, as a live call arrives.")
    var realtime = false

    @Option(name: .long, help: ArgumentHelp("With --stream: re-decode an utterance still being spoken every this much new audio and print its text as a partial (0 = finals only).", valueName: "ms"))
    var partialIntervalMs: Int = 1000

    @Option(name: .long, help: ArgumentHelp("With --stream: audio read per step.", valueName: "ms"))
    var chunkMs: Int = 100

    func validate() throws {
        guard (0...60_000).contains(partialIntervalMs) else { throw ValidationError("--partial-interval-ms must be 0...60000") }
        guard (10...10_000).contains(chunkMs) else { throw ValidationError("--chunk-ms must be 10...10000") }
        if !stream && (realtime || partialIntervalMs != 1000 || chunkMs != 100) {
            throw ValidationError("--realtime, --partial-interval-ms and --chunk-ms need --stream")
        }
    }
}

extension TranscribeCommand {
    /// Streams `path` (or stdin) through a ``WhisperStreamer``, one JSON line per event on stdout.
    func runStream(_ path: String, transcriber: WhisperTranscriber, filter: VoiceActivityFilter) throws {
        let streamer = WhisperStreamer(transcriber: transcriber, filter: filter,
                                       partialInterval: streaming.partialIntervalMs * SileroVAD.sampleRate / 1000)
        let chunk = streaming.chunkMs * SileroVAD.sampleRate / 1000
        func emit(_ events: [StreamEvent]) throws {
            for e in events { FileHandle.standardOutput.write(Data((e.jsonLine + "\n").utf8)) }
        }
        let source: () throws -> [Float]
        if path == "-" {
            let wav = try StreamingWAV(FileHandle.standardInput)
            source = { try wav.read(frames: chunk) }
        } else {
            let audio: AudioStream
            do { audio = try AudioStream(url: URL(fileURLWithPath: path), sampleRate: SileroVAD.sampleRate) } catch {
                throw CLIFailure.input(describe(error))
            }
            source = { try audio.read(maxFrames: chunk) }
        }
        let started = Date()
        var fed = 0
        while true {
            let samples: [Float]
            do { samples = try source() } catch let e as CLIFailure { throw e } catch { throw CLIFailure.input("\(path): \(describe(error))") }
            if samples.isEmpty { break }
            if streaming.realtime && path != "-" {
                // Audio is "heard" once it has been played: wait until the chunk's end is due.
                let due = Double(fed + samples.count) / Double(SileroVAD.sampleRate) - Date().timeIntervalSince(started)
                if due > 0 { Thread.sleep(forTimeInterval: due) }
            }
            fed += samples.count
            try emit(try streamer.append(samples))
        }
        try emit(try streamer.finish())
        Log.debug("\(path): \(String(format: "%.1f", Double(fed) / Double(SileroVAD.sampleRate))) s streamed; decoding \(String(format: "%.2f", streamer.decodeSeconds)) s, "
                  + "VAD \(String(format: "%.2f", streamer.vadSeconds)) s, wall \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
    }
}

/// A 16-bit PCM WAV file read as it arrives through a pipe (libsndfile's reader wants a regular
/// file): the RIFF header up to the `data` chunk, then samples, channels averaged. 16 kHz only.
final class StreamingWAV {
    private let handle: FileHandle
    private let channels: Int
    private var carry = Data()
    private var ended = false

    init(_ handle: FileHandle) throws {
        self.handle = handle
        func need(_ n: Int) throws -> Data {
            var d = Data()
            while d.count < n {
                let more = handle.readData(ofLength: n - d.count)
                if more.isEmpty { throw CLIFailure.input("-: stdin ended inside the WAV header") }
                d += more
            }
            return d
        }
        func u32(_ d: Data, _ at: Int) -> Int { d[d.startIndex + at ..< d.startIndex + at + 4].reversed().reduce(0) { $0 << 8 | Int($1) } }
        func u16(_ d: Data, _ at: Int) -> Int { Int(d[d.startIndex + at]) | Int(d[d.startIndex + at + 1]) << 8 }
        let riff = try need(12)
        guard riff.prefix(4) == Data("RIFF".utf8), riff.suffix(4) == Data("WAVE".utf8) else {
            throw CLIFailure.input("-: --stream reads a WAV file (RIFF/WAVE) from stdin")
        }
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)?
        var atData = false
        for _ in 0..<64 {
            let header = try need(8)
            let id = String(decoding: header.prefix(4), as: UTF8.self), size = u32(header, 4)
            if id == "data" { atData = true; break }
            guard size <= 1 << 20 else { throw CLIFailure.input("-: WAV chunk '\(id)' of \(size) bytes before the data") }
            let body = try need(size + (size & 1))
            if id == "fmt " {
                guard size >= 16 else { throw CLIFailure.input("-: WAV fmt chunk of \(size) bytes") }
                format = (u16(body, 0), u16(body, 2), u32(body, 4), u16(body, 14))
            }
        }
        guard let format, atData else { throw CLIFailure.input("-: no fmt and data chunks in the first 64 of the WAV header") }
        guard (format.tag == 1 || format.tag == 0xFFFE), format.bits == 16, format.rate == SileroVAD.sampleRate, (1...8).contains(format.channels) else {
            throw CLIFailure.input("-: --stream from stdin takes 16 kHz 16-bit PCM WAV (got \(format.rate) Hz, \(format.bits) bits, format \(format.tag)); give a FILE for other audio")
        }
        channels = format.channels
    }

    /// Up to `frames` frames (fewer when the pipe has fewer now; empty at the end).
    func read(frames: Int) throws -> [Float] {
        let frameBytes = 2 * channels
        while carry.count < frameBytes && !ended {
            let more = handle.readData(ofLength: frames * frameBytes - carry.count)
            if more.isEmpty { ended = true } else { carry += more }
        }
        let n = carry.count / frameBytes
        guard n > 0 else { return [] }
        var out = [Float](repeating: 0, count: n)
        carry.withUnsafeBytes { raw in
            for f in 0..<n {
                var sum: Float = 0
                for c in 0..<channels { sum += Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: (f * channels + c) * 2, as: Int16.self))) }
                out[f] = sum / Float(channels) / 32768
            }
        }
        carry.removeFirst(n * frameBytes)
        return out
    }
}
