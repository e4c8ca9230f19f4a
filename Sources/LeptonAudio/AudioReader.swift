// AudioReader.swift: streaming decode of any format libsndfile reads, downmixed to mono Float32.

import CSndFile
import Foundation

/// Reads an audio file block by block as mono Float32 at the file's own rate.
///
/// Opening validates the file before anything large is allocated: it must exist, be non-empty,
/// be a container libsndfile recognises, and have a header within ``AudioLimits`` (a WAV whose
/// `data` chunk claims more bytes than the file holds is reported as truncated or absurd).
/// Multichannel audio is downmixed by averaging channels. Integer encodings come out in [-1, 1).
///
/// Memory stays bounded by the block size: a 1-hour file is never held whole.
/// ```swift
/// let reader = try AudioReader(url: url)
/// while case let block = try reader.read(maxFrames: 16_000), !block.isEmpty { ... }
/// ```
/// Not thread-safe: use one reader per thread.
public final class AudioReader {
    /// The file being read.
    public let url: URL
    /// What the header says (rate, channels, frames, format names).
    public let info: AudioInfo
    /// Frames (per channel) delivered so far.
    public private(set) var framesRead: Int = 0
    /// The one channel to deliver (0-based), or nil to average all channels (the default).
    public var channel: Int? = nil

    /// What the C decoder printed (kept off stderr; damage it reports is an error).
    private let messages = DecoderMessages()
    private var handle: OpaquePointer?
    private var interleaved: [Float] = []
    private var finished = false

    /// Opens and validates `url`.
    /// - Parameters:
    ///   - url: a local file.
    ///   - limits: bounds the header must respect.
    /// - Throws: ``AudioError`` naming the file: `fileNotFound`, `emptyFile`, `notAudio`,
    ///   `unsupported`, `malformed`, `truncated`, `absurdLength`, `noFrames`.
    public init(url: URL, limits: AudioLimits = .default) throws {
        self.url = url
        let path = url.path
        let fileSize = try AudioFileProbe.regularFileSize(path)
        if fileSize == 0 { throw AudioError.emptyFile(path: path) }
        let head = try AudioFileProbe.readPrefix(path, count: 64)
        try AudioFileProbe.checkRIFF(path: path, fileSize: fileSize, limits: limits)

        var sfInfo = SF_INFO()
        let opening = messages.capture { sf_open(path, Int32(SFM_READ), &sfInfo) }
        guard let opened = opening else {
            let message = String(cString: sf_strerror(nil))
            // An Ogg file cut inside its header pages does not open: say it is cut, if it is.
            if head.starts(with: Array("OggS".utf8)) { try AudioFileProbe.checkOggEnd(path: path, fileSize: fileSize) }
            throw AudioFileProbe.classifyOpenFailure(path: path, head: head, fileSize: fileSize, message: message)
        }
        handle = opened
        let container = AudioReader.formatName(Int32(sfInfo.format) & Int32(SF_FORMAT_TYPEMASK), major: true)
        let encoding = AudioReader.formatName(Int32(sfInfo.format) & Int32(SF_FORMAT_SUBMASK), major: false)
        let info = AudioInfo(sampleRate: Int(sfInfo.samplerate), channels: Int(sfInfo.channels),
                             frames: sfInfo.frames == Int64.max ? Int.max : Int(sfInfo.frames),
                             container: container, encoding: encoding, formatCode: sfInfo.format)
        self.info = info
        // Validate the header; `deinit` closes the handle if we throw from here.
        if info.channels < 1 || info.channels > limits.maxChannels {
            throw AudioError.unsupported(path: path, detail: "\(info.channels) channels (limit \(limits.maxChannels))")
        }
        if info.sampleRate < 1 || info.sampleRate > limits.maxSampleRate {
            throw AudioError.unsupported(path: path, detail: "sample rate \(info.sampleRate) Hz (limit \(limits.maxSampleRate))")
        }
        if (info.formatCode & Int32(SF_FORMAT_TYPEMASK)) == Int32(SF_FORMAT_OGG) {
            try AudioFileProbe.checkOggEnd(path: path, fileSize: fileSize)
        }
        try checkDecoderMessages()
        if info.frames != Int.max {
            if info.frames < 0 { throw AudioError.truncated(path: path, detail: "negative frame count in header") }
            if info.frames == 0 { throw AudioError.noFrames(path: path) }
            if info.duration > limits.maxDurationSeconds {
                throw AudioError.absurdLength(path: path, seconds: info.duration, limitSeconds: limits.maxDurationSeconds)
            }
        }
    }

    deinit {
        if let handle { sf_close(handle) }
    }

