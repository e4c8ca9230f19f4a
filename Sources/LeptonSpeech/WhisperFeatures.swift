import Foundation
import LeptonEngine

/// Where samples come from: mono Float32 at 16 kHz, read front to back in blocks.
public protocol WhisperSampleSource: AnyObject {
    /// The next `maxFrames` samples; fewer only at the end; empty when done.
    func read(maxFrames: Int) throws -> [Float]
}

/// An in-memory signal as a ``WhisperSampleSource``.
public final class WhisperArraySource: WhisperSampleSource {
    private let samples: [Float]
    private var position = 0
    public init(_ samples: [Float]) { self.samples = samples }
    public func read(maxFrames: Int) throws -> [Float] {
        let n = min(maxFrames, samples.count - position)
        defer { position += n }
        return Array(samples[position..<(position + n)])
    }
}

/// Whisper's log-mel front end, as faster-whisper 1.2.1's `FeatureExtractor` computes it.
///
/// For `N` samples at 16 kHz: 160 zeros are appended, the signal is reflect-padded by 200 on both
/// sides (`center=True`), framed with n_fft 400 / hop 160 and a periodic Hann window, the last
/// frame is dropped (`N/160 + 1` frames), power spectra (201 bins) go through 80 Slaney mel
/// filters, then `log10(max(·, 1e-10))`. Normalisation (clamp at the file's max − 8,
/// `(x + 4) / 4`) needs the maximum over the whole file, so callers stream the file twice:
/// ``scanMaximum()`` first, then ``window(start:frames:into:)`` for each 30 s window.
///
/// The 400-point DFT is a GEMM of the frames `[frames, 400]` against a precomputed windowed
/// cos|sin table `[400, 402]`: exact to float rounding and, at 3000 frames, faster than an FFT.
/// Memory is bounded by one window of samples, not by the file.
public final class WhisperLogMel {
    public static let sampleRate = 16_000
    public static let nFFT = 400
    public static let hop = 160
    public static let bins = 201
    public static let mels = 80

