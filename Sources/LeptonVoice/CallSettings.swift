import Foundation
import LeptonDialog
import LeptonSpeech

/// What an agent needs, beyond its domain's `asr_*` numbers, to hear calls: the files those
/// settings name, loaded and checked once with the agent.
///
/// An immutable value: one loaded agent's settings serve every listener and thread.
public struct CallSettings: Sendable {
    /// Sentences for the speech recognizer's domain language model (the intent model folder's
    /// `asr-corpus.txt`), when the domain fuses one (`asr_language_model_weight` > 0).
    public let recognizerCorpus: [String]?
    /// The domain's phone-band map (`settings.asr_phone_band_map`), applied to the features of
    /// calls sampled at 8 kHz or less before Whisper hears them.
    public let phoneBandMap: WhisperPhoneBandMap?

    public init(recognizerCorpus: [String]? = nil, phoneBandMap: WhisperPhoneBandMap? = nil) {
        self.recognizerCorpus = recognizerCorpus
        self.phoneBandMap = phoneBandMap
    }

    /// Loads the corpus and the phone-band map that `domain` (read from `domainFile`) asks for.
    ///
    /// - Parameters:
    ///   - model: the intent model folder (written by `lepton-chat train`, with `asr-corpus.txt`).
    ///   - domainFile: where `domain` was read from; the map's file name is relative to its folder.
    /// - Throws: ``ChatError/badDomain(file:reason:)`` when the domain fuses a language model but
    ///   the model folder has no sentences, or its phone-band map cannot be read.
    public static func load(domain: Domain, domainFile: URL, model: URL) throws -> CallSettings {
        var corpus: [String]?
        if domain.asrLanguageModelWeight > 0 {
            corpus = try RecognizerCorpus.read(folder: model)
            guard corpus?.isEmpty == false else {
                throw ChatError.badDomain(file: domainFile.path, reason: "settings.asr_language_model_weight needs the sentences of "
                                          + "\(model.appendingPathComponent(RecognizerCorpus.fileName).path) (written by `lepton-chat train`)")
            }
        }
        var bandMap: WhisperPhoneBandMap?
        if let name = domain.asrPhoneBandMap {
            let url = URL(fileURLWithPath: name, relativeTo: domainFile.deletingLastPathComponent()).standardizedFileURL
            do { bandMap = try WhisperPhoneBandMap(contentsOf: url) } catch {
                throw ChatError.badDomain(file: domainFile.path, reason: "settings.asr_phone_band_map: \(error)")
            }
        }
        return CallSettings(recognizerCorpus: corpus, phoneBandMap: bandMap)
    }
}
