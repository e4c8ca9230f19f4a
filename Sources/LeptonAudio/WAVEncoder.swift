// WAVEncoder.swift: a small, dependency-free RIFF/WAVE writer (16-bit PCM and 32-bit float).

import Foundation
import LeptonFiles

/// Sample encodings ``WAVEncoder`` writes.
public enum WAVSampleFormat: Sendable {
    /// Signed 16-bit PCM; samples are clamped to [-1, 1] and scaled by 32767.
    case pcm16
    /// IEEE 32-bit float (WAVE_FORMAT_IEEE_FLOAT), written as given.
    case float32
}

/// Builds WAV files in memory and writes them atomically. Independent of libsndfile, so tests can
/// check the reader against a writer that shares no code with it.
public enum WAVEncoder {
    /// Encodes interleaved samples as a complete WAV file.
    /// - Parameters:
    ///   - samples: `[frames * channels]`, interleaved.
    ///   - sampleRate: Hz, positive.
    ///   - channels: 1...65535; `samples.count` must be a multiple of it.
    /// - Returns: the file's bytes.
    public static func encode(_ samples: [Float], sampleRate: Int, channels: Int = 1,
                              format: WAVSampleFormat = .pcm16) throws -> Data {
        guard sampleRate > 0, sampleRate <= Int(UInt32.max) else {
            throw AudioError.invalidArgument(detail: "WAV sample rate \(sampleRate)")
        }
        guard channels >= 1, channels <= 65535, samples.count % channels == 0 else {
            throw AudioError.invalidArgument(detail: "\(samples.count) samples do not split into \(channels) channels")
        }
        let bytesPerSample = format == .pcm16 ? 2 : 4
        let dataBytes = samples.count * bytesPerSample
        guard dataBytes <= Int(UInt32.max) - 64 else {
            throw AudioError.invalidArgument(detail: "\(dataBytes) bytes exceed the 4 GiB WAV limit")
        }
        let frames = samples.count / channels
        var out = Data()
        out.reserveCapacity(dataBytes + 64)
        func u32(_ v: Int) { var x = UInt32(truncatingIfNeeded: v).littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        func u16(_ v: Int) { var x = UInt16(truncatingIfNeeded: v).littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        func tag(_ s: String) { out.append(contentsOf: Array(s.utf8)) }
        // Non-PCM formats carry an 18-byte fmt (cbSize) and a fact chunk, as the WAVE spec asks.
        let fmtSize = format == .pcm16 ? 16 : 18
        let factSize = format == .pcm16 ? 0 : 12
        tag("RIFF"); u32(4 + (8 + fmtSize) + factSize + 8 + dataBytes); tag("WAVE")
        tag("fmt "); u32(fmtSize)
        u16(format == .pcm16 ? 1 : 3)
        u16(channels); u32(sampleRate); u32(sampleRate * channels * bytesPerSample)
        u16(channels * bytesPerSample); u16(bytesPerSample * 8)
        if format == .float32 { u16(0); tag("fact"); u32(4); u32(frames) }
        tag("data"); u32(dataBytes)
        let start = out.count
        out.count += dataBytes
        out.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress! + start
            samples.withUnsafeBufferPointer { src in
                switch format {
                case .pcm16:
                    for i in 0..<src.count {
                        let v = max(-1, min(1, src[i])) * 32767
                        let q = Int16(v.rounded()).littleEndian
                        withUnsafeBytes(of: q) { (base + 2 * i).copyMemory(from: $0.baseAddress!, byteCount: 2) }
                    }
                case .float32:
                    for i in 0..<src.count {
                        let q = src[i].bitPattern.littleEndian
                        withUnsafeBytes(of: q) { (base + 4 * i).copyMemory(from: $0.baseAddress!, byteCount: 4) }
                    }
                }
            }
        }
        return out
    }

    /// Encodes and writes atomically (temporary file in the same folder, then rename).
    public static func write(_ samples: [Float], sampleRate: Int, channels: Int = 1,
                             format: WAVSampleFormat = .pcm16, to url: URL) throws {
        let data = try encode(samples, sampleRate: sampleRate, channels: channels, format: format)
        try AudioOutput.writeAtomically(data, to: url)
    }
}

/// How the audio writers replace a file: ``AtomicFile`` (unique temporary file in the same folder,
/// flushed, renamed; removed on failure), its failure reported as an ``AudioError``.
enum AudioOutput {
    static func writeAtomically(_ data: Data, to url: URL) throws {
        do { try AtomicFile.write(data, to: url) } catch {
            throw AudioError.writeFailed(path: url.path, detail: error.reason)
        }
    }
}
