import Foundation
import LeptonAudio
import LeptonEngine

/// A learned map from the log-mel features of phone audio to those of the same speech heard
/// wideband: feature-domain bandwidth extension for Whisper.
///
/// A phone line keeps 300–3400 Hz; upsampled to 16 kHz, the top ~25 of Whisper's 80 mel bands
/// are empty and the fricatives that tell "PIN" from "BIN" or "savings" from "saying" are gone.
/// Whisper tiny.en, trained mostly on wideband speech, mishears such calls about twice as often.
/// This map predicts each wideband frame from the phone frames around it, one linear layer:
///
///     wide[t] = W · [phone[t−c], …, phone[t+c], 1]        (normalised log-mel, 80 values each)
///
/// It is fitted by ridge regression on pairs of the same recording heard both ways (a wideband
/// file and its phone copy), e.g. the calls `scripts/make-asr-augmentation.py --audio-only`
/// speaks; ``WhisperTranscriber`` applies it to files whose sample rate is 8 kHz or less.
///
/// Stored as safetensors (`lepton-chat train-phone-band` writes it):
/// - `phone_band.weight` `[80·(2c+1) + 1, 80]` F32, row `j` = input `j` (frame offset
///   `j / 80 − c`, mel band `j % 80`; the last row is the bias), column = output band
/// - metadata `format` = `lepton-phone-band-map`, `context` = `c`
public struct WhisperPhoneBandMap: Sendable {
    public static let format = "lepton-phone-band-map"
    static let weightName = "phone_band.weight"

    /// Frames of context on each side of the predicted frame.
    public let context: Int
    /// `[inputs, 80]`, row-major.
    public let weight: [Float]

    /// The mel bands that lie wholly within `band` (Hz): what a phone line (300–3400 Hz) passes.
    public static func bands(within band: ClosedRange<Double>) -> [Int] {
        let edges = WhisperLogMel.melEdgesHz
        return (0..<WhisperLogMel.mels).filter { band.contains(edges[$0]) && band.contains(edges[$0 + 2]) }
    }

    /// Inputs per predicted frame: `80 · (2·context + 1)` features and a constant 1.
    public var inputs: Int { Self.inputs(context: context) }
    static func inputs(context: Int) -> Int { WhisperLogMel.mels * (2 * context + 1) + 1 }

    /// - Precondition: `weight.count == inputs · 80`.
    public init(context: Int, weight: [Float]) {
        precondition(context >= 0 && weight.count == Self.inputs(context: context) * WhisperLogMel.mels)
        self.context = context
        self.weight = weight
    }

    /// Reads a map written by ``write(to:)``.
    /// - Throws: ``SpeechError/model(path:reason:)`` naming the file when it is not such a map.
    public init(contentsOf url: URL) throws {
        do {
            let store = try Safetensors.read(url)
            guard store.metadata["format"] == Self.format else {
                throw SpeechError.model(path: url.path, reason: "not a phone-band map (metadata format is not \(Self.format))")
            }
            guard let c = store.metadata["context"].flatMap(Int.init), (0...50).contains(c) else {
                throw SpeechError.model(path: url.path, reason: "metadata `context` must be a whole number in 0...50")
            }
            let w = try store.take(Self.weightName, shape: [Self.inputs(context: c), WhisperLogMel.mels])
            try store.finish()
            guard w.scalars.allSatisfy(\.isFinite) else {
                throw SpeechError.model(path: url.path, reason: "\(Self.weightName) holds a NaN or infinite value")
            }
            self.init(context: c, weight: w.scalars)
        } catch let e as SpeechError {
            throw e
        } catch {
            throw SpeechError.model(path: url.path, reason: "\(error)")
        }
    }

    /// Writes the map (atomically, as the engine's safetensors writer does).
    public func write(to url: URL) throws {
        try Safetensors.write([Self.weightName: WeightEntry(Tensor(shape: [inputs, WhisperLogMel.mels], scalars: weight))],
                              metadata: ["format": Self.format, "context": String(context)], to: url)
    }

    /// Replaces `frames` normalised frames `[frames, 80]` at `features` by the map's prediction.
    /// Context beyond either end repeats the end frame.
    public func apply(to features: UnsafeMutablePointer<Float>, frames: Int) {
        guard frames > 0 else { return }
        let k = inputs
        let stacked = UnsafeMutablePointer<Float>.allocate(capacity: frames * k)
        defer { stacked.deallocate() }
        Self.stack(features, frames: frames, context: context, into: stacked)
        weight.withUnsafeBufferPointer { w in
            BLAS.sgemm(m: frames, n: WhisperLogMel.mels, k: k, a: stacked, lda: k, b: w.baseAddress!,
                       ldb: WhisperLogMel.mels, c: features, ldc: WhisperLogMel.mels)
        }
    }

