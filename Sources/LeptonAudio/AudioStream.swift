// AudioStream.swift: chunked decode + resample, and the whole-file convenience built on it.

import Foundation

/// Reads a file as mono Float32 at a requested rate, in blocks of a fixed number of frames.
///
/// Memory is bounded by the block size plus one input block (8192 frames) and the resampler's
/// state, so a 1-hour recording streams through a few hundred kilobytes.
/// ```swift
/// let stream = try AudioStream(url: url, sampleRate: 16_000)
/// while case let block = try stream.read(maxFrames: 30 * 16_000), !block.isEmpty { ... }
/// ```
public final class AudioStream {
    /// The underlying file reader (its `info` describes the source).
    public let reader: AudioReader
    /// Rate of the samples ``read(maxFrames:)`` returns.
    public let sampleRate: Int

    private let resampler: Resampler?
    private var pending: [Float] = []
    private var pendingStart = 0
    private var inputBlock: [Float]
    private var inputDone = false
    private var drained = false

    /// Opens `url` for streaming.
    /// - Parameters:
    ///   - sampleRate: output rate in Hz; `nil` keeps the file's own rate (no resampling).
    ///   - quality: the filter (default: FFmpeg's, as faster-whisper's decoder resamples).
    ///   - inputBlockFrames: how many source frames to decode per refill.
    ///   - channel: the one channel to read (0-based), or nil to average them all.
    /// - Throws: as ``AudioReader``; ``AudioError/invalidArgument(detail:)`` for a channel the file lacks.
    public init(url: URL, sampleRate: Int? = nil, quality: ResamplerQuality = .swresample,
                limits: AudioLimits = .default, inputBlockFrames: Int = 8192, channel: Int? = nil) throws {
        let reader = try AudioReader(url: url, limits: limits)
        if let channel {
            guard (0..<reader.info.channels).contains(channel) else {
                throw AudioError.invalidArgument(detail: "\(url.path) has \(reader.info.channels) channel(s), no channel \(channel + 1)")
            }
            reader.channel = channel
        }
        self.reader = reader
        let rate = sampleRate ?? reader.info.sampleRate
        self.sampleRate = rate
        resampler = rate == reader.info.sampleRate ? nil
            : try Resampler(inputRate: reader.info.sampleRate, outputRate: rate, quality: quality)
        inputBlock = [Float](repeating: 0, count: max(256, inputBlockFrames))
    }

    /// The source's properties.
    public var info: AudioInfo { reader.info }

    /// Expected number of output frames (from the header; unknown-length streams give `nil`).
    public var expectedFrames: Int? {
        guard info.frames != Int.max else { return nil }
        return Int((Double(info.frames) * Double(sampleRate) / Double(info.sampleRate)).rounded())
    }

    /// Returns the next `maxFrames` mono frames at ``sampleRate``; fewer only at the end, empty when done.
    public func read(maxFrames: Int) throws -> [Float] {
        guard maxFrames > 0 else { throw AudioError.invalidArgument(detail: "maxFrames must be positive, got \(maxFrames)") }
        while pending.count - pendingStart < maxFrames && !drained {
            try refill()
        }
        let n = min(maxFrames, pending.count - pendingStart)
        let block = Array(pending[pendingStart..<(pendingStart + n)])
        pendingStart += n
        if pendingStart > 65_536 && pendingStart * 2 > pending.count {
            pending.removeSubrange(0..<pendingStart)
            pendingStart = 0
        }
        return block
    }

    /// Decodes one input block and pushes it through the resampler.
    private func refill() throws {
        var n = 0
        if !inputDone {
            n = try inputBlock.withUnsafeMutableBufferPointer { try reader.read(into: $0) }
            if n < inputBlock.count { inputDone = true }
        }
        guard let resampler else {
            pending.append(contentsOf: inputBlock[0..<n])
            if inputDone { drained = true }
            return
        }
        try inputBlock.withUnsafeBufferPointer { all in
            try resampler.process(UnsafeBufferPointer(rebasing: all[0..<n]), endOfInput: inputDone, appendingTo: &pending)
        }
        if inputDone { drained = true }
    }
}

/// A whole file decoded to mono Float32.
public struct DecodedAudio: Sendable {
    /// `[frames]` mono samples.
    public var samples: [Float]
    /// Rate of `samples` in Hz.
    public var sampleRate: Int
    /// What the source file's header said.
    public var source: AudioInfo

    /// Duration of `samples` in seconds.
    public var duration: Double { Double(samples.count) / Double(sampleRate) }
}

/// Whole-file decoding, built on ``AudioStream``.
public enum AudioDecoder {
    /// Decodes `url` to mono Float32, resampled to `sampleRate` (or the file's own rate when `nil`).
    /// - Throws: ``AudioError`` naming the file.
    public static func decode(url: URL, sampleRate: Int? = nil, quality: ResamplerQuality = .swresample,
                              limits: AudioLimits = .default) throws -> DecodedAudio {
        let stream = try AudioStream(url: url, sampleRate: sampleRate, quality: quality, limits: limits)
        var samples: [Float] = []
        if let expected = stream.expectedFrames { samples.reserveCapacity(expected + 64) }
        while true {
            let block = try stream.read(maxFrames: 65_536)
            if block.isEmpty { break }
            samples.append(contentsOf: block)
        }
        return DecodedAudio(samples: samples, sampleRate: stream.sampleRate, source: stream.info)
    }
}
