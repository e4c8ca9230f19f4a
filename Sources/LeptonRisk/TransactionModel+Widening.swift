import Foundation
import LeptonEngine

/// Older models with networks: a model trained before features were appended to
/// ``TransactionFeatures/names`` (its list a prefix of today's) keeps working after an upgrade.
/// Its trees are widened by ``GradientBoostedTrees/widen(to:)``; its GNN and sequence scorer here,
/// by giving every weight that reads the edge features a zero column per new feature (mean 0,
/// standard deviation 1 for their standardisation), so the networks compute what they computed
/// before: a new column times zero adds nothing.
extension TransactionModel {
    /// Returns a store whose network weights are widened from `FM` to `F` features, and `config`
    /// updated to match (its `features` list stays the older one: `monitor` compares those).
    ///
    /// The edge features are the last block of every input they enter (GraphSAGE's
    /// `[node ‖ edge]`, the head's `[x_u ‖ x_v ‖ edge]`, GAT's edge projection), followed only by
    /// the port numbers when the model uses them; the sequence scorer's inputs are the features
    /// then one presence flag. The new columns go right after the older features in each.
    static func widenNetworks(_ store: WeightStore, config: inout TransactionModelConfig, from FM: Int, to F: Int,
                              source: String) throws -> WeightStore {
        let added = F - FM
        var entries: [String: WeightEntry] = [:]
        for name in store.names { entries[name] = store.entry(name) }
        func widen(_ name: String, before tail: Int, fill: Float) throws {
            guard let entry = entries[name] else { return }   // the strict loader names it
            let t = entry.floatTensor()
            guard let last = t.shape.last, last >= tail, t.count > 0 else {
                throw RiskError.badModel(path: source, reason: "\(name) \(t.shape) cannot be widened")
            }
            let rows = t.count / last, at = last - tail, s = t.scalars
            var out = [Float](); out.reserveCapacity(rows * (last + added))
            for r in 0..<rows {
                out += s[(r * last)..<(r * last + at)]
                out += repeatElement(fill, count: added)
                out += s[(r * last + at)..<((r + 1) * last)]
            }
            entries[name] = WeightEntry(Tensor(shape: Array(t.shape.dropLast()) + [last + added], scalars: out))
        }
        if config.gnnWeight > 0, var gc = config.gnn {
            let ports = config.gnnPortNumbers == true ? TransactionFeatures.portNames.count : 0
            guard gc.inputFeatures == FM + ports else {
                throw RiskError.badModel(path: source, reason: "gnn expects \(gc.inputFeatures) edge inputs, its \(FM) features give \(FM + ports)")
            }
            for name in store.names where name.hasPrefix("gnn.")
                && (name.hasSuffix(".lin_l.weight") || name.hasSuffix(".lin_edge.weight") || name == "gnn.head.1.weight") {
                try widen(name, before: ports, fill: 0)
            }
            try widen("gnn.edge_mean", before: ports, fill: 0)
            try widen("gnn.edge_std", before: ports, fill: 1)
            gc.inputFeatures += added
            config.gnn = gc
        }
        if let w = config.sequenceWeight, w > 0, var sc = config.sequence {
            guard sc.inputFeatures == FM else {
                throw RiskError.badModel(path: source, reason: "sequence scorer expects \(sc.inputFeatures) inputs, the model lists \(FM) features")
            }
            try widen("seq.cell.weight_ih_l0", before: 1, fill: 0)
            try widen("seq.mean", before: 0, fill: 0)
            try widen("seq.std", before: 0, fill: 1)
            sc.inputFeatures += added
            config.sequence = sc
        }
        return WeightStore(source: store.source, entries: entries, metadata: store.metadata)
    }
}
