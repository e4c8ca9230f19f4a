import Foundation
import LeptonEngine

/// Channel pruning of the scan classifier ("network slimming", Liu et al. 2017): in every conv
/// block the channels whose batch-norm scale `|γ|` is smallest are removed, with their filters,
/// their batch-norm entries and the next layer's inputs that read them. The result is an ordinary,
/// narrower ``ScanClassifier`` (a `config.json` with fewer channels), so it is really smaller and
/// faster with the same dense kernels — unlike magnitude pruning, which leaves zeros that dense
/// kernels still multiply. Fine-tuning afterwards (`lepton-diagnose prune --epochs N`) recovers
/// most of what the removed channels carried.
extension ScanClassifier {
    /// Channels kept in a block of `channels` at `sparsity` (the fraction removed): at least one.
    public static func keptChannels(_ channels: Int, sparsity: Double) -> Int {
        Swift.max(1, Int((Double(channels) * (1 - sparsity)).rounded()))
    }

    /// A copy with `sparsity` (0 ≤ s < 1) of each conv block's channels removed, the smallest
    /// `|γ|` first (ties: the lower index is kept). Inference in evaluation mode only reads the
    /// kept channels' weights and running statistics, so at sparsity 0 the copy computes exactly
    /// what this model does.
    public func channelPruned(sparsity: Double) throws -> ScanClassifier {
        guard !config.isResNet else {
            throw DiagnoseError.usage("channel pruning works on the plain CNN; this model is a ResNet (a residual sum ties its blocks' channels)")
        }
        guard sparsity.isFinite, (0..<1).contains(sparsity) else {
            throw DiagnoseError.usage("--sparsity must be at least 0 and below 1, got \(sparsity)")
        }
        let state = stateDict()
        func values(_ name: String) -> [Float] { state[name]!.scalars }
        var kept: [[Int]] = []
        for i in 0..<blocks {
            let gamma = values("b\(i + 1).weight").map(abs)
            let keep = Self.keptChannels(gamma.count, sparsity: sparsity)
            let order = gamma.indices.sorted { gamma[$0] != gamma[$1] ? gamma[$0] > gamma[$1] : $0 < $1 }
            kept.append(Array(order.prefix(keep)).sorted())
        }
        var config = self.config
        config.channels = kept.map(\.count)
        config.notes = ["pruned_from": identity.description]   // the source's training figures no longer apply
        config.notes["channel_sparsity"] = String(format: "%.2f", sparsity)
        var pruned: [String: WeightEntry] = [:]
        func put(_ name: String, _ shape: [Int], _ scalars: [Float]) {
            pruned[name] = WeightEntry(Tensor(shape: shape, scalars: scalars))
        }
        for i in 0..<blocks {
            let outs = kept[i], ins = i == 0 ? [0] : kept[i - 1]
            let w = values("c\(i + 1).weight"), cinAll = cin(i)
            var conv: [Float] = []
            conv.reserveCapacity(outs.count * ins.count * 9)
            for o in outs { for c in ins { conv += w[((o * cinAll + c) * 9)..<((o * cinAll + c) * 9 + 9)] } }
            put("c\(i + 1).weight", [outs.count, ins.count, 3, 3], conv)
            if state["c\(i + 1).bias"] != nil { put("c\(i + 1).bias", [outs.count], outs.map { values("c\(i + 1).bias")[$0] }) }
            for part in ["weight", "bias", "running_mean", "running_var"] where state["b\(i + 1).\(part)"] != nil {
                let v = values("b\(i + 1).\(part)")
                put("b\(i + 1).\(part)", [outs.count], outs.map { v[$0] })
            }
        }
        let last = kept[blocks - 1], fcw = values("fc.weight"), width = self.config.channels[blocks - 1]
        put("fc.weight", [classCount, last.count], (0..<classCount).flatMap { k in last.map { fcw[k * width + $0] } })
        put("fc.bias", [classCount], values("fc.bias"))
        let model = try ScanClassifier(config: config, weights: WeightStore(source: "channel-pruned \(identity.description)", entries: pruned))
        model.identity = ModelIdentity(name: Self.modelName, version: "unsaved", sha256: "")
        return model
    }

    /// Learned parameters (conv and linear weights and biases, batch-norm scales and shifts; not
    /// the running statistics).
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.1.value.count } }
}
