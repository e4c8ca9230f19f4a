import Foundation
import LeptonAudio
import LeptonEngine

/// A learned map from the log-mel features of phone audio to those of the same speech heard
/// wideband: feature-domain bandwidth extension for Whisper.
///
/// A phone line keeps 300–3400 Hz; upsampled to 16 kHz, the top 23 and bottom 9 of Whisper's 80
/// mel bands are empty and the fricatives that tell "PIN" from "BIN" or "savings" from "saying"
/// are gone. Whisper tiny.en, trained mostly on wideband speech, mishears such calls about twice
/// as often. This map predicts each wideband frame from the phone frames around it
/// (`x[t] = [phone[t−c], …, phone[t+c]]`, normalised log-mel, 80 values each), in one of two ways:
///
/// - **linear**: `wide[t] = W · [x[t], 1]`, fitted in closed form by ridge regression
///   (``Fitter``); bands the line passed can be kept as heard (identity columns);
/// - **network** (``Network``): the bands the line removed are `gelu(x[t]·Wₕᵀ + bₕ)·Wₒᵀ + bₒ`,
///   trained by Adam (``NetworkTrainer``); the other bands are kept as heard. It makes fewer
///   word errors and, on the few real voices we have, did not hurt them (samples/bank/README.md).
///
/// Both learn from pairs of the same recording heard both ways (a wideband file and its phone
/// copy), e.g. the calls `scripts/make-asr-augmentation.py --audio-only` speaks;
/// ``WhisperTranscriber`` applies the map to files whose sample rate is 8 kHz or less.
///
/// Stored as safetensors (`lepton-chat train-phone-band` writes it), metadata `format` =
/// `lepton-phone-band-map`, `context` = `c`, and `kind` = `linear` (or absent) or `mlp`:
/// - linear: `phone_band.weight` `[80·(2c+1) + 1, 80]` F32, row `j` = input `j` (frame offset
///   `j / 80 − c`, mel band `j % 80`; the last row is the bias), column = output band;
/// - mlp: see ``Network``.
public struct WhisperPhoneBandMap: Sendable {
    public static let format = "lepton-phone-band-map"
    static let weightName = "phone_band.weight"

    /// Frames of context on each side of the predicted frame.
    public let context: Int
    /// The linear map, `[inputs, 80]` row-major; empty when ``network`` predicts instead.
    public let weight: [Float]
    /// The nonlinear map, when there is one (see ``Network``).
    public let network: Network?

    /// A one-hidden-layer network that predicts the removed bands from the stacked frames
    /// (`[frames, inputs − 1]`, without the constant): `gelu(x·Wₕᵀ + bₕ)·Wₒᵀ + bₒ` (exact GELU),
    /// written into ``bands``; every other band is kept as heard.
    ///
    /// Stored with metadata `kind` = `mlp` as `phone_band.hidden.weight` `[hidden, inputs − 1]`,
    /// `phone_band.hidden.bias` `[hidden]`, `phone_band.output.weight` `[bands, hidden]`,
    /// `phone_band.output.bias` `[bands]` (F32) and `phone_band.bands` `[bands]` (I64, mel band
    /// indices).
    public struct Network: Sendable {
        public let hiddenWeight: Tensor
        public let hiddenBias: Tensor
        public let outputWeight: Tensor
        public let outputBias: Tensor
        public let bands: [Int]

