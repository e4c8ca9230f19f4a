import Foundation
import LeptonSpeech

extension ChatAgent {
    /// Loads an agent from files: the intent model folder, the domain, optionally the NLU data
    /// (its lookup tables, synonyms and regexes feed the entity extractor) and the store.
    ///
    /// - Parameters:
    ///   - model: folder written by `lepton-chat train`.
    ///   - domain: domain YAML (see ``Domain``).
    ///   - nlu: `nlu.yml` whose lookups/synonyms/regexes to use; ignored when the file is absent.
    ///   - store: SQLite session store (created on first use).
    ///   - referenceDay: "today" for relative dates.
    ///   - seed: seeds the choice among response variants.
    public static func load(model: URL, domain: URL, nlu: URL?, store: URL, referenceDay: Day, seed: UInt64) throws -> ChatAgent {
        let d = try Domain.load(domain)
        var extractor = EntityExtractor(referenceDay: referenceDay)
        if let nlu, FileManager.default.fileExists(atPath: nlu.path) {
            extractor = try NLUData.load(nlu).makeExtractor(referenceDay: referenceDay)
        }
        guard FileManager.default.fileExists(atPath: model.path) else {
            throw ChatError.agentNotFound("no intent model folder at \(model.path) (train one with `lepton-chat train`)")
        }
        let classifier = try loadIntentRanker(model)
        var corpus: [String]?
        if d.asrLanguageModelWeight > 0 {
            corpus = try RecognizerCorpus.read(folder: model)
            guard corpus?.isEmpty == false else {
                throw ChatError.badDomain(file: domain.path, reason: "settings.asr_language_model_weight needs the sentences of "
                                          + "\(model.appendingPathComponent(RecognizerCorpus.fileName).path) (written by `lepton-chat train`)")
            }
        }
        var bandMap: WhisperPhoneBandMap?
        if let name = d.asrPhoneBandMap {
            let url = URL(fileURLWithPath: name, relativeTo: domain.deletingLastPathComponent()).standardizedFileURL
            do { bandMap = try WhisperPhoneBandMap(contentsOf: url) } catch {
                throw ChatError.badDomain(file: domain.path, reason: "settings.asr_phone_band_map: \(error)")
            }
        }
        let s = try SessionStore(url: store)
        let agent = ChatAgent(domain: d, classifier: classifier, extractor: extractor, store: s, seed: seed)
        agent.recognizerCorpus = corpus
        agent.phoneBandMap = bandMap
        agent.modelIdentity = try (classifier as? IntentModel)?.identity()
        return agent
    }
}