    /// Rows `[frame t−c … frame t+c, 1]` for every frame, `[frames, inputs]`.
    static func stack(_ features: UnsafePointer<Float>, frames: Int, context: Int, into out: UnsafeMutablePointer<Float>) {
        let mels = WhisperLogMel.mels, k = inputs(context: context)
        for t in 0..<frames {
            let row = out + t * k
            for o in -context...context {
                let s = min(max(t + o, 0), frames - 1)
                (row + (o + context) * mels).update(from: features + s * mels, count: mels)
            }
            row[k - 1] = 1
        }
    }
}

extension WhisperPhoneBandMap {
    /// The normal equations of the ridge regression, summed over recordings.
    public struct Fitter {
        public let context: Int
        /// Frames added so far.
        public private(set) var frames = 0
        private var xtx: [Double]
        private var xty: [Double]
        /// Σ wide², Σ phone², Σ phone·wide over all features added (for the errors).
        private var sums = (wide: 0.0, phone: 0.0, cross: 0.0)

        public init(context: Int) {
            precondition(context >= 0)
            self.context = context
            let k = WhisperLogMel.mels * (2 * context + 1) + 1
            xtx = [Double](repeating: 0, count: k * k)
            xty = [Double](repeating: 0, count: k * WhisperLogMel.mels)
        }

        /// Adds one recording: its normalised features heard wideband and through the phone line,
        /// both `[frames, 80]` (the longer one is cut to the shorter).
        public mutating func add(wide: [Float], phone: [Float]) {
            let mels = WhisperLogMel.mels, k = WhisperPhoneBandMap.inputs(context: context)
            let n = min(wide.count, phone.count) / mels
            guard n > 0 else { return }
            var x = [Float](repeating: 0, count: n * k)
            var gram = [Float](repeating: 0, count: k * k)
            var cross = [Float](repeating: 0, count: k * mels)
            phone.withUnsafeBufferPointer { p in
                x.withUnsafeMutableBufferPointer { WhisperPhoneBandMap.stack(p.baseAddress!, frames: n, context: context, into: $0.baseAddress!) }
            }
            x.withUnsafeBufferPointer { xb in
                wide.withUnsafeBufferPointer { wb in
                    gram.withUnsafeMutableBufferPointer {
                        BLAS.sgemm(m: k, n: k, k: n, a: xb.baseAddress!, lda: k, transA: true, b: xb.baseAddress!, ldb: k,
                                   c: $0.baseAddress!, ldc: k)
                    }
                    cross.withUnsafeMutableBufferPointer {
                        BLAS.sgemm(m: k, n: mels, k: n, a: xb.baseAddress!, lda: k, transA: true, b: wb.baseAddress!, ldb: mels,
                                   c: $0.baseAddress!, ldc: mels)
                    }
                }
            }
            for i in gram.indices { xtx[i] += Double(gram[i]) }
            for i in cross.indices { xty[i] += Double(cross[i]) }
            for i in 0..<(n * mels) {
                let w = Double(wide[i]), p = Double(phone[i])
                sums.wide += w * w; sums.phone += p * p; sums.cross += p * w
            }
            frames += n
        }

        /// Mean squared difference per feature between the wideband features and the phone ones as
        /// heard (`before`) and as `map` predicts them (`after`), over everything added.
        public func meanSquaredErrors(of map: WhisperPhoneBandMap) -> (before: Double, after: Double) {
            let k = WhisperPhoneBandMap.inputs(context: context), mels = WhisperLogMel.mels
            guard frames > 0, map.context == context else { return (.nan, .nan) }
            let count = Double(frames * mels)
            // ‖Y − XW‖² = ΣY² − 2·tr(WᵀXᵀY) + tr(WᵀXᵀX·W)
            var cross = 0.0, quadratic = 0.0
            for i in 0..<k {
                for c in 0..<mels { cross += Double(map.weight[i * mels + c]) * xty[i * mels + c] }
            }
            var xw = [Double](repeating: 0, count: k * mels)
            for i in 0..<k {
                for p in 0..<k where xtx[i * k + p] != 0 {
                    let a = xtx[i * k + p]
                    for c in 0..<mels { xw[i * mels + c] += a * Double(map.weight[p * mels + c]) }
                }
            }
            for i in 0..<(k * mels) { quadratic += Double(map.weight[i]) * xw[i] }
            return ((sums.wide - 2 * sums.cross + sums.phone) / count, (sums.wide - 2 * cross + quadratic) / count)
        }

