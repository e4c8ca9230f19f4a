import Foundation
import LeptonText

extension Domain {
    /// A fine label of the intent model (a BANKING77 class such as `pin_blocked`) and what the
    /// agent does for it: the handler intent it belongs to (`change_pin`) and, optionally, the
    /// answer said for this topic instead of the handler's own response.
    ///
    /// ```yaml
    /// topics:
    ///   pin_blocked: {intent: change_pin, response: utter_pin_blocked}
    ///   card_payment_not_recognised: {intent: dispute_charge}
    /// ```
    /// A model label that is not a topic is its own handler (its name is an intent of the domain).
    public struct Topic: Sendable, Equatable {
        public var intent: String
        public var response: String?
    }

    static func parseTopics(_ raw: Any, intents: [String: IntentAction], bad: (String) -> ChatError) throws -> [String: Topic] {
        guard let map = raw as? [String: Any] else { throw bad("`topics` must be a mapping of model labels to {intent, response}") }
        var out: [String: Topic] = [:]
        for (name, v) in map {
            let topic: Topic
            if let handler = v as? String { topic = Topic(intent: handler) }
            else if let m = v as? [String: Any] {
                if let k = m.keys.sorted().first(where: { !["intent", "response"].contains($0) }) {
                    throw bad("topics.\(name): unknown key `\(k)` (expected intent, response)")
                }
                guard let handler = m["intent"] as? String else { throw bad("topics.\(name).intent (the handler intent) is missing") }
                topic = Topic(intent: handler, response: m["response"] as? String)
            } else { throw bad("topics.\(name) must be a handler intent name or {intent, response}") }
            guard let action = intents[topic.intent] else { throw bad("topics.\(name) maps to unknown intent \(topic.intent)") }
            if topic.response != nil, action.form != nil { throw bad("topics.\(name): a topic of a form's intent cannot have its own response") }
            out[name] = topic
        }
        return out
    }

    /// The handler intent of a model label: its topic's intent, or the label itself.
    public func handler(ofTopic label: String) -> String { topics[label]?.intent ?? label }

    /// The model's ranking of fine labels turned into a ranking of handler intents: a handler's
    /// confidence is the sum of its labels' probabilities and its `topic` the most likely of them.
    /// Without `topics` the ranking is returned unchanged.
    public func handlerRanking(_ labels: [IntentScore]) -> [IntentScore] {
        guard !topics.isEmpty else { return labels }
        var sums: [String: Double] = [:], best: [String: String] = [:], order: [String] = []
        for s in labels {   // best first, so the first label seen of a handler is its topic
            let h = handler(ofTopic: s.name)
            if sums[h] == nil { order.append(h); best[h] = s.name }
            sums[h, default: 0] += s.confidence
        }
        return order.enumerated().sorted { a, b in
            let x = sums[a.element]!, y = sums[b.element]!
            return x != y ? x > y : a.offset < b.offset
        }.map { IntentScore(name: $0.element, confidence: sums[$0.element]!, topic: best[$0.element]) }
    }

    /// The response said for `intent` reached through `topic`: the topic's own, else the intent's.
    func response(for intent: String, topic: String?) -> String? {
        if let topic, let t = topics[topic], t.intent == intent, let r = t.response { return r }
        return intents[intent]?.response
    }
}
