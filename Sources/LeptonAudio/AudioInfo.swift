// AudioInfo.swift: what a file's header says, and the limits a header must respect.

/// The properties of an opened audio file, as its header states them.
public struct AudioInfo: Sendable, Equatable {
    /// Sample rate in Hz.
    public var sampleRate: Int
    /// Interleaved channels in the file (the reader downmixes them to mono).
    public var channels: Int
    /// Frames (samples per channel) the header announces.
    public var frames: Int
    /// Container, e.g. "WAV (Microsoft)", "FLAC (Free Lossless Audio Codec)".
    public var container: String
    /// Sample encoding, e.g. "Signed 16 bit PCM", "U-Law".
    public var encoding: String
    /// libsndfile's format code (`SF_FORMAT_*` major | minor).
    public var formatCode: Int32

    /// Duration in seconds (`frames / sampleRate`).
    public var duration: Double { sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0 }
}

/// Bounds a header must respect before anything is allocated; a header outside them is hostile or corrupt.
public struct AudioLimits: Sendable, Equatable {
    /// Longest accepted duration in seconds (default 12 hours).
    public var maxDurationSeconds: Double
    /// Most channels accepted (default 64).
    public var maxChannels: Int
    /// Highest sample rate accepted in Hz (default 768 kHz).
    public var maxSampleRate: Int

    public init(maxDurationSeconds: Double = 12 * 3600, maxChannels: Int = 64, maxSampleRate: Int = 768_000) {
        self.maxDurationSeconds = maxDurationSeconds
        self.maxChannels = maxChannels
        self.maxSampleRate = maxSampleRate
    }

    /// The defaults: 12 h, 64 channels, 768 kHz.
    public static let `default` = AudioLimits()
}