        /// Solves `(XᵀX + ridge·I) W = XᵀY` (Cholesky, in Double).
        /// - Parameter keeping: mel bands passed through as heard (their column of `W` becomes
        ///   the identity on the centre frame), e.g. ``WhisperPhoneBandMap/bands(within:)`` of the
        ///   phone line's pass band: only the bands the line removed are predicted.
        /// - Returns: nil when no frames were added or the system is not positive definite.
        public func solve(ridge: Double, keeping: [Int] = []) -> WhisperPhoneBandMap? {
            let k = WhisperPhoneBandMap.inputs(context: context), mels = WhisperLogMel.mels
            guard frames > 0 else { return nil }
            var a = xtx
            for i in 0..<k { a[i * k + i] += ridge }
            // In place: the lower triangle of `a` becomes L with L·Lᵀ = A.
            for j in 0..<k {
                var d = a[j * k + j]
                for p in 0..<j { d -= a[j * k + p] * a[j * k + p] }
                guard d > 0, d.isFinite else { return nil }
                let l = d.squareRoot()
                a[j * k + j] = l
                for i in (j + 1)..<k {
                    var s = a[i * k + j]
                    for p in 0..<j { s -= a[i * k + p] * a[j * k + p] }
                    a[i * k + j] = s / l
                }
            }
            var w = xty
            for c in 0..<mels {
                // L·z = b, then Lᵀ·w = z.
                for i in 0..<k {
                    var s = w[i * mels + c]
                    for p in 0..<i { s -= a[i * k + p] * w[p * mels + c] }
                    w[i * mels + c] = s / a[i * k + i]
                }
                for i in stride(from: k - 1, through: 0, by: -1) {
                    var s = w[i * mels + c]
                    for p in (i + 1)..<k { s -= a[p * k + i] * w[p * mels + c] }
                    w[i * mels + c] = s / a[i * k + i]
                }
            }
            for b in keeping where (0..<mels).contains(b) {
                for i in 0..<k { w[i * mels + b] = 0 }
                w[(context * mels + b) * mels + b] = 1
            }
            return WhisperPhoneBandMap(context: context, weight: w.map { Float($0) })
        }
    }
}

extension WhisperPhoneBandMap.Fitter {
    /// Adds one recording from two files: `wide` (any rate above 8 kHz) and `phone`, its phone
    /// copy (8 kHz or less); both are resampled to 16 kHz as ``WhisperTranscriber`` does.
    /// - Throws: ``SpeechError/audio(path:reason:)`` when a file cannot be decoded or has the wrong band.
    public mutating func add(wide: URL, phone: URL) throws {
        func features(_ url: URL, phoneBand: Bool) throws -> [Float] {
            do {
                let audio = try AudioDecoder.decode(url: url, sampleRate: WhisperLogMel.sampleRate)
                guard (audio.source.sampleRate <= WhisperLogMel.sampleRate / 2) == phoneBand else {
                    throw SpeechError.audio(path: url.path, reason: phoneBand
                        ? "a phone copy must be sampled at 8 kHz or less (it is \(audio.source.sampleRate) Hz)"
                        : "a wideband recording must be sampled above 8 kHz (it is \(audio.source.sampleRate) Hz)")
                }
                return try WhisperLogMel.features(of: audio.samples).values
            } catch let e as AudioError {
                throw SpeechError.audio(path: url.path, reason: e.description)
            }
        }
        add(wide: try features(wide, phoneBand: false), phone: try features(phone, phoneBand: true))
    }

    /// The pairs of a folder: every `NAME_tel8k.wav` with a `NAME.wav` beside it (the layout of
    /// `scripts/make-asr-augmentation.py --keep-audio` and ../shared/data/speech/bank-dev), sorted.
    public static func pairs(in folder: URL) throws -> [(wide: URL, phone: URL)] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw SpeechError.audio(path: folder.path, reason: "cannot list the folder (\(error.localizedDescription))")
        }
        let present = Set(names)
        return names.sorted().compactMap { name in
            guard name.hasSuffix("_tel8k.wav") else { return nil }
            let wide = String(name.dropLast("_tel8k.wav".count)) + ".wav"
            guard present.contains(wide) else { return nil }
            return (folder.appendingPathComponent(wide), folder.appendingPathComponent(name))
        }
    }
}
