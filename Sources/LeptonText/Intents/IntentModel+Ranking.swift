import Foundation

/// One intent and its probability.
public struct IntentScore: Codable, Equatable, Sendable {
    public var name: String
    public var confidence: Double
    /// For a handler intent summed from a model's finer labels (a dialog domain's `topics`): the
    /// most likely of those labels; nil for a model label itself.
    public var topic: String?
    public init(name: String, confidence: Double, topic: String? = nil) { self.name = name; self.confidence = confidence; self.topic = topic }
}

/// Anything that ranks intents for a text: the trained intent model, or a test double.
public protocol IntentRanking: Sendable {
    /// Intents with probabilities, best first.
    func rank(_ text: String) throws -> [IntentScore]
}

/// The trained intent model ranks intents for the agent. The agent applies its domain's own
/// fallback threshold and margin (`settings` in domain.yml) to this raw ranking.
extension IntentModel: IntentRanking {
    public func rank(_ text: String) throws -> [IntentScore] {
        let ranked = classify(text)
        try checkFinite(ranked.map(\.probability))
        return ranked.map { IntentScore(name: $0.intent, confidence: Double($0.probability)) }
    }
}
