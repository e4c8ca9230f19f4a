import Foundation
import XCTest
@testable import LeptonRisk
import LeptonEngine

/// The account-sequence scorer: its inputs against a loop over the table, strict loading.
final class SequenceScorerTests: XCTestCase {
    /// Row r's sequence is its sender's transfers up to and including r, ordered by (time, row),
    /// the last `steps` of them, oldest first and left-padded with zero steps.
    func testSequencesAreTheSendersLastTransfersOldestFirst() throws {
        let t = try simulatedTable(accounts: 60, days: 6, seed: 9)
        let x = TransactionFeatures.compute(t), F = TransactionFeatures.count
        var c = SequenceScorerConfig(cell: .gru, inputFeatures: F); c.steps = 5
        let mean = (0..<F).map { Float($0) * 0.01 }, std = (0..<F).map { 1 + Float($0) * 0.1 }
        let rows = Array(stride(from: 0, to: t.count, by: max(1, t.count / 40)))
        let seq = SequenceScorer.sequences(t, features: x, index: AccountIndex(t), config: c, mean: mean, std: std, rows: rows)
        XCTAssertEqual(seq.shape, [5, rows.count, F + 1])
        var sawPadding = false, sawFull = false
        for (b, r) in rows.enumerated() {
            let sent = (0..<t.count).filter { t.src[$0] == t.src[r] && (t.time[$0], $0) <= (t.time[r], r) }
                .sorted { (t.time[$0], $0) < (t.time[$1], $1) }.suffix(5)
            let pad = 5 - sent.count
            sawPadding = sawPadding || pad > 0; sawFull = sawFull || pad == 0
            for step in 0..<5 {
                for f in 0...F {
                    let expected: Float
                    if step < pad { expected = 0 } else {
                        let i = sent[sent.startIndex + step - pad]
                        expected = f == F ? 1 : max(-6, min(6, (x[i * F + f] - mean[f]) / std[f]))
                    }
                    XCTAssertEqual(seq[flat: (step * rows.count + b) * (F + 1) + f], expected, "row \(r) step \(step) input \(f)")
                }
            }
        }
        XCTAssertTrue(sawPadding && sawFull)
    }

    /// A saved scorer loads back to the same scores; a missing tensor is an error naming it.
    func testSavedScorerLoadsStrictly() throws {
        let t = try simulatedTable(accounts: 60, days: 6, seed: 9)
        let x = TransactionFeatures.compute(t), index = AccountIndex(t)
        for cell in SequenceCell.allCases {
            var c = SequenceScorerConfig(cell: cell, inputFeatures: TransactionFeatures.count); c.hidden = 4; c.steps = 3
            let s = try SequenceScorer.train(t, features: x, index: index, trainRows: Array(0..<t.count), config: c, epochs: 1, seed: 2)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seq-model-\(getpid())-\(cell)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let full = dir.appendingPathComponent("full.safetensors"), partial = dir.appendingPathComponent("partial.safetensors")
            try Safetensors.write(tensors: s.tensors(), to: full)
            var missing = s.tensors(); missing["seq.head.bias"] = nil
            try Safetensors.write(tensors: missing, to: partial)
            let loaded = try SequenceScorer(config: c, store: try Safetensors.read(full), source: full.path)
            XCTAssertEqual(loaded.predict(t, features: x), s.predict(t, features: x))
            XCTAssertThrowsError(try SequenceScorer(config: c, store: try Safetensors.read(partial), source: partial.path)) { e in
                XCTAssertTrue("\(e)".contains("seq.head.bias"), "\(e)")
            }
        }
    }
}
