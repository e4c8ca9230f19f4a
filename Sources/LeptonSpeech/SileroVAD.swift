import Foundation
import LeptonEngine
import LeptonONNX

extension ModelCache {
    /// Silero VAD v6 as faster-whisper 1.2.1 ships it (`silero_vad_v6.onnx`, MIT; put there by
    /// scripts/bootstrap.sh from the faster-whisper wheel).
    public static var sileroVAD: URL { root.appendingPathComponent("silero-vad/silero_vad_v6.onnx") }
}

/// Silero VAD v6: a speech probability for every 32 ms window (512 samples at 16 kHz) of a
/// signal, run through LeptonONNX (STFT as a 1-D convolution, four convolutions, an LSTM whose
/// state runs from window to window, a sigmoid).
///
/// Fed as faster-whisper's `SileroVADModel` feeds it: each window is preceded by the last 64
/// samples of the window before (zeros for the first), and the LSTM state carries on from one
/// window to the next, so probabilities computed window by window as audio arrives
/// (``Stream``) equal those of the whole signal at once (``probabilities(_:)``).
///
/// Immutable and `Sendable`: one detector serves many threads; a ``Stream`` belongs to one caller.
public final class SileroVAD: Sendable {
    public static let sampleRate = 16_000
    /// Samples per window (32 ms).
    public static let windowSamples = 512
    /// Samples of the previous window given before each window.
    public static let contextSamples = 64
    static let stateWidth = 128
    /// Windows per model call in batch use: powers of two (at most this many shapes are planned).
    static let largestBatch = 256

    let model: ONNXModel
    /// The file it was read from.
    public let file: String

    /// Loads the model (by default from the cache scripts/bootstrap.sh fills).
    /// - Throws: ``SpeechError/model(path:reason:)`` when the file is missing or not the expected graph.
    public init(contentsOf url: URL = ModelCache.sileroVAD) throws {
        file = url.path
        do {
            model = try ONNXModel(contentsOf: url)
        } catch {
            throw SpeechError.model(path: url.path, reason: "\(error)")
        }
        let names = Set(model.inputs.map(\.name))
        guard names == ["input", "h", "c"], model.outputs.count == 3 else {
            throw SpeechError.model(path: url.path, reason: "not Silero VAD v6 (inputs \(names.sorted()), outputs \(model.outputs))")
        }
        // Plan (and check) the one-window shape now, so a wrong file fails at load.
        _ = try run(windows: [Float](repeating: 0, count: Self.windowSamples + Self.contextSamples), count: 1,
                    state: (Tensor(shape: [1, 1, Self.stateWidth]), Tensor(shape: [1, 1, Self.stateWidth])))
    }

    /// The speech probability of each 512-sample window of `audio` (16 kHz mono), as
    /// faster-whisper's `get_speech_timestamps` computes them: the signal is padded with zeros
    /// to a whole number of windows plus at least one sample (a full window of zeros when it is
    /// already a multiple), and the last window's final 64 samples are zeroed (faster-whisper's
    /// context handling writes zeros there through a NumPy view; kept so the numbers agree).
    public func probabilities(_ audio: [Float]) throws -> [Float] {
        var stream = Stream(detector: self)
        var out = try stream.append(audio)
        out += try stream.finish()
        return out
    }

    /// Window-by-window detection of a signal that arrives in pieces.
    public struct Stream {
        public let detector: SileroVAD
        private var h = Tensor(shape: [1, 1, SileroVAD.stateWidth]), c = Tensor(shape: [1, 1, SileroVAD.stateWidth])
        private var context = [Float](repeating: 0, count: SileroVAD.contextSamples)
        /// Samples of the window being filled.
        private var pending: [Float] = []
        /// Samples appended so far.
        public private(set) var sampleCount = 0
        /// Windows whose probability has been returned.
        public private(set) var windowCount = 0

        public init(detector: SileroVAD) { self.detector = detector }

        /// Adds samples; returns the probabilities of the windows they completed.
        public mutating func append(_ samples: [Float]) throws -> [Float] {
            sampleCount += samples.count
            pending += samples
            let whole = pending.count / SileroVAD.windowSamples
            guard whole > 0 else { return [] }
            let used = whole * SileroVAD.windowSamples
            let probs = try run(Array(pending[..<used]))
            pending.removeFirst(used)
            return probs
        }

        /// Ends the signal: the probability of the last (padded) window, as ``probabilities(_:)`` has it.
        public mutating func finish() throws -> [Float] {
            var last = pending + [Float](repeating: 0, count: SileroVAD.windowSamples - pending.count)
            for i in (SileroVAD.windowSamples - SileroVAD.contextSamples)..<SileroVAD.windowSamples { last[i] = 0 }
            pending = []
            return try run(last)
        }

        /// Runs whole windows (their samples back to back) in batches of powers of two.
        private mutating func run(_ samples: [Float]) throws -> [Float] {
            let n = samples.count / SileroVAD.windowSamples, width = SileroVAD.windowSamples + SileroVAD.contextSamples
            var out: [Float] = []
            out.reserveCapacity(n)
            var done = 0
            while done < n {
                var batch = SileroVAD.largestBatch
                while batch > n - done { batch /= 2 }
                var input = [Float](repeating: 0, count: batch * width)
                for w in 0..<batch {
                    let src = (done + w) * SileroVAD.windowSamples
                    let row = w * width
                    for k in 0..<SileroVAD.contextSamples { input[row + k] = context[k] }
                    for k in 0..<SileroVAD.windowSamples { input[row + SileroVAD.contextSamples + k] = samples[src + k] }
                    for k in 0..<SileroVAD.contextSamples { context[k] = samples[src + SileroVAD.windowSamples - SileroVAD.contextSamples + k] }
                }
                let r = try detector.run(windows: input, count: batch, state: (h, c))
                out += r.probabilities
                (h, c) = (r.h, r.c)
                done += batch
            }
            windowCount += n
            return out
        }
    }

    /// One model call on `count` windows of 576 samples (context first).
    func run(windows: [Float], count: Int, state: (h: Tensor, c: Tensor)) throws -> (probabilities: [Float], h: Tensor, c: Tensor) {
        let width = Self.windowSamples + Self.contextSamples
        do {
            let plan = try model.plan(inputShapes: ["input": [count, width], "h": [1, 1, Self.stateWidth], "c": [1, 1, Self.stateWidth]])
            let out = try plan.run(["input": .float(Tensor(shape: [count, width], scalars: windows)), "h": .float(state.h), "c": .float(state.c)])
            guard let p = out[model.outputs[0]]?.floatTensor, p.count == count,
                  let h = out[model.outputs[1]]?.floatTensor, let c = out[model.outputs[2]]?.floatTensor else {
                throw SpeechError.model(path: file, reason: "unexpected outputs \(out.mapValues(\.shape))")
            }
            return (p.scalars, h, c)
        } catch let e as SpeechError {
            throw e
        } catch {
            throw SpeechError.model(path: file, reason: "\(error)")
        }
    }
}
