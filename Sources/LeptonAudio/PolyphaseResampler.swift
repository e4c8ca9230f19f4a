// PolyphaseResampler.swift: FFmpeg libswresample's default resampler, rebuilt in Swift, so that
// Whisper hears a phone call exactly as faster-whisper's decoder (PyAV → libswresample) hands it over.
//
// Why not libsamplerate: on held-out 8 kHz calls the same Whisper made more word errors after
// libsamplerate's best sinc (43.3%) than faster-whisper did after libswresample (41.4%), although
// 16 kHz input (no resampling) gave identical transcripts. The model was trained on audio that went
// through FFmpeg; its filter (a short Kaiser-windowed sinc, cutoff 0.97 of the lower Nyquist) is
// the one it expects. The algorithm below is libswresample's with its default options
// (filter_size 32, phase_shift 10, linear_interp 1, exact_rational 1, cutoff 0.97, kaiser, β 9).
// Behind PyAV's filter graph it sums in float even for 16-bit sources (measured: a fixed-point
// sum differs from its output in a quarter of the samples, a float sum in none), and its output
// is rounded to 16 bits. `Tests/AudioTests/PolyphaseResamplerTests` compares with PyAV's output.

import Foundation

/// Streaming rational-ratio resampler with libswresample's default Kaiser-windowed sinc filter bank.
///
/// Output samples are 16-bit values scaled by 1/32768, as faster-whisper's `decode_audio` returns
/// them. Feed blocks with ``process(_:endOfInput:appendingTo:)``; the concatenated output equals a
/// one-shot conversion. The start of the signal is mirrored (x[−k] = x[k]) and the end reflected
/// (x[n+k] = x[n−1−k]) as libswresample does. Not thread-safe.
public final class PolyphaseResampler {
    public let inputRate: Int
    public let outputRate: Int
    /// Taps per phase (32 when upsampling; more when the band must be narrowed).
    public let tapCount: Int
    /// Phases in the bank: out/in reduced when that is ≤ 1024 (then no interpolation is needed).
    public let phaseCount: Int

    private let center: Int
    private let rowStride: Int
    private let bank: [Float]
    private let dstIncrDiv: Int
    private let dstIncrMod: Int
    private let srcIncr: Int
    private let interpolates: Bool

    /// Input not yet passed by every window: at first the mirrored prefix, then the source samples.
    private var buffer: [Float] = []
    private var started = false
    private var finished = false
    private var sampleIndex = 0
    private var index = 0
    private var frac = 0

