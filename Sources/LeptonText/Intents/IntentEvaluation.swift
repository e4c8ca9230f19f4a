import Foundation
import LeptonEngine

/// Scores of an intent model on labelled examples (what `lepton-chat test` prints).
public struct IntentEvaluation: Sendable, Codable {
    public struct PerIntent: Sendable, Codable {
        public var intent: String
        public var precision: Double, recall: Double, f1: Double
        public var support: Int
    }
    public struct ConfusedPair: Sendable, Codable {
        /// The true intent, the predicted one, and how many examples went that way.
        public var actual: String, predicted: String, count: Int
    }

    public var examples: Int
    /// Top-1 accuracy of the raw ranking (the fallback rule not applied).
    public var accuracy: Double
    public var macroF1: Double
    /// Share of examples the threshold/margin rule turned into the fallback intent.
    public var fallbackRate: Double
    /// Accuracy when fallbacks count as errors.
    public var accuracyWithFallback: Double
    public var perIntent: [PerIntent]
    /// Off-diagonal confusion cells, largest first.
    public var mostConfused: [ConfusedPair]
    /// Label order of `confusion`.
    public var labels: [String]
    /// `confusion[actual][predicted]` counts over `labels`.
    public var confusion: [[Int]]
    /// Examples whose label the model does not know (counted as errors).
    public var unknownLabels: Int

    /// Evaluates `model` on `(text, label)` pairs; labels the model was not trained on count as errors.
    public static func evaluate(_ model: IntentModel, on examples: [(text: String, label: String)],
                                confusedPairs: Int = 10) throws -> IntentEvaluation {
        guard !examples.isEmpty else { throw IntentError.badTrainingSet(reason: "no test examples") }
        var labels = model.config.labels
        var index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        var unknown = 0
        for e in examples where index[e.label] == nil {
            index[e.label] = labels.count; labels.append(e.label)
        }
        let predictions = try model.checkedPredict(examples.map(\.text))
        var predicted: [Int] = [], actual: [Int] = []
        var withFallback = 0, fallbacks = 0
        for (p, e) in zip(predictions, examples) {
            let a = index[e.label]!
            if a >= model.config.labels.count { unknown += 1 }
            actual.append(a)
            predicted.append(index[p.ranking[0].intent]!)
            if p.isFallback { fallbacks += 1 } else if p.intent == e.label { withFallback += 1 }
        }
        let k = labels.count
        let report = try Metrics.classificationReport(predicted: predicted, labels: actual, classes: k)
        let matrix = try Metrics.confusionMatrix(predicted: predicted, labels: actual, classes: k)
        var pairs: [ConfusedPair] = []
        for a in 0..<k { for p in 0..<k where a != p && matrix[a][p] > 0 {
            pairs.append(ConfusedPair(actual: labels[a], predicted: labels[p], count: matrix[a][p]))
        } }
        pairs.sort { $0.count != $1.count ? $0.count > $1.count : ($0.actual, $0.predicted) < ($1.actual, $1.predicted) }
        // Macro-F1 over the intents that occur in the test data (as scikit-learn with labels=present).
        let present = (0..<k).filter { report.support[$0] > 0 }
        let macro = present.isEmpty ? 0 : present.map { report.f1[$0] }.reduce(0, +) / Double(present.count)
        return IntentEvaluation(
            examples: examples.count,
            accuracy: try Metrics.accuracy(predicted: predicted, labels: actual),
            macroF1: macro,
            fallbackRate: Double(fallbacks) / Double(examples.count),
            accuracyWithFallback: Double(withFallback) / Double(examples.count),
            perIntent: present.map { PerIntent(intent: labels[$0], precision: report.precision[$0], recall: report.recall[$0],
                                               f1: report.f1[$0], support: report.support[$0]) },
            mostConfused: Array(pairs.prefix(confusedPairs)),
            labels: labels, confusion: matrix, unknownLabels: unknown)
    }
}
