import Foundation
import XCTest
@testable import LeptonRisk
import LeptonEngine

/// One loaded model shared by eight threads scoring at once gives, on every thread, exactly the
/// scores of a single-threaded run (the models are immutable `Sendable` values; every call keeps
/// its scratch to itself).
final class ConcurrentScoringTests: XCTestCase {
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var scores: [Int: [Float]] = [:]
        func set(_ k: Int, _ s: [Float]) { lock.lock(); scores[k] = s; lock.unlock() }
        var all: [Int: [Float]] { lock.lock(); defer { lock.unlock() }; return scores }
    }

    func testEightThreadsScoreLikeOne() throws {
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("samples/risk")
        let path = samples.appendingPathComponent("test.csv").path
        let sample = try TransactionModel.load(from: samples.appendingPathComponent("model"))
        // The sample model scores with trees only: two more with a GNN blended in (fresh weights,
        // GraphSAGE and GAT layers) make the graph layers run on all threads too.
        var models = [("trees", sample)]
        for kind in [GraphConvKind.sage, .gat] {
            var cfg = sample.config
            cfg.gnn = EdgeGNNConfig(inputFeatures: TransactionFeatures.count, conv: kind); cfg.gnnWeight = 0.5
            models.append(("\(kind)", TransactionModel(config: cfg, trees: sample.trees, gnn: EdgeGNN(config: cfg.gnn!, seed: 1))))
        }
        // And one with an account-sequence scorer (a GRU trained briefly on the training file).
        var train = TransactionTable()
        try train.append(csv: samples.appendingPathComponent("train.csv").path)
        var sc = SequenceScorerConfig(cell: .gru, inputFeatures: TransactionFeatures.count); sc.hidden = 4
        let gru = try SequenceScorer.train(train, features: TransactionFeatures.compute(train), index: AccountIndex(train),
                                           trainRows: Array(0..<train.count), config: sc, epochs: 1, seed: 1)
        var cfg = sample.config
        cfg.sequence = sc; cfg.sequenceWeight = 0.5
        models.append(("gru", TransactionModel(config: cfg, trees: sample.trees, gnn: nil, sequence: gru)))
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        for (name, model) in models {
            EngineThreads.set(1)
            let single = try ScoredTransactions(model: model, path: path).scores
            EngineThreads.set(2)
            let results = Results()
            DispatchQueue.concurrentPerform(iterations: 8) { k in
                if let s = try? ScoredTransactions(model: model, path: path).scores { results.set(k, s) }
            }
            let all = results.all
            XCTAssertEqual(all.count, 8, "\(name): a thread failed to score")
            for (k, s) in all.sorted(by: { $0.key < $1.key }) { XCTAssertEqual(s, single, "\(name): thread \(k)") }
            XCTAssertGreaterThan(Set(single).count, 100, "\(name): scores vary")
        }
    }
}