    /// - Throws: ``AudioError/invalidArgument(detail:)`` for non-positive rates or a ratio beyond 1:256.
    public init(inputRate: Int, outputRate: Int) throws {
        guard inputRate > 0, outputRate > 0 else {
            throw AudioError.invalidArgument(detail: "sample rates must be positive (\(inputRate) -> \(outputRate))")
        }
        guard outputRate <= inputRate * 256, inputRate <= outputRate * 256 else {
            throw AudioError.invalidArgument(detail: "cannot resample \(inputRate) Hz to \(outputRate) Hz (beyond 1:256)")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate

        let cutoff = 0.97, filterSize = 32, kaiserBeta = 9.0
        let factor = min(Double(outputRate) * cutoff / Double(inputRate), 1.0)
        var taps = max(Int((Double(filterSize) / factor).rounded(.up)), 1)
        if taps > 1 { taps = (taps + 1) / 2 * 2 }
        var phases = 1 << 10
        let g = PolyphaseResampler.gcd(outputRate, inputRate)
        if outputRate / g <= phases { phases = outputRate / g }
        tapCount = taps
        phaseCount = phases
        center = (taps - 1) / 2
        rowStride = (taps + 7) / 8 * 8

        let (table, norm) = PolyphaseResampler.filterBank(taps: taps, phases: phases, factor: factor, beta: kaiserBeta)
        // Row `phases` is row 0 advanced by one input sample: the right neighbour of the last
        // phase when interpolating between rows.
        var rows = [[Double]](repeating: [Double](repeating: 0, count: rowStride), count: phases + 1)
        for p in 0..<phases { for i in 0..<taps { rows[p][i] = table[p][i] } }
        rows[phases][0] = rows[0][rowStride - 1]
        for i in 1..<rowStride { rows[phases][i] = rows[0][i - 1] }
        bank = rows.flatMap { row in row.map { Float($0 * 1 / norm) } }

        // Position step per output in phase units: in·phases/out = div + mod/srcIncr.
        var num = outputRate, den = inputRate * phases
        let r = PolyphaseResampler.gcd(num, den)
        num /= r; den /= r
        while den < (1 << 20) && num < (1 << 20) { den *= 2; num *= 2 }
        srcIncr = num
        dstIncrDiv = den / num
        dstIncrMod = den % num
        interpolates = dstIncrMod != 0
        index = -phases * center
    }

    /// libswresample's filter bank before normalisation and quantisation, `[phase][tap]`, and the
    /// sum of phase 0 that every phase is divided by.
    static func filterBank(taps: Int, phases: Int, factor: Double, beta: Double) -> (bank: [[Double]], norm: Double) {
        let center = (taps - 1) / 2
        let computed = phases % 2 == 1 ? phases : phases / 2 + 1
        var bank = [[Double]](repeating: [Double](repeating: 0, count: taps), count: phases)
        var norm = 0.0
        for p in 0..<computed {
            // For a full-band filter sin(x) alternates sign tap to tap: one sine per phase.
            var s = factor == 1.0 ? sin(Double.pi * Double(p) / Double(phases)) * (center & 1 == 1 ? 1 : -1) : 0
            var row = [Double](repeating: 0, count: taps)
            for i in 0..<taps {
                let x = Double.pi * (Double(i - center) - Double(p) / Double(phases)) * factor
                var y: Double
                if x == 0 { y = 1 } else if factor == 1.0 { y = s / x } else { y = sin(x) / x }
                let w = 2.0 * x / (factor * Double(taps) * Double.pi)
                y *= besselI0(beta * (max(1 - w * w, 0)).squareRoot())
                row[i] = y
                s = -s
                if p == 0 { norm += y }
            }
            bank[p] = row
        }
        // Even phase counts: phase phases−p is phase p reversed.
        if phases % 2 == 0 {
            for p in 1..<computed where phases - p != p { bank[phases - p] = bank[p].reversed() }
        }
        return (bank, norm)
    }

    /// Modified Bessel function of the first kind, order 0 (power series to double precision).
    static func besselI0(_ x: Double) -> Double {
        let q = x * x / 4
        var term = 1.0, sum = 1.0, k = 1.0
        while term > sum * 1e-17 {
            term *= q / (k * k)
            sum += term
            k += 1
        }
        return sum
    }

    static func gcd(_ a: Int, _ b: Int) -> Int {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    /// Converts one block (samples in [−1, 1]) and appends
    /// the output it could produce; `endOfInput: true` reflects the end and drains the rest.
    public func process(_ input: UnsafeBufferPointer<Float>, endOfInput: Bool, appendingTo output: inout [Float]) throws {
        if finished {
            if input.isEmpty { return }
            throw AudioError.resampler(detail: "input after end of input")
        }
        buffer.append(contentsOf: input)
        if !started {
            // Mirror the first taps around the first sample once enough of them have arrived.
            let have = buffer.count
            guard have >= tapCount + 1 else {
                // libswresample gives nothing for a stream shorter than its filter (4 ms at 8 kHz).
                if endOfInput { finished = true; buffer = [] }
                return
            }
            let mirrored = (1...tapCount).map { buffer[$0] }
            buffer.insert(contentsOf: mirrored.reversed(), at: 0)
            sampleIndex = tapCount
            while index < 0 { sampleIndex -= 1; index += phaseCount }
            started = true
        }
        run(appendingTo: &output)
        if endOfInput {
            // Only what the last outputs left unread is reflected (libswresample's flush).
            let pending = buffer.count - sampleIndex
            let reflection = (min(pending, tapCount) + 1) / 2
            let n = buffer.count
            for j in 0..<reflection { buffer.append(buffer[n - 1 - j]) }
            finished = true
        }
        run(appendingTo: &output)
        // Drop what no later output can reach.
        if sampleIndex > 65_536 {
            buffer.removeSubrange(0..<sampleIndex)
            sampleIndex = 0
        }
    }

    /// Array convenience for ``process(_:endOfInput:appendingTo:)``.
    public func process(_ input: [Float], endOfInput: Bool = false) throws -> [Float] {
        var out: [Float] = []
        try input.withUnsafeBufferPointer { try process($0, endOfInput: endOfInput, appendingTo: &out) }
        return out
    }

    /// Produces every output whose window lies inside `buffer`.
    private func run(appendingTo output: inout [Float]) {
        let taps = tapCount
        buffer.withUnsafeBufferPointer { src in
            while sampleIndex + taps <= src.count {
                let value = sample(src, row: index * rowStride, interpolate: interpolates)
                output.append(value)
                frac += dstIncrMod
                index += dstIncrDiv
                if frac >= srcIncr { frac -= srcIncr; index += 1 }
                while index >= phaseCount { sampleIndex += 1; index -= phaseCount }
            }
        }
    }

    private func sample(_ src: UnsafeBufferPointer<Float>, row: Int, interpolate: Bool) -> Float {
        let base = sampleIndex
        var val: Float = 0
        if interpolate {
            var v2: Float = 0
            for i in 0..<tapCount {
                val += src[base + i] * bank[row + i]
                v2 += src[base + i] * bank[row + rowStride + i]
            }
            val += (v2 - val) / Float(srcIncr) * Float(frac)
        } else {
            var val2: Float = 0
            var i = 0
            while i + 1 < tapCount {
                val += src[base + i] * bank[row + i]
                val2 += src[base + i + 1] * bank[row + i + 1]
                i += 2
            }
            if i < tapCount { val += src[base + i] * bank[row + i] }
            val += val2
        }
        // FFmpeg's float → s16 output: lrintf(x · 2^15), clipped.
        let q = (val * 32768).rounded(.toNearestOrEven)
        return Float(max(-32768, min(32767, q))) / 32768
    }
}
