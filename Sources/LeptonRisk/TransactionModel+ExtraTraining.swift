import Foundation

/// Labelled transfers of another graph (`train --extra-training`, e.g. `simulate`'s) for the
/// trees: features and labels of its labelled rows, computed on its own graph, since its accounts
/// are not the bank's and windows and counterparties must never mix the two.
public struct ExtraTrainingRows: Sendable {
    /// Row-major `[rows, TransactionFeatures.count]`.
    public var x: [Float]
    /// 1 for laundering, 0 for normal.
    public var y: [Float]

    public init(_ e: TransactionTable) {
        let F = TransactionFeatures.count
        let xe = TransactionFeatures.compute(e, index: AccountIndex(e))
        x = []; y = []
        for r in 0..<e.count where e.label[r] >= 0 {
            x.append(contentsOf: xe[(r * F)..<((r + 1) * F)]); y.append(e.label[r] == 1 ? 1 : 0)
        }
    }
}