    /// `[400, 402]`: columns 0…200 `hann[n]·cos(2πkn/400)`, 201…401 `hann[n]·sin(2πkn/400)`.
    static let dftTable: [Float] = {
        var t = [Float](repeating: 0, count: nFFT * 2 * bins)
        for n in 0..<nFFT {
            let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(n) / Double(nFFT))
            for k in 0..<bins {
                let a = 2 * Double.pi * Double((k * n) % nFFT) / Double(nFFT)
                t[n * 2 * bins + k] = Float(w * cos(a))
                t[n * 2 * bins + bins + k] = Float(w * sin(a))
            }
        }
        return t
    }()

    /// The 82 Slaney-scale frequencies (Hz) that bound the mel filters: band `i` rises from
    /// `melEdgesHz[i]` to its peak at `[i + 1]` and falls to zero at `[i + 2]`.
    public static let melEdgesHz: [Double] = {
        let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
        func hzToMel(_ f: Double) -> Double { f >= minLogHz ? minLogMel + log(f / minLogHz) / logStep : f / fSp }
        func melToHz(_ m: Double) -> Double { m >= minLogMel ? minLogHz * exp(logStep * (m - minLogMel)) : fSp * m }
        let top = hzToMel(8000)
        return (0..<(mels + 2)).map { melToHz(top * Double($0) / Double(mels + 1)) }
    }()

    /// `[201, 80]` (transposed for the GEMM): Slaney-scale, Slaney-normalised triangular filters,
    /// 0–8000 Hz, as librosa `filters.mel(sr=16000, n_fft=400, n_mels=80)` computes them.
    public static let melFilters: [Float] = {
        let melF = melEdgesHz
        var w = [Float](repeating: 0, count: bins * mels)
        for i in 0..<mels {
            let enorm = 2 / (melF[i + 2] - melF[i])
            let lowDiff = melF[i + 1] - melF[i], highDiff = melF[i + 2] - melF[i + 1]
            for k in 0..<bins {
                let f = Double(k) * 8000 / Double(bins - 1)
                let lower = (f - melF[i]) / lowDiff
                let upper = (melF[i + 2] - f) / highDiff
                w[k * mels + i] = Float(max(0, min(lower, upper)) * enorm)
            }
        }
        return w
    }()

    private let source: WhisperSampleSource
    /// Samples `buffer[0..<count]` are signal indices `bufferStart…`.
    private var buffer: [Float] = []
    private var bufferStart = 0
    private var ended = false
    /// Largest mean square of the raw 400-sample frames computed by the last ``window(start:frames:maximum:into:)``.
    public private(set) var windowPeakMeanSquare: Float = 0
    /// Number of signal samples, known once the source is exhausted.
    public private(set) var sampleCount: Int?

    // Scratch, reused across calls (frames per chunk × …).
    private let chunkFrames = 500
    private var frameScratch: [Float]
    private var spectrumScratch: [Float]
    private var powerScratch: [Float]

    public init(source: WhisperSampleSource) {
        self.source = source
        frameScratch = [Float](repeating: 0, count: chunkFrames * Self.nFFT)
        spectrumScratch = [Float](repeating: 0, count: chunkFrames * 2 * Self.bins)
        powerScratch = [Float](repeating: 0, count: chunkFrames * Self.bins)
    }

    /// Mel frames of the file: `N/160 + 1` (known after the source ended).
    public var frameCount: Int? { sampleCount.map { $0 / Self.hop + 1 } }
    /// Frames that hold audio (faster-whisper's `content_frames`): `N/160`.
    public var contentFrames: Int? { sampleCount.map { $0 / Self.hop } }

    /// Reads until sample `index` is buffered or the source ends.
    private func ensure(_ index: Int) throws {
        while !ended && bufferStart + buffer.count <= index {
            let block = try source.read(maxFrames: max(16_000, index + 1 - bufferStart - buffer.count))
            if block.isEmpty { ended = true; sampleCount = bufferStart + buffer.count } else { buffer += block }
        }
    }

    /// Forgets samples before `index` (they will not be needed again).
    private func discard(before index: Int) {
        let drop = min(max(0, index - bufferStart), buffer.count)
        if drop > 0 { buffer.removeFirst(drop); bufferStart += drop }
    }

    /// Sample `j` of the zero-extended signal `x ++ zeros(160)` with reflection at both ends.
    private func paddedSample(_ jIn: Int, total: Int?) -> Float {
        var j = jIn
        if let n = total {
            let l = n + Self.hop
            if l == 1 { j = 0 } else {
                let period = 2 * (l - 1)
                j = ((j % period) + period) % period
                if j >= l { j = period - j }
            }
            if j >= n { return 0 }
        } else if j < 0 {
            j = -j
        }
        let k = j - bufferStart
        return k >= 0 && k < buffer.count ? buffer[k] : 0
    }

    /// Raw `log10(max(mel, 1e-10))` of frames `start..<start+count`, `[count, 80]` into `out`.
    /// Frames must exist (call after the needed samples can be read).
    private func rawFrames(start: Int, count: Int, into out: UnsafeMutablePointer<Float>) throws {
        var done = 0
        while done < count {
            let n = min(chunkFrames, count - done)
            let f0 = start + done
            try ensure((f0 + n - 1) * Self.hop + Self.nFFT / 2 + 1)
            let total = sampleCount
            frameScratch.withUnsafeMutableBufferPointer { fb in
                buffer.withUnsafeBufferPointer { bb in
                    for i in 0..<n {
                        let first = (f0 + i) * Self.hop - Self.nFFT / 2
                        let row = fb.baseAddress! + i * Self.nFFT
                        let inside = first >= 0 && first - bufferStart >= 0 && first + Self.nFFT - bufferStart <= bb.count
                            && (total.map { first + Self.nFFT <= $0 } ?? true)
                        if inside {
                            row.update(from: bb.baseAddress! + (first - bufferStart), count: Self.nFFT)
                        } else {
                            for t in 0..<Self.nFFT { row[t] = paddedSample(first + t, total: total) }
                        }
                        var energy: Float = 0
                        for t in 0..<Self.nFFT { energy += row[t] * row[t] }
                        windowPeakMeanSquare = max(windowPeakMeanSquare, energy / Float(Self.nFFT))
                    }
                }
            }
            Self.dftTable.withUnsafeBufferPointer { table in
                frameScratch.withUnsafeBufferPointer { fb in
                    spectrumScratch.withUnsafeMutableBufferPointer { sb in
                        BLAS.sgemm(m: n, n: 2 * Self.bins, k: Self.nFFT, a: fb.baseAddress!, lda: Self.nFFT,
                                   b: table.baseAddress!, ldb: 2 * Self.bins, c: sb.baseAddress!, ldc: 2 * Self.bins)
                    }
                }
            }
            spectrumScratch.withUnsafeBufferPointer { sb in
                powerScratch.withUnsafeMutableBufferPointer { pb in
                    let s = sb.baseAddress!, p = pb.baseAddress!
                    for i in 0..<n {
                        let re = s + i * 2 * Self.bins, im = re + Self.bins, o = p + i * Self.bins
                        for k in 0..<Self.bins { o[k] = re[k] * re[k] + im[k] * im[k] }
                    }
                }
            }
            Self.melFilters.withUnsafeBufferPointer { mf in
                powerScratch.withUnsafeBufferPointer { pb in
                    BLAS.sgemm(m: n, n: Self.mels, k: Self.bins, a: pb.baseAddress!, lda: Self.bins,
                               b: mf.baseAddress!, ldb: Self.mels, c: out + done * Self.mels, ldc: Self.mels)
                }
            }
            let o = out + done * Self.mels
            for i in 0..<(n * Self.mels) { o[i] = log10(max(o[i], 1e-10)) }
            done += n
        }
    }

    /// First pass: reads the whole source, returns the maximum raw log-mel value of the file
    /// (needed for the clamp). Afterwards ``sampleCount`` is known. Memory stays bounded.
    public func scanMaximum() throws -> Float {
        var best = -Float.infinity
        var start = 0
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkFrames * Self.mels)
        defer { scratch.deallocate() }
        while true {
            try ensure((start + chunkFrames) * Self.hop + Self.nFFT)
            let available: Int
            if let fc = frameCount { available = min(chunkFrames, fc - start) } else { available = chunkFrames }
            if available <= 0 { break }
            try rawFrames(start: start, count: available, into: scratch)
            for i in 0..<(available * Self.mels) where scratch[i] > best { best = scratch[i] }
            start += available
            discard(before: start * Self.hop - Self.nFFT)
        }
        return best
    }

    /// Normalised features of frames `start..<start+frames` (`frames ≤ 3000`), zero-padded to
    /// 3000 frames, time-major `[3000, 80]`, into `out`.
    ///
    /// - Parameter maximum: the file's maximum from ``scanMaximum()`` of an earlier pass.
    /// Windows must be requested in increasing `start` order (samples before are dropped).
    public func window(start: Int, frames: Int, maximum: Float, into out: UnsafeMutablePointer<Float>) throws {
        precondition(frames >= 0 && frames <= WhisperModel.encoderFrames)
        windowPeakMeanSquare = 0
        if frames > 0 { try rawFrames(start: start, count: frames, into: out) }
        let floor = maximum - 8
        for i in 0..<(frames * Self.mels) { out[i] = (max(out[i], floor) + 4) / 4 }
        (out + frames * Self.mels).update(repeating: 0, count: (WhisperModel.encoderFrames - frames) * Self.mels)
        discard(before: start * Self.hop - Self.nFFT)
    }

    /// The whole file's normalised log-mel `[frames, 80]` (tests; memory grows with the file).
    public static func features(of samples: [Float]) throws -> (values: [Float], frames: Int) {
        let pass1 = WhisperLogMel(source: WhisperArraySource(samples))
        let maximum = try pass1.scanMaximum()
        let frames = samples.count / hop + 1
        let pass2 = WhisperLogMel(source: WhisperArraySource(samples))
        var values = [Float](repeating: 0, count: frames * mels)
        try values.withUnsafeMutableBufferPointer { try pass2.rawFrames(start: 0, count: frames, into: $0.baseAddress!) }
        let floor = maximum - 8
        for i in values.indices { values[i] = (max(values[i], floor) + 4) / 4 }
        return (values, frames)
    }
}
