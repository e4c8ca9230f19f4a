// RawAudioDecoder.swift: headerless audio bytes as they arrive over a network (16-bit PCM or
// G.711 µ-law at a stated rate), turned into mono Float32 at the rate a model wants.

/// How the bytes of a raw audio stream encode its samples (FFmpeg's codec names).
public enum RawAudioEncoding: String, Sendable, CaseIterable {
    /// Signed 16-bit little-endian PCM, 2 bytes a sample.
    case pcmS16LE = "pcm_s16le"
    /// G.711 µ-law, 1 byte a sample (telephone audio, usually at 8 kHz).
    case pcmMuLaw = "pcm_mulaw"

    public var bytesPerSample: Int { self == .pcmS16LE ? 2 : 1 }
}

/// Decodes a raw mono stream block by block and resamples it to ``outputRate`` with the same
/// filter ``AudioStream`` uses for files (libswresample's), so that a stream and a file holding the
/// same samples give the same audio whatever the block sizes.
///
/// Samples become floats as libsndfile reads a WAV file of them: 16-bit PCM divided by 32768,
/// µ-law expanded to 16-bit linear by the G.711 table, then divided by 32768. Each block must hold
/// whole samples. Not thread-safe (one decoder per stream).
public final class RawAudioDecoder {
    public static let sampleRates = 8_000...48_000

    public let encoding: RawAudioEncoding
    public let inputRate: Int
    public let outputRate: Int
    private let resampler: Resampler?
    /// Samples decoded so far (at the input rate).
    public private(set) var inputSamples = 0

    /// - Throws: ``AudioError/invalidArgument(detail:)`` for a rate outside ``sampleRates``.
    public init(encoding: RawAudioEncoding, inputRate: Int, outputRate: Int) throws {
        guard Self.sampleRates.contains(inputRate) else {
            throw AudioError.invalidArgument(detail: "sample rate \(inputRate) Hz is outside \(Self.sampleRates.lowerBound)...\(Self.sampleRates.upperBound)")
        }
        self.encoding = encoding
        self.inputRate = inputRate
        self.outputRate = outputRate
        resampler = inputRate == outputRate ? nil : try Resampler(inputRate: inputRate, outputRate: outputRate, quality: .swresample)
    }

    /// The samples of one block of bytes, at ``outputRate`` (the resampler may hold a few back).
    /// - Throws: ``AudioError/invalidArgument(detail:)`` when the block does not hold whole samples.
    public func decode(_ bytes: UnsafeRawBufferPointer) throws -> [Float] {
        let width = encoding.bytesPerSample
        guard bytes.count % width == 0 else {
            throw AudioError.invalidArgument(detail: "\(encoding.rawValue) audio comes in whole \(width)-byte samples; a block of \(bytes.count) bytes splits one")
        }
        let n = bytes.count / width
        var samples = [Float](repeating: 0, count: n)
        switch encoding {
        case .pcmS16LE:
            for i in 0..<n { samples[i] = Float(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) / 32768 }
        case .pcmMuLaw:
            for i in 0..<n { samples[i] = Float(Self.muLawTable[Int(bytes[i])]) / 32768 }
        }
        inputSamples += n
        return try resample(samples, end: false)
    }

    /// What the resampler still holds, once the stream has ended.
    public func finish() throws -> [Float] { try resample([], end: true) }

    private func resample(_ samples: [Float], end: Bool) throws -> [Float] {
        guard let resampler else { return samples }
        var out: [Float] = []
        try samples.withUnsafeBufferPointer { try resampler.process($0, endOfInput: end, appendingTo: &out) }
        return out
    }

    /// G.711 µ-law to 16-bit linear (±32124), as ITU-T G.711 and libsndfile's table give it.
    static let muLawTable: [Int16] = (0..<256).map { byte in
        let u = ~UInt8(byte)
        let magnitude = ((Int(u & 0x0F) << 3) + 0x84) << Int((u >> 4) & 0x07) - 0x84
        return Int16(u & 0x80 != 0 ? -magnitude : magnitude)
    }
}
