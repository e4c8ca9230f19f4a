import Foundation

/// The trained intent model ranks intents for the agent. The agent applies its domain's own
/// fallback threshold and margin (`settings` in domain.yml) to this raw ranking.
extension IntentModel: IntentRanking {
    public func rank(_ text: String) throws -> [IntentScore] {
        let ranked = classify(text)
        try checkFinite(ranked.map(\.probability))
        return ranked.map { IntentScore(name: $0.intent, confidence: Double($0.probability)) }
    }
}

/// Loads the intent model folder written by `lepton-chat train`.
func loadIntentRanker(_ folder: URL) throws -> any IntentRanking {
    try IntentModel(folder: folder)
}
