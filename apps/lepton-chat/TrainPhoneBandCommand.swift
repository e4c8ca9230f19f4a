import ArgumentParser
import Foundation
import LeptonCLI
import LeptonEngine
import LeptonSpeech

struct TrainPhoneBandCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-phone-band",
        abstract: "Learn the phone-band map that makes 8 kHz calls look wideband to Whisper.",
        discussion: """
        Reads pairs of the same recording heard two ways, NAME.wav (wideband, above 8 kHz) and \
        NAME_tel8k.wav (its phone copy, 8 kHz or less), from each FOLDER, and learns a map from \
        the phone copy's Whisper features (log-mel, --context frames each side) to the wideband \
        ones: the mel bands the line passes (--keep-band) are kept as heard, the ones it removed \
        are predicted by a network with one hidden layer (--hidden units, Adam, --epochs passes, \
        seeded by --seed: the same pairs and options give the same file), or with --hidden 0 by \
        a linear map (ridge regression, closed form). The map is written as safetensors; give it to `transcribe --phone-band-map` or to an agent's \
        domain (settings.asr_phone_band_map), and phone calls are mapped before the encoder.

        Pairs can be made from any sentences with
        scripts/make-asr-augmentation.py --audio-only --keep-audio FOLDER (espeak-ng and sox).
        The map prints how far it brings the phone features to the wideband ones on the pairs \
        (mean squared error before and after) on stderr.

        With --hidden and --logdir DIR, every epoch's train_loss goes to DIR/curves.csv and \
        TensorBoard event files in DIR (the closed-form fit of --hidden 0 has no epochs: one row \
        with its mapped feature error, mse_mapped).

        Exit status: 0 ok, 1 unreadable pairs or output, 64 usage.

        Examples:
          python3 scripts/make-asr-augmentation.py --intents all --audio-only \\
              --seed 50 --voices-per-sentence 1 --keep-audio /tmp/pairs
          lepton-chat train-phone-band ../shared/data/speech/bank-dev \\
              --out /tmp/phone-band.safetensors
          lepton-chat train-phone-band ../shared/data/speech/bank-dev --hidden 0 \\
              --out /tmp/linear.safetensors --json
          lepton-chat transcribe --phone-band-map /tmp/phone-band.safetensors \\
              ../shared/data/speech/bank-dev/change_pin_02_tel8k.wav
        """)

    @Argument(help: "Folders of NAME.wav / NAME_tel8k.wav pairs.")
    var folders: [String] = []

    @Flag(name: .long, help: "Print the pairs, frames and feature errors before and after the map as one JSON object.")
    var json = false

    @Option(name: .long, help: "Output map file (.safetensors; written atomically).")
    var out: String

    @Option(name: .long, help: "Frames of context on each side of a predicted frame (10 ms each).")
    var context: Int = 2

    @Option(name: .long, help: "With --hidden 0: ridge penalty (larger = a map closer to zero; guards against few pairs).")
    var ridge: Double = 10

    @Option(name: .long, help: "Hidden units of the map's one GELU layer, trained by Adam (0 = a linear map fitted in closed form by ridge regression: faster to fit, fewer word errors removed).")
    var hidden: Int = 256

    @Option(name: .long, help: "With --hidden: passes over all frames.")
    var epochs: Int = 15

    @Option(name: .long, help: "With --hidden: Adam learning rate.")
    var learningRate: Float = 1e-3

    @Option(name: .long, help: ArgumentHelp("Pass band of the phone line in Hz: mel bands wholly inside it are kept as heard and only the others are predicted ('none': predict every band).", valueName: "low-high"))
    var keepBand: String = "300-3400"

    @OptionGroup var log: TrainingLogOptions

    @OptionGroup var saving: SaveDTypeOptions

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    /// `--keep-band` as a range of Hz (nil for `none`).
    var keptBand: ClosedRange<Double>? {
        get throws {
            if keepBand == "none" { return nil }
            let parts = keepBand.split(separator: "-").compactMap { Double($0) }
            guard parts.count == 2, parts[0] >= 0, parts[0] < parts[1], parts[1] <= 8000 else {
                throw ValidationError("--keep-band must be LOW-HIGH in Hz within 0-8000 (e.g. 300-3400), or none")
            }
            return parts[0]...parts[1]
        }
    }

    func validate() throws {
        guard !folders.isEmpty else { throw ValidationError("give at least one FOLDER of pairs") }
        guard (0...10).contains(context) else { throw ValidationError("--context must be 0...10") }
        guard ridge > 0, ridge.isFinite else { throw ValidationError("--ridge must be a positive number") }
        _ = try keptBand
        guard (0...4096).contains(hidden) else { throw ValidationError("--hidden must be 0...4096") }
        guard (1...1000).contains(epochs) else { throw ValidationError("--epochs must be 1...1000") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be a positive number") }
        if hidden > 0, keepBand != "none", (try? keptBand).map({ WhisperPhoneBandMap.bands(within: $0).count == WhisperLogMel.mels }) == true {
            throw ValidationError("--keep-band keeps every band: nothing left to predict")
        }
    }

    func run() throws {
        try runCommand("lepton-chat", common) {
            EngineThreads.set(common.threads)
            var pairs: [(wide: URL, phone: URL)] = []
            for folder in folders {
                let found = try WhisperPhoneBandMap.pairs(in: URL(fileURLWithPath: folder))
                if found.isEmpty { throw SpeechError.audio(path: folder, reason: "no NAME.wav / NAME_tel8k.wav pairs") }
                pairs += found
            }
            var recordings: [(wide: [Float], phone: [Float])] = []
            var reading = ProgressReporter(label: "reading pairs", total: pairs.count, unit: "pairs")
            for pair in pairs {
                recordings.append(try WhisperPhoneBandMap.features(wide: pair.wide, phone: pair.phone))
                reading.advance()
            }
            reading.finish()
            let kept = try keptBand.map { WhisperPhoneBandMap.bands(within: $0) } ?? []
            Log.debug("mel bands kept as heard: \(kept.first.map { "\($0)...\(kept.last!)" } ?? "none")")
            let curves = log.logdir == nil ? nil : try log.progress(epochs: hidden == 0 ? 1 : epochs, stepsPerEpoch: 0, quiet: true)
            var curveError: Error?
            let map: WhisperPhoneBandMap?
            if hidden == 0 {
                var fitter = WhisperPhoneBandMap.Fitter(context: context)
                for r in recordings { fitter.add(wide: r.wide, phone: r.phone) }
                map = fitter.solve(ridge: ridge, keeping: kept)
            } else {
                var trainer = WhisperPhoneBandMap.NetworkTrainer(context: context,
                                                                 bands: (0..<WhisperLogMel.mels).filter { !kept.contains($0) })
                for r in recordings { trainer.add(wide: r.wide, phone: r.phone) }
                map = trainer.train(hidden: hidden, epochs: epochs, learningRate: learningRate, seed: seeding.seed) { epoch, loss in
                    if !common.quiet { Log.info("epoch \(epoch)/\(epochs): training loss \(String(format: "%.4f", loss))") }
                    if curveError == nil { do { try curves?.endEpoch(metrics: ["train_loss": Float(loss)]) } catch { curveError = error } }
                }
            }
            if let curveError { throw curveError }
            guard let map else {
                throw SpeechError.model(path: out, reason: "no map could be fitted (no frames, or non-finite features)")
            }
            let frames = recordings.reduce(0) { $0 + min($1.wide.count, $1.phone.count) / WhisperLogMel.mels }
            let (before, after) = map.meanSquaredErrors(on: recordings)
            if hidden == 0 { try curves?.endEpoch(metrics: ["mse_mapped": Float(after)]) }
            Log.info("\(pairs.count) pairs, \(frames) frames: mean squared feature error \(String(format: "%.4f", before)) as heard, \(String(format: "%.4f", after)) mapped")
            try map.write(to: URL(fileURLWithPath: out), dtype: saving.saveDType)
            let identity = try ModelIdentity.of(name: "lepton-phone-band-map", version: hidden == 0 ? "linear" : "network \(hidden) hidden",
                                                files: [URL(fileURLWithPath: out)])
            Log.info("wrote \(out) (\(identity))")
            if json {
                emitLine(try jsonLine(PhoneBandReport(out: out, pairs: pairs.count, frames: frames, meanSquaredErrorAsHeard: Double(before),
                                                      meanSquaredErrorMapped: Double(after), model: identity)))
            }
        }
    }
}

/// `train-phone-band --json`: what the map does on its own pairs, and its identity.
struct PhoneBandReport: Encodable {
    var out: String
    var pairs: Int, frames: Int
    var meanSquaredErrorAsHeard: Double, meanSquaredErrorMapped: Double
    var model: ModelIdentity
}
