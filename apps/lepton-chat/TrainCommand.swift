import ArgumentParser
import Foundation
import LeptonDialog
import LeptonText
import LeptonVoice
import LeptonCLI
import LeptonEngine

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an intent model (a head on the MiniLM sentence encoder) from nlu.yml or CSV data.",
        discussion: """
        The data is Rasa-style nlu.yml (intents with examples) or CSV with a header `text,category` \
        (as BANKING77's train.csv). Every sentence is encoded once by all-MiniLM-L6-v2 (frozen). \
        By default (--solver lbfgs) the head is an L2-regularised softmax regression solved to its \
        optimum by L-BFGS, as scikit-learn's LogisticRegression (C = --regularization-c): it is \
        fitted on all but a stratified --val-fraction of each intent, scored on those, then refitted \
        on every example. With --solver adam (or an MLP head, --hidden) it is trained by AdamW on \
        label-smoothed cross-entropy, and the epoch with the best validation accuracy is kept (early \
        stopping after --patience epochs without progress). \
        Beside it, a softmax regression on TF-IDF word (1-2-gram) and character (2-5-gram) features \
        is fitted the same way; the two heads' probabilities are mixed with --lexical-weight \
        (the two kinds of features make different mistakes: on BANKING77 the mixture is about one \
        point more accurate than the encoder head alone; 0 keeps the encoder head only). \
        The model folder gets intent-model.json (labels, encoder, thresholds), head.safetensors, \
        with the n-gram head lexicon.json and lexical.safetensors, and asr-corpus.txt: the training \
        sentences (without the recipe sources marked `asr_corpus: false`) for a speech recognizer's \
        language model (the domain's asr_language_model_weight, or transcribe --corpus).

        Examples:
          lepton-chat train --data ../shared/data/banking77/train.csv \\
              --out /tmp/banking77-model
          lepton-chat train --data samples/bank/nlu.yml --out /tmp/bank-model \\
              --val-fraction 0
          lepton-chat train --data samples/bank/nlu.yml --out /tmp/bank-mlp \\
              --hidden 512 --epochs 40 --threshold 0.4
          lepton-chat train --data samples/bank/nlu.yml --out /tmp/bank-encoder-only \\
              --lexical-weight 0 --json
          lepton-chat train --data samples/bank/nlu.yml --out /tmp/bank-adam \\
              --solver adam --epochs 5 --logdir /tmp/bank-adam-run

        --logdir DIR writes the training curves to DIR/curves.csv and TensorBoard event files in \
        DIR: with --solver adam, --hidden or --fine-tune one row per epoch (train_loss, and \
        val_accuracy with a validation split); with the L-BFGS solver, which has no epochs, one row \
        with the validation accuracy of its fit.

        Progress (sentences encoded) is shown on stderr. JSON: out, labels, train_examples, \
        validation_examples, validation_accuracy, encoding_seconds, fitting_seconds, model {name, \
        version, sha256}, … Exit status: 0 ok, 1 bad data/model/output, 64 usage.
        """)

    @Option(name: .long, help: "Training data: nlu.yml/.yaml or .csv (text,category).")
    var data: String

    @Option(name: .long, help: "Output model folder (created).")
    var out: String

    @Flag(name: .long, help: "Also fine-tune the encoder's top layers (transfer learning).")
    var fineTune = false

    @Option(name: .long, help: "With --fine-tune: encoder layers trained (from the top).")
    var fineTuneLayers: Int = 2

    @Option(name: .long, help: "With --fine-tune: most epochs of fine-tuning; it stops after --patience/4 epochs without a better validation accuracy, and the best epoch is kept.")
    var fineTuneEpochs: Int = 4

    @Option(name: .long, help: "With --fine-tune: AdamW learning rate of the encoder layers.")
    var encoderLearningRate: Float = 1e-4

    @Option(name: .long, help: "Share of each intent held out for early stopping (0 = none; train --epochs).")
    var valFraction: Double = 0.1

    @Option(name: .long, help: "Maximum epochs.")
    var epochs: Int = 60

    @Option(name: .long, help: "Stop after this many epochs without a better validation accuracy.")
    var patience: Int = 8

    @Option(name: .long, help: "Hidden units of an MLP head (0 = softmax regression).")
    var hidden: Int = 0

    @Option(name: .long, help: "AdamW learning rate.")
    var learningRate: Float = 0.01

    @Option(name: .long, help: "Share of a TF-IDF word and character n-gram head in the predicted probabilities (0 = the encoder head alone). The n-gram head is trained on the same split; the model folder then also holds lexicon.json.")
    var lexicalWeight: Float = 0.5

    @Option(name: .long, help: "Adam learning rate of the n-gram head.")
    var lexicalLearningRate: Float = 0.01

    @Option(name: .long, help: "How the softmax-regression heads are fitted: lbfgs (L2-regularised logistic regression solved to its optimum, then refitted on all examples) or adam (mini-batches, label smoothing, early stopping). Fine-tuning always uses adam.")
    var solver: IntentSolver = .lbfgs

    @Option(name: .long, help: "With --solver lbfgs: inverse L2 strength of the encoder head (scikit-learn's C).")
    var regularizationC: Float = 20

    @Option(name: .long, help: "With --solver lbfgs: inverse L2 strength of the n-gram head.")
    var lexicalRegularizationC: Float = 20

    @Option(name: .long, help: "Label smoothing of the cross-entropy.")
    var labelSmoothing: Float = 0.1

    @Option(name: .long, help: "Below this top-1 probability `classify` answers the fallback intent (0 = always the top intent; a bot's domain has its own fallback_threshold).")
    var threshold: Float = 0

    @Option(name: .long, help: "Below this top-1 minus top-2 probability the prediction is the fallback intent.")
    var margin: Float = 0

    @Option(name: .long, help: "Name of the fallback intent.")
    var fallbackIntent: String = "nlu_fallback"

    @Option(name: .long, help: "Sentence-encoder folder (default: the bootstrapped all-MiniLM-L6-v2), or a sentence encoder exported from PyTorch as MODEL.onnx (input_ids, attention_mask -> last hidden state; fed by the MiniLM tokenizer; the model records its path and sha256, and classify/respond run it).")
    var encoder: String?

    @Flag(name: .long, help: "Print the training report as one JSON object.")
    var json = false

    @OptionGroup var log: TrainingLogOptions

    @OptionGroup var saving: SaveDTypeOptions

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    func validate() throws {
        guard (0..<1).contains(valFraction) else { throw ValidationError("--val-fraction must be in [0, 1)") }
        guard epochs >= 1, patience >= 1, hidden >= 0 else { throw ValidationError("--epochs/--patience must be ≥ 1, --hidden ≥ 0") }
        guard (0...1).contains(lexicalWeight), lexicalLearningRate > 0 else {
            throw ValidationError("--lexical-weight must be in [0, 1], --lexical-learning-rate > 0")
        }
        guard regularizationC > 0, lexicalRegularizationC > 0 else { throw ValidationError("--regularization-c and --lexical-regularization-c must be > 0") }
        guard (0..<1).contains(labelSmoothing), learningRate > 0 else { throw ValidationError("--label-smoothing in [0, 1), --learning-rate > 0") }
        guard (1...6).contains(fineTuneLayers), fineTuneEpochs >= 1, encoderLearningRate > 0 else {
            throw ValidationError("--fine-tune-layers must be 1...6, --fine-tune-epochs ≥ 1, --encoder-learning-rate > 0")
        }
    }

    func run() throws {
        try runCommand("lepton-chat", common) {
            EngineThreads.set(common.threads)
            let nlu = try NLUData.load(URL(fileURLWithPath: data))
            let examples = nlu.labeledTexts
            Log.info("\(examples.count) examples from \(data)")
            let enc: SentenceEncoder
            if let e = encoder, e.hasSuffix(".onnx") {
                if fineTune { throw CLIFailure.usage("--fine-tune trains the native MiniLM's layers; an ONNX encoder (--encoder \(e)) stays frozen") }
                enc = try SentenceEncoder(onnx: URL(fileURLWithPath: e))
            } else {
                enc = try SentenceEncoder(folder: encoder.map { URL(fileURLWithPath: $0) } ?? ModelCache.miniLM)
            }
            var o = IntentTrainingOptions()
            o.validationFraction = valFraction; o.epochs = epochs; o.patience = patience; o.hiddenUnits = hidden
            o.learningRate = learningRate; o.labelSmoothing = labelSmoothing; o.confidenceThreshold = threshold
            o.marginThreshold = margin; o.fallbackIntent = fallbackIntent; o.seed = seeding.seed
            o.lexicalWeight = lexicalWeight; o.lexicalLearningRate = lexicalLearningRate
            o.solver = solver
            o.inverseRegularization = regularizationC; o.lexicalInverseRegularization = lexicalRegularizationC
            let start = Date()
            let curves = log.logdir == nil ? nil : try log.progress(epochs: fineTune ? fineTuneEpochs : epochs, stepsPerEpoch: 0, quiet: true)
            var curveError: Error?
            /// One row of the curves per epoch (the trainers report epoch by epoch, after its batches).
            func logEpoch(_ loss: Double?, _ accuracy: Double?) {
                guard let curves, curveError == nil else { return }
                var metrics: [String: Float] = [:]
                if let loss { metrics["train_loss"] = Float(loss) }
                if let accuracy { metrics["val_accuracy"] = Float(accuracy) }
                do { try curves.endEpoch(metrics: metrics) } catch { curveError = error }
            }
            let (model, report): (IntentModel, IntentTrainingReport)
            if fineTune {
                var settings = IntentFineTuner.Settings()
                settings.layers = fineTuneLayers; settings.epochs = fineTuneEpochs
                settings.encoderLearningRate = encoderLearningRate
                (model, report) = try IntentFineTuner.train(examples, encoder: enc, options: o, settings: settings) { epoch, loss, acc in
                    // Epoch 0 is the frozen head fitted first, not an epoch of fine-tuning.
                    if epoch > 0 { logEpoch(loss, acc) }
                    Log.info("fine-tune epoch \(epoch): loss \(String(format: "%.4f", loss))" + (acc.map { String(format: ", validation accuracy %.4f", $0) } ?? ""))
                }
            } else {
                var encoding = ProgressReporter(label: "encoding", unit: "sentences")
                var encoded = false
                (model, report) = try IntentTrainer.train(examples, encoder: enc, options: o, encoding: { done, total in
                    if encoding.total != total { encoding = ProgressReporter(label: "encoding", total: total, unit: "sentences") }
                    encoding.update(done: done)
                    if done == total, !encoded {
                        encoded = true
                        encoding.finish()
                        Log.info("fitting the intent head" + (lexicalWeight > 0 ? "s" : "") + " (\(solver.rawValue))")
                    }
                }) { epoch, loss, acc in
                    logEpoch(loss, acc)
                    Log.debug("epoch \(epoch): loss \(String(format: "%.4f", loss))" + (acc.map { String(format: ", validation accuracy %.4f", $0) } ?? ""))
                }
            }
            // L-BFGS has no epochs: its fit is the curve's one row.
            if curves?.epoch == 0 { logEpoch(nil, report.validationAccuracy) }
            if let curveError { throw curveError }
            // The sentences for an agent's speech recognizer first: the config, written last, marks a complete folder.
            try RecognizerCorpus.write(nlu.corpusTexts, to: URL(fileURLWithPath: out))
            try model.save(to: URL(fileURLWithPath: out), dtype: saving.saveDType)
            let identity = try IntentModel.identity(folder: URL(fileURLWithPath: out), config: model.config)
            let total = Date().timeIntervalSince(start)
            Log.info("encoded \(report.trainExamples + report.validationExamples) examples in \(String(format: "%.1f", report.encodingSeconds)) s, "
                     + (report.refittedOnAll
                        ? "fitted in \(String(format: "%.1f", report.fittingSeconds)) s (L-BFGS; refitted on all examples after validation)"
                        : "fitted \(report.epochsRun) epochs in \(String(format: "%.1f", report.fittingSeconds)) s (kept epoch \(report.bestEpoch))"))
            if let acc = report.validationAccuracy {
                Log.info("validation accuracy \(String(format: "%.4f", acc)) on \(report.validationExamples) held-out examples"
                         + (report.lexicalValidationAccuracy.map {
                             String(format: " (encoder head alone %.4f, n-gram head alone %.4f)", report.encoderValidationAccuracy ?? 0, $0)
                         } ?? ""))
            }
            if json {
                emitLine(try jsonLine(TrainReport(out: out, labels: report.labels, trainExamples: report.trainExamples,
                                                  validationExamples: report.validationExamples, bestEpoch: report.bestEpoch,
                                                  epochsRun: report.epochsRun, encodingSeconds: report.encodingSeconds,
                                                  fittingSeconds: report.fittingSeconds, totalSeconds: total, fineTune: fineTune,
                                                  solver: (fineTune ? IntentSolver.adam : solver).rawValue,
                                                  refittedOnAll: report.refittedOnAll, validationAccuracy: report.validationAccuracy,
                                                  encoderValidationAccuracy: report.encoderValidationAccuracy,
                                                  lexicalValidationAccuracy: report.lexicalValidationAccuracy, model: identity)))
            } else {
                emitLine("model written to \(out) (\(identity))")
            }
        }
    }
}

/// `train --json`: the training report and the identity of the model written.
struct TrainReport: Encodable {
    var out: String
    var labels: Int
    var trainExamples: Int, validationExamples: Int, bestEpoch: Int, epochsRun: Int
    var encodingSeconds: Double, fittingSeconds: Double, totalSeconds: Double
    var fineTune: Bool
    var solver: String
    var refittedOnAll: Bool
    var validationAccuracy: Double?, encoderValidationAccuracy: Double?, lexicalValidationAccuracy: Double?
    var model: ModelIdentity
}

/// `--solver lbfgs|adam`, parsed from the raw values.
extension IntentSolver: ExpressibleByArgument {}