        /// Predictions `[frames, bands]` for stacked rows `x` `[frames, inputs − 1]`.
        func predict(_ x: Tensor) -> Tensor {
            Variable(x).linear(weight: Variable(hiddenWeight), bias: Variable(hiddenBias)).gelu()
                .linear(weight: Variable(outputWeight), bias: Variable(outputBias)).value
        }
    }

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
        network = nil
    }

    /// A nonlinear map.
    /// - Precondition: the network's shapes agree with `context` and with each other.
    public init(context: Int, network: Network) {
        let k = Self.inputs(context: context) - 1, h = network.hiddenBias.count, b = network.bands.count
        precondition(network.hiddenWeight.shape == [h, k] && network.outputWeight.shape == [b, h]
                     && network.outputBias.shape == [b] && network.bands.allSatisfy { (0..<WhisperLogMel.mels).contains($0) })
        self.context = context
        weight = []
        self.network = network
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
            let k = Self.inputs(context: c)
            func finite(_ name: String, _ t: Tensor) throws -> Tensor {
                guard t.scalars.allSatisfy(\.isFinite) else {
                    throw SpeechError.model(path: url.path, reason: "\(name) holds a NaN or infinite value")
                }
                return t
            }
            switch store.metadata["kind"] ?? "linear" {
            case "linear":
                let w = try finite(Self.weightName, try store.take(Self.weightName, shape: [k, WhisperLogMel.mels]))
                try store.finish()
                self.init(context: c, weight: w.scalars)
            case "mlp":
                let bandsEntry = try store.takeEntry("phone_band.bands")
                let bands = bandsEntry.integers().map(Int.init)
                guard bandsEntry.shape.count == 1, !bands.isEmpty, Set(bands).count == bands.count,
                      bands.allSatisfy({ (0..<WhisperLogMel.mels).contains($0) }) else {
                    throw SpeechError.model(path: url.path, reason: "phone_band.bands must list distinct mel bands 0...79")
                }
                let hw = try finite("phone_band.hidden.weight", try store.take("phone_band.hidden.weight"))
                guard hw.shape.count == 2, hw.shape[1] == k - 1, (1...4096).contains(hw.shape[0]) else {
                    throw SpeechError.weight(name: "phone_band.hidden.weight", reason: "shape \(hw.shape), expected [hidden ≤ 4096, \(k - 1)] (\(url.path))")
                }
                let h = hw.shape[0]
                let network = Network(
                    hiddenWeight: hw,
                    hiddenBias: try finite("phone_band.hidden.bias", try store.take("phone_band.hidden.bias", shape: [h])),
                    outputWeight: try finite("phone_band.output.weight", try store.take("phone_band.output.weight", shape: [bands.count, h])),
                    outputBias: try finite("phone_band.output.bias", try store.take("phone_band.output.bias", shape: [bands.count])),
                    bands: bands)
                try store.finish()
                self.init(context: c, network: network)
            case let other:
                throw SpeechError.model(path: url.path, reason: "unknown map kind `\(other)` (linear or mlp)")
            }
        } catch let e as SpeechError {
            throw e
        } catch {
            throw SpeechError.model(path: url.path, reason: "\(error)")
        }
    }

    /// Writes the map (atomically, as the engine's safetensors writer does), its weights stored as
    /// `dtype` (`--save-dtype`; the band indices stay integers).
    public func write(to url: URL, dtype: SaveDType = .float32) throws {
        if let n = network {
            try Safetensors.write(tensors: [
                "phone_band.hidden.weight": n.hiddenWeight, "phone_band.hidden.bias": n.hiddenBias,
                "phone_band.output.weight": n.outputWeight, "phone_band.output.bias": n.outputBias,
            ], saving: dtype, keeping: [
                "phone_band.bands": WeightEntry(encoding: Tensor(shape: [n.bands.count], scalars: n.bands.map(Float.init)), as: .i64),
            ], metadata: ["format": Self.format, "context": String(context), "kind": "mlp"], to: url)
            return
        }
        try Safetensors.write(tensors: [Self.weightName: Tensor(shape: [inputs, WhisperLogMel.mels], scalars: weight)], saving: dtype,
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
        if let network {
            let x = Tensor(shape: [frames, k - 1], unsafeUninitialized: { o in
                for t in 0..<frames { (o.baseAddress! + t * (k - 1)).update(from: stacked + t * k, count: k - 1) }
            })
            let y = network.predict(x)
            let b = network.bands.count
            y.withUnsafeBufferPointer { yb in
                for t in 0..<frames {
                    for (j, band) in network.bands.enumerated() { features[t * WhisperLogMel.mels + band] = yb[t * b + j] }
                }
            }
            return
        }
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
            frames += n
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

extension WhisperPhoneBandMap {
    /// Normalised features `[frames, 80]` of one recording from two files: `wide` (any rate
    /// above 8 kHz) and `phone`, its phone copy (8 kHz or less); both are resampled to 16 kHz as
    /// ``WhisperTranscriber`` does.
    /// - Throws: ``SpeechError/audio(path:reason:)`` when a file cannot be decoded or has the wrong band.
    public static func features(wide: URL, phone: URL) throws -> (wide: [Float], phone: [Float]) {
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
        return (try features(wide, phoneBand: false), try features(phone, phoneBand: true))
    }

    /// Mean squared difference per feature between the wideband features and the phone ones, as
    /// heard (`before`) and as this map predicts them (`after`), over `recordings` (each pair cut
    /// to the shorter).
    public func meanSquaredErrors(on recordings: [(wide: [Float], phone: [Float])]) -> (before: Double, after: Double) {
        var before = 0.0, after = 0.0, count = 0
        for r in recordings {
            let n = min(r.wide.count, r.phone.count) / WhisperLogMel.mels * WhisperLogMel.mels
            guard n > 0 else { continue }
            var mapped = Array(r.phone[0..<n])
            mapped.withUnsafeMutableBufferPointer { apply(to: $0.baseAddress!, frames: n / WhisperLogMel.mels) }
            for i in 0..<n {
                let w = Double(r.wide[i])
                before += (w - Double(r.phone[i])) * (w - Double(r.phone[i]))
                after += (w - Double(mapped[i])) * (w - Double(mapped[i]))
            }
            count += n
        }
        return count > 0 ? (before / Double(count), after / Double(count)) : (.nan, .nan)
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

extension WhisperPhoneBandMap {
    /// Trains the nonlinear map (``Network``) by Adam on mean squared error, full passes over
    /// all frames in a seeded order.
    public struct NetworkTrainer {
        public let context: Int
        /// The mel bands predicted (the others are kept as heard).
        public let bands: [Int]
        /// Stacked phone rows without the constant, `[frames, inputs − 1]`.
        private var rows: [Float] = []
        /// The wideband features of ``bands``, `[frames, bands]`.
        private var targets: [Float] = []
        public private(set) var frames = 0

        public init(context: Int, bands: [Int]) {
            precondition(context >= 0 && !bands.isEmpty)
            self.context = context
            self.bands = bands
        }

        /// Adds one recording (features `[frames, 80]` both; the longer is cut to the shorter).
        public mutating func add(wide: [Float], phone: [Float]) {
            let mels = WhisperLogMel.mels, k = WhisperPhoneBandMap.inputs(context: context)
            let n = min(wide.count, phone.count) / mels
            guard n > 0 else { return }
            var x = [Float](repeating: 0, count: n * k)
            phone.withUnsafeBufferPointer { p in
                x.withUnsafeMutableBufferPointer { WhisperPhoneBandMap.stack(p.baseAddress!, frames: n, context: context, into: $0.baseAddress!) }
            }
            rows.reserveCapacity(rows.count + n * (k - 1))
            for t in 0..<n {
                rows += x[(t * k)..<(t * k + k - 1)]
                for b in bands { targets.append(wide[t * mels + b]) }
            }
            frames += n
        }

        /// - Parameters:
        ///   - hidden: units of the hidden layer.
        ///   - epochs: full passes over the frames.
        ///   - batch: frames per Adam step.
        ///   - progress: called after each epoch with its number (from 1) and mean training loss.
        /// - Returns: nil when no frames were added.
        public func train(hidden: Int, epochs: Int, learningRate: Float = 1e-3, batch: Int = 256, seed: UInt64,
                          progress: (Int, Double) -> Void = { _, _ in }) -> WhisperPhoneBandMap? {
            guard frames > 0 else { return nil }
            let k1 = WhisperPhoneBandMap.inputs(context: context) - 1, p = bands.count
            var rng = SeededGenerator(seed: seed)
            let first = Linear(k1, hidden, rng: &rng), second = Linear(hidden, p, rng: &rng)
            let optimizer = Adam([first.weight, first.bias!, second.weight, second.bias!], learningRate: learningRate)
            var order = Array(0..<frames)
            for epoch in 1...max(epochs, 1) {
                order.shuffle(using: &rng)
                var total = 0.0, steps = 0
                for start in stride(from: 0, to: frames, by: batch) {
                    let picked = order[start..<min(start + batch, frames)]
                    let x = Tensor(shape: [picked.count, k1], unsafeUninitialized: { o in
                        rows.withUnsafeBufferPointer { r in
                            for (i, f) in picked.enumerated() { (o.baseAddress! + i * k1).update(from: r.baseAddress! + f * k1, count: k1) }
                        }
                    })
                    let y = Tensor(shape: [picked.count, p], unsafeUninitialized: { o in
                        targets.withUnsafeBufferPointer { r in
                            for (i, f) in picked.enumerated() { (o.baseAddress! + i * p).update(from: r.baseAddress! + f * p, count: p) }
                        }
                    })
                    let loss = mseLoss(second(first(Variable(x)).gelu()), y)
                    optimizer.zeroGrad()
                    loss.backward()
                    optimizer.step()
                    total += Double(loss.value[flat: 0]); steps += 1
                }
                progress(epoch, total / Double(max(steps, 1)))
            }
            return WhisperPhoneBandMap(context: context, network: Network(
                hiddenWeight: first.weight.value, hiddenBias: first.bias!.value,
                outputWeight: second.weight.value, outputBias: second.bias!.value, bands: bands))
        }
    }
}
