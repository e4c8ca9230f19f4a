// Resampler.swift: incremental sample-rate conversion: FFmpeg's filter (the default, what
// Whisper's own tools hear) or libsamplerate's.

import CSampleRate

/// Which filter converts the rate.
public enum ResamplerQuality: Sendable {
    /// FFmpeg libswresample's default Kaiser-windowed sinc (``PolyphaseResampler``), with 16-bit
    /// output as faster-whisper's decoder makes it. The default: on 8 kHz phone calls Whisper makes
    /// fewer word errors after it than after libsamplerate's best sinc.
    case swresample
    /// `SRC_SINC_BEST_QUALITY`: band-limited sinc, about 97 dB stop-band attenuation.
    case best
    /// `SRC_SINC_MEDIUM_QUALITY`: about 4x faster than `.best` (5 min of 8 kHz → 16 kHz: 3.6 s vs
    /// 13.3 s on a loaded 2-core machine) and still far below -60 dB of images/aliases (ResamplerTests).
    case medium
    /// `SRC_SINC_FASTEST`.
    case fastest

    var converter: Int32 {
        switch self {
        case .swresample: preconditionFailure("libswresample's filter is not a libsamplerate converter")
        case .best: return Int32(SRC_SINC_BEST_QUALITY)
        case .medium: return Int32(SRC_SINC_MEDIUM_QUALITY)
        case .fastest: return Int32(SRC_SINC_FASTEST)
        }
    }
}

/// Converts a mono Float32 stream from one rate to another, block by block.
///
/// Feed consecutive blocks with ``process(_:endOfInput:)``; the filter state carries over, so the
/// concatenated outputs equal a one-shot conversion. Pass `endOfInput: true` with the last block
/// (possibly empty) to flush the filter tail. Total output length ≈ `input × outputRate / inputRate`.
/// Not thread-safe.
public final class Resampler {
    /// Input rate in Hz.
    public let inputRate: Int
    /// Output rate in Hz.
    public let outputRate: Int
    /// `outputRate / inputRate`.
    public let ratio: Double

    private let state: OpaquePointer?
    private var polyphase: PolyphaseResampler?
    private var scratch: [Float] = []
    private var finished = false

    /// - Throws: ``AudioError/invalidArgument(detail:)`` for non-positive rates or a ratio
    ///   beyond 1:256, ``AudioError/resampler(detail:)`` if libsamplerate fails to start.
    public init(inputRate: Int, outputRate: Int, quality: ResamplerQuality = .swresample) throws {
        if quality == .swresample {
            polyphase = try PolyphaseResampler(inputRate: inputRate, outputRate: outputRate)
            self.inputRate = inputRate
            self.outputRate = outputRate
            self.ratio = Double(outputRate) / Double(inputRate)
            self.state = nil
            return
        }
        guard inputRate > 0, outputRate > 0 else {
            throw AudioError.invalidArgument(detail: "sample rates must be positive (\(inputRate) -> \(outputRate))")
        }
        let ratio = Double(outputRate) / Double(inputRate)
        guard src_is_valid_ratio(ratio) != 0 else {
            throw AudioError.invalidArgument(detail: "cannot resample \(inputRate) Hz to \(outputRate) Hz (ratio \(ratio))")
        }
        var error: Int32 = 0
        guard let state = src_new(quality.converter, 1, &error) else {
            throw AudioError.resampler(detail: String(cString: src_strerror(error)))
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.ratio = ratio
        self.state = state
    }

    deinit { if let state { src_delete(state) } }

    /// Converts one block and returns the output it produced (may be shorter or longer than
    /// `input.count × ratio` because of the filter delay; the totals agree at the end).
    public func process(_ input: [Float], endOfInput: Bool = false) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(Int(Double(input.count) * ratio) + 64)
        try input.withUnsafeBufferPointer { try process($0, endOfInput: endOfInput, appendingTo: &out) }
        return out
    }

    /// Converts `input` and appends the produced samples to `output`.
    public func process(_ input: UnsafeBufferPointer<Float>, endOfInput: Bool, appendingTo output: inout [Float]) throws {
        if let polyphase {
            do {
                try polyphase.process(input, endOfInput: endOfInput, appendingTo: &output)
            } catch AudioError.resampler {
                throw AudioError.resampler(detail: "input after end of input; call reset() first")
            }
            return
        }
        guard let state else { return }
        if finished {
            if input.isEmpty { return }
            throw AudioError.resampler(detail: "input after end of input; call reset() first")
        }
        var consumed = 0
        var dummy: Float = 0
        while true {
            let remaining = input.count - consumed
            let capacity = max(4096, Int(Double(remaining) * ratio) + 256)
            if scratch.count < capacity { scratch = [Float](repeating: 0, count: capacity) }
            var produced = 0
            var used = 0
            let status: Int32 = scratch.withUnsafeMutableBufferPointer { out in
                withUnsafeMutablePointer(to: &dummy) { dummyPointer in
                    var data = SRC_DATA()
                    data.data_in = remaining > 0 ? UnsafePointer(input.baseAddress! + consumed) : UnsafePointer(dummyPointer)
                    data.input_frames = remaining
                    data.data_out = out.baseAddress
                    data.output_frames = out.count
                    data.end_of_input = endOfInput ? 1 : 0
                    data.src_ratio = ratio
                    let s = src_process(state, &data)
                    produced = data.output_frames_gen
                    used = data.input_frames_used
                    return s
                }
            }
            if status != 0 { throw AudioError.resampler(detail: String(cString: src_strerror(status))) }
            consumed += used
            if produced > 0 { output.append(contentsOf: scratch[0..<produced]) }
            if consumed >= input.count {
                // Without end of input, everything consumed is enough; with it, drain until nothing comes out.
                if !endOfInput { return }
                if produced == 0 { finished = true; return }
            } else if used == 0 && produced == 0 {
                throw AudioError.resampler(detail: "no progress (\(remaining) frames pending)")
            }
        }
    }

    /// Clears the filter state so a new, unrelated stream can be converted.
    public func reset() {
        if polyphase != nil {
            polyphase = try? PolyphaseResampler(inputRate: inputRate, outputRate: outputRate)
        }
        if let state { src_reset(state) }
        finished = false
    }
}
