// AudioFileWriter.swift: writes any format libsndfile can encode (WAV variants, FLAC, Ogg/Vorbis, MP3, AIFF).

import CSndFile
import Foundation
import LeptonFiles

/// Output formats available through libsndfile.
public enum AudioFileFormat: Sendable, CaseIterable {
    case wavPCMU8, wavPCM16, wavPCM24, wavPCM32, wavFloat, wavULaw, wavALaw
    case flac16, flac24, oggVorbis, oggOpus, mp3, aiff16

    /// libsndfile's `SF_FORMAT_*` major | minor code.
    var code: Int32 {
        let wav = Int32(SF_FORMAT_WAV)
        switch self {
        case .wavPCMU8: return wav | Int32(SF_FORMAT_PCM_U8)
        case .wavPCM16: return wav | Int32(SF_FORMAT_PCM_16)
        case .wavPCM24: return wav | Int32(SF_FORMAT_PCM_24)
        case .wavPCM32: return wav | Int32(SF_FORMAT_PCM_32)
        case .wavFloat: return wav | Int32(SF_FORMAT_FLOAT)
        case .wavULaw: return wav | Int32(SF_FORMAT_ULAW)
        case .wavALaw: return wav | Int32(SF_FORMAT_ALAW)
        case .flac16: return Int32(SF_FORMAT_FLAC) | Int32(SF_FORMAT_PCM_16)
        case .flac24: return Int32(SF_FORMAT_FLAC) | Int32(SF_FORMAT_PCM_24)
        case .oggVorbis: return Int32(SF_FORMAT_OGG) | Int32(SF_FORMAT_VORBIS)
        case .oggOpus: return Int32(SF_FORMAT_OGG) | Int32(SF_FORMAT_OPUS)
        case .mp3: return Int32(SF_FORMAT_MPEG) | Int32(SF_FORMAT_MPEG_LAYER_III)
        case .aiff16: return Int32(SF_FORMAT_AIFF) | Int32(SF_FORMAT_PCM_16)
        }
    }

    /// Whether decoding returns the samples exactly (up to quantisation) rather than approximately.
    public var isLossless: Bool {
        switch self {
        case .oggVorbis, .oggOpus, .mp3: return false
        default: return true
        }
    }

    /// Conventional file extension.
    public var fileExtension: String {
        switch self {
        case .flac16, .flac24: return "flac"
        case .oggVorbis: return "ogg"
        case .oggOpus: return "opus"
        case .mp3: return "mp3"
        case .aiff16: return "aiff"
        default: return "wav"
        }
    }
}

/// Writes audio through libsndfile (atomically: temporary file, then rename).
public enum AudioFileWriter {
    /// Writes interleaved Float32 samples.
    /// - Parameters:
    ///   - samples: `[frames * channels]`, interleaved, nominally in [-1, 1] (integer formats clip).
    ///   - sampleRate: Hz.
    ///   - channels: interleaved channel count.
    ///   - format: container and encoding.
    ///   - url: destination; replaced atomically.
    public static func write(_ samples: [Float], sampleRate: Int, channels: Int = 1,
                             format: AudioFileFormat, to url: URL) throws {
        guard sampleRate > 0, channels >= 1, samples.count % channels == 0 else {
            throw AudioError.invalidArgument(detail: "\(samples.count) samples, \(channels) channels, \(sampleRate) Hz")
        }
        var info = SF_INFO()
        info.samplerate = Int32(clamping: sampleRate)
        info.channels = Int32(clamping: channels)
        info.format = format.code
        guard sf_format_check(&info) != 0 else {
            throw AudioError.unsupported(path: url.path, detail: "libsndfile cannot write \(format) at \(sampleRate) Hz, \(channels) channels")
        }
        do {
            try AtomicFile.write(to: url) { tmp in
                guard let handle = sf_open(tmp.path, Int32(SFM_WRITE), &info) else {
                    throw AudioError.writeFailed(path: url.path, detail: String(cString: sf_strerror(nil)))
                }
                var clip: Int32 = 1
                _ = sf_command(handle, Int32(SFC_SET_CLIPPING), &clip, 0)
                let frames = samples.count / channels
                let written = samples.withUnsafeBufferPointer { sf_writef_float(handle, $0.baseAddress, Int64(frames)) }
                let writeError = written == Int64(frames) ? nil : String(cString: sf_strerror(handle))
                let closeStatus = sf_close(handle)
                if let writeError { throw AudioError.writeFailed(path: url.path, detail: writeError) }
                if closeStatus != 0 { throw AudioError.writeFailed(path: url.path, detail: String(cString: sf_error_number(closeStatus))) }
            }
        } catch let e as FileWriteError {
            throw AudioError.writeFailed(path: url.path, detail: e.reason)
        }
    }
}