    /// Reads up to `maxFrames` frames, downmixed to mono.
    /// - Returns: `[frames]` samples; fewer than `maxFrames` only at the end, empty once the file is done.
    /// - Throws: ``AudioError/readFailed(path:detail:)`` on a decode error,
    ///   ``AudioError/truncated(path:detail:)`` when the stream ends before the announced length,
    ///   ``AudioError/malformed(path:detail:)`` for a NaN or infinite sample.
    public func read(maxFrames: Int) throws -> [Float] {
        guard maxFrames > 0 else { throw AudioError.invalidArgument(detail: "maxFrames must be positive, got \(maxFrames)") }
        var out = [Float](repeating: 0, count: maxFrames)
        let n = try out.withUnsafeMutableBufferPointer { try read(into: $0) }
        if n < maxFrames { out.removeSubrange(n...) }
        return out
    }

    /// Reads up to `buffer.count` mono frames into `buffer` without allocating (after the first call).
    /// - Returns: frames written; 0 once the file is done.
    public func read(into buffer: UnsafeMutableBufferPointer<Float>) throws -> Int {
        guard let handle, !finished, let dst = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let channels = info.channels
        let want = buffer.count
        var got: Int64 = 0
        // Only the MP3 decoder prints on stderr; capturing costs a few system calls per block.
        let decode = { (body: () -> Int64) -> Int64 in self.isMPEG ? self.messages.capture(body) : body() }
        if channels == 1 {
            got = decode { sf_readf_float(handle, dst, Int64(want)) }
        } else {
            if interleaved.count < want * channels { interleaved = [Float](repeating: 0, count: want * channels) }
            got = interleaved.withUnsafeMutableBufferPointer { src -> Int64 in
                let n = decode { sf_readf_float(handle, src.baseAddress!, Int64(want)) }
                if let channel, channel < channels {
                    for i in 0..<Int(max(n, 0)) { dst[i] = src[i * channels + channel] }
                } else {
                    AudioReader.downmix(src.baseAddress!, channels: channels, frames: Int(max(n, 0)), into: dst)
                }
                return n
            }
        }
        do { try checkDecoderMessages() } catch { finished = true; throw error }
        let error = sf_error(handle)
        if error != 0 {
            finished = true
            let message = String(cString: sf_strerror(handle))
            throw AudioError.readFailed(path: url.path, detail: message)
        }
        let n = Int(max(got, 0))
        // Float encodings can carry NaN/Inf (corrupt or hostile data); they would poison every
        // downstream sum (resampler, log-mel), so they are an error rather than silently passed on.
        for i in 0..<n where !dst[i].isFinite {
            finished = true
            throw AudioError.malformed(path: url.path, detail: "non-finite sample (\(dst[i])) at frame \(framesRead + i)")
        }
        framesRead += n
        if n < want {
            finished = true
            // Compressed streams can end early without sf_error being set: compare with the header.
            if info.frames != Int.max && framesRead < info.frames && !isMPEG {
                throw AudioError.truncated(path: url.path,
                                           detail: "stream ended after \(framesRead) of \(info.frames) frames")
            }
        }
        return n
    }

    /// Damage the decoder reported on stderr (mpg123: bad frames, a stream shorter than its header).
    private func checkDecoderMessages() throws {
        guard let line = messages.firstDamage else { return }
        let detail = line.replacingOccurrences(of: #"^\[[^\]]*\] *"#, with: "", options: .regularExpression)
        if line.contains("Xing stream size off") {
            throw AudioError.truncated(path: url.path, detail: "the MP3 stream is shorter than its header says (\(detail))")
        }
        throw AudioError.malformed(path: url.path, detail: "the MP3 decoder reports damaged frames (\(detail))")
    }

    /// MP3 frame counts are estimates (no exact length field), so they are not held against the stream.
    private var isMPEG: Bool { (info.formatCode & Int32(SF_FORMAT_TYPEMASK)) == Int32(SF_FORMAT_MPEG) }

    /// Averages `channels` interleaved samples per frame into `dst[frame]`.
    @inline(__always)
    static func downmix(_ src: UnsafePointer<Float>, channels: Int, frames: Int, into dst: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(channels)
        if channels == 2 {
            for i in 0..<frames { dst[i] = (src[2 * i] + src[2 * i + 1]) * 0.5 }
            return
        }
        for i in 0..<frames {
            var s: Float = 0
            let base = src + i * channels
            for c in 0..<channels { s += base[c] }
            dst[i] = s * scale
        }
    }

    /// libsndfile's name for a major (container) or minor (encoding) format code.
    static func formatName(_ code: Int32, major _: Bool) -> String {
        var fi = SF_FORMAT_INFO()
        fi.format = code
        // SFC_GET_FORMAT_INFO answers for major and minor codes alike.
        let status = sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &fi, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
        guard status == 0, let name = fi.name else { return String(format: "0x%06x", code) }
        return String(cString: name)
    }
}
