import Foundation
import LeptonEngine
import LeptonText

extension ChatAgent {
    /// Loads an agent from files: the intent model folder, the domain, optionally the NLU data
    /// (its lookup tables, synonyms and regexes feed the entity extractor) and the store.
    ///
    /// What the agent needs to hear calls (the domain's phone-band map and the recognizer's
    /// sentences) is LeptonVoice's to load: `CallSettings.load(domain:domainFile:model:)`.
    ///
    /// - Parameters:
    ///   - model: folder written by `lepton-chat train`.
    ///   - domain: domain YAML (see ``Domain``).
    ///   - nlu: `nlu.yml` whose lookups/synonyms/regexes to use; ignored when the file is absent.
    ///   - store: SQLite session store (created on first use).
    ///   - referenceDay: "today" for relative dates.
    ///   - seed: seeds the choice among response variants.
    public static func load(model: URL, domain: URL, nlu: URL?, store: URL, referenceDay: Day, seed: UInt64) throws -> ChatAgent {
        try load(model: model, domain: domain, nlu: nlu, referenceDay: referenceDay, seed: seed) { try SQLiteSessionStore(url: store) }
    }

    /// Loads an agent from files as above, with the session store opened by `openStore` (see
    /// ``SessionStoreLocation/open(key:maximumConnections:)``) once the model and domain have loaded,
    /// so that a bad model file is reported before any connection is made.
    /// - Parameter computeType: how the intent model's sentence encoder keeps its weights.
    public static func load(model: URL, domain: URL, nlu: URL?, referenceDay: Day, seed: UInt64, computeType: ComputeType = .float32,
                            openStore: () throws -> any SessionStore) throws -> ChatAgent {
        let d = try Domain.load(domain)
        var extractor = EntityExtractor(referenceDay: referenceDay)
        if let nlu, FileManager.default.fileExists(atPath: nlu.path) {
            extractor = try NLUData.load(nlu).makeExtractor(referenceDay: referenceDay)
        }
        guard FileManager.default.fileExists(atPath: model.path) else {
            throw ChatError.agentNotFound("no intent model folder at \(model.path) (train one with `lepton-chat train`)")
        }
        let classifier = try IntentModel(folder: model, computeType: computeType)
        return ChatAgent(domain: d, classifier: classifier, extractor: extractor, store: try openStore(), seed: seed,
                         modelIdentity: try classifier.identity())
    }
}
