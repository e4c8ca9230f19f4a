import Foundation
import LeptonEngine

/// The recurrent cell of a ``SequenceScorer``.
public enum SequenceCell: String, Codable, CaseIterable, Sendable {
    case gru, lstm
}

/// Shape of the account-sequence scorer, stored in the model's `config.json`.
public struct SequenceScorerConfig: Codable, Sendable {
    public var cell: SequenceCell
    /// Per-transaction inputs (the hand-made features); each step adds a "step present" flag.
    public var inputFeatures: Int
    /// How many of the sender's transfers (this one included) the cell reads.
    public var steps = 8
    public var hidden = 16
    public init(cell: SequenceCell, inputFeatures: Int) { self.cell = cell; self.inputFeatures = inputFeatures }
}

/// A recurrent scorer over the sender's recent transfers: for a transaction from account `u`,
/// a GRU or LSTM (the engine's ``GRU`` / ``LSTM``) reads the standardised features of `u`'s last
/// `steps` outgoing transfers up to and including this one, oldest first (left-padded with zero
/// steps whose "present" flag is 0), and a linear head turns the final state into a logit.
///
/// Weight names (safetensors, prefix `seq.`): `cell.weight_ih_l0 [gates·hidden, inputs+1]`,
/// `cell.weight_hh_l0 [gates·hidden, hidden]`, `cell.bias_ih_l0`, `cell.bias_hh_l0 [gates·hidden]`
/// (PyTorch layout, gates r,z,n for GRU and i,f,g,o for LSTM), `head.weight [1, hidden]`,
/// `head.bias [1]`, `mean`, `std` `[inputs]`.
public struct SequenceScorer: Sendable {
    public let config: SequenceScorerConfig
    let weightIH: Tensor, weightHH: Tensor, biasIH: Tensor, biasHH: Tensor
    let headWeight: Tensor, headBias: Tensor
    let mean: [Float], std: [Float]

    static func gates(_ cell: SequenceCell) -> Int { cell == .gru ? 3 : 4 }
    var width: Int { config.inputFeatures + 1 }

    /// Position of every transaction in its sender's time-ordered list.
    static func positions(_ t: TransactionTable, _ index: AccountIndex) -> [Int32] {
        var position = [Int32](repeating: 0, count: t.count)
        for (p, r) in index.outgoing.enumerated() { position[Int(r)] = Int32(p) }
        return position
    }

    /// Inputs `[steps, rows, inputs + 1]` of the given transactions (see the type's description).
    /// `slot` maps a table row to its row of `x` (identity when `x` holds every row).
    static func sequences(_ t: TransactionTable, features x: [Float], slot: ((Int) -> Int)? = nil, index: AccountIndex,
                          position: [Int32]? = nil, config c: SequenceScorerConfig,
                          mean: [Float], std: [Float], rows: [Int]) -> Tensor {
        let F = c.inputFeatures, W = F + 1, T = c.steps, B = rows.count
        let position = position ?? positions(t, index)
        return Tensor(shape: [T, B, W]) { out in
            out.initialize(repeating: 0)
            for (b, r) in rows.enumerated() {
                let u = Int(t.src[r]), p = Int(position[r]), first = max(Int(index.outStart[u]), p - T + 1)
                for (k, q) in (first...p).enumerated() {
                    let step = T - (p - first + 1) + k, o = (step * B + b) * W
                    let row = slot.map { $0(Int(index.outgoing[q])) } ?? Int(index.outgoing[q])
                    for f in 0..<F { out[o + f] = max(-6, min(6, (x[row * F + f] - mean[f]) / std[f])) }
                    out[o + F] = 1
                }
            }
        }
    }

    /// Logits of sequences `[steps, rows, inputs + 1]`, without recording gradients (plain values:
    /// safe to run from many threads on one scorer).
    func logits(_ seq: Tensor) -> [Float] {
        let B = seq.shape[1], H = config.hidden
        let x = Variable(seq)
        let outputs: Variable
        switch config.cell {
        case .gru:
            outputs = Variable.gruSequence(x, h0: Variable(Tensor.zeros([B, H])), weightIH: Variable(weightIH), weightHH: Variable(weightHH),
                                           biasIH: Variable(biasIH), biasHH: Variable(biasHH))
        case .lstm:
            outputs = Variable.lstmSequence(x, h0: Variable(Tensor.zeros([B, H])), c0: Variable(Tensor.zeros([B, H])),
                                            weightIH: Variable(weightIH), weightHH: Variable(weightHH), biasIH: Variable(biasIH), biasHH: Variable(biasHH))
        }
        // The final step's h (the LSTM's output also carries c after h on the last axis).
        let last = outputs.value.slice(axis: 0, start: config.steps - 1, end: config.steps).slice(axis: 2, start: 0, end: H)
            .reshaped([B, H]).scalars
        let w = headWeight.scalars, b = headBias.scalars[0]
        return (0..<B).map { r in (0..<H).reduce(b) { $0 + w[$1] * last[r * H + $1] } }
    }

    /// Probabilities for `rows` (all transactions when nil).
    public func predict(_ t: TransactionTable, features x: [Float], index: AccountIndex? = nil, rows: [Int]? = nil) -> [Float] {
        let rs = rows ?? Array(0..<t.count), idx = index ?? AccountIndex(t), position = Self.positions(t, idx)
        var out: [Float] = []
        out.reserveCapacity(rs.count)
        for lo in stride(from: 0, to: rs.count, by: 4096) {
            let batch = Array(rs[lo..<min(rs.count, lo + 4096)])
            out += logits(Self.sequences(t, features: x, index: idx, position: position, config: config, mean: mean, std: std, rows: batch))
                .map { 1 / (1 + expf(-$0)) }
        }
        return out
    }

    /// Probabilities of the rows `rows`, the features of each sender's recent transfers
    /// recomputed from `c` batch by batch (the scorer's path: no `[transactions, features]`
    /// matrix); `position` is ``positions(_:_:)`` of `c`'s table.
    public func predict(_ c: TransactionFeatures.Computer, rows: Range<Int>, position: [Int32]) -> [Float] {
        let t = c.table, idx = c.index, T = config.steps
        var out: [Float] = []
        out.reserveCapacity(rows.count)
        for lo in stride(from: rows.lowerBound, to: rows.upperBound, by: 4096) {
            let batch = Array(lo..<min(rows.upperBound, lo + 4096))
            var needed = Set<Int>()
            for r in batch {
                let p = Int(position[r]), first = max(Int(idx.outStart[Int(t.src[r])]), p - T + 1)
                for q in first...p { needed.insert(Int(idx.outgoing[q])) }
            }
            let list = needed.sorted()
            var slots = [Int: Int](minimumCapacity: list.count)
            for (k, r) in list.enumerated() { slots[r] = k }
            let slot = slots
            let seq = Self.sequences(t, features: c.rows(list), slot: { slot[$0]! }, index: idx, position: position,
                                     config: config, mean: mean, std: std, rows: batch)
            out += logits(seq).map { 1 / (1 + expf(-$0)) }
        }
        return out
    }

    /// Trains on `trainRows` (labels 1 / 0): mini-batches of 256, weighted binary cross-entropy
    /// (positives weighted √(negatives/positives)), AdamW (learning rate 0.01, decay 1e-4).
    public static func train(_ t: TransactionTable, features x: [Float], index: AccountIndex, trainRows: [Int],
                             config c: SequenceScorerConfig, epochs: Int, seed: UInt64,
                             onEpoch: (Int, Double) throws -> Void = { _, _ in }) throws -> SequenceScorer {
        let F = c.inputFeatures, H = c.hidden
        var mean = [Float](repeating: 0, count: F), std = [Float](repeating: 1, count: F)
        for f in 0..<F {
            var s = 0.0, s2 = 0.0
            for r in trainRows { let v = Double(x[r * F + f]); s += v; s2 += v * v }
            let n = Double(max(trainRows.count, 1)), m = s / n
            mean[f] = Float(m); std[f] = Float(max((s2 / n - m * m).squareRoot(), 1e-3))
        }
        var rng = SeededGenerator(seed: seed &+ 31)
        let cell: any Module = c.cell == .gru ? GRU(inputSize: F + 1, hiddenSize: H, rng: &rng) : LSTM(inputSize: F + 1, hiddenSize: H, rng: &rng)
        let head = Linear(H, 1, rng: &rng)
        let optimizer = AdamW(cell.parameters() + head.parameters(), learningRate: 0.01, weightDecay: 1e-4)
        let pos = trainRows.reduce(0) { $0 + (t.label[$1] == 1 ? 1 : 0) }
        let wPos = max(1, (Float(trainRows.count - pos) / Float(max(pos, 1))).squareRoot())
        var order = trainRows
        for epoch in 0..<epochs {
            for k in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(k, Int(rng.next() % UInt64(k + 1))) }
            var lossSum = 0.0, batches = 0
            for lo in stride(from: 0, to: order.count, by: 256) {
                let batch = Array(order[lo..<min(order.count, lo + 256)])
                let seq = Variable(sequences(t, features: x, index: index, config: c, mean: mean, std: std, rows: batch))
                let final: Variable
                if let gru = cell as? GRU { final = gru(seq).h } else { final = (cell as! LSTM)(seq).h }
                let logit = head(final.reshaped([batch.count, H]))
                let y = Tensor(shape: [batch.count, 1], scalars: batch.map { t.label[$0] == 1 ? 1 : 0 })
                let loss = binaryCrossEntropyWithLogits(logit, targets: y, positiveWeight: wPos)
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                lossSum += Double(loss.value.scalars[0]); batches += 1
            }
            try onEpoch(epoch + 1, lossSum / Double(max(batches, 1)))
        }
        let w = Dictionary(uniqueKeysWithValues: cell.namedParameters().map { ($0.0, $0.1.value) })
        return SequenceScorer(config: c, weightIH: w["weight_ih_l0"]!, weightHH: w["weight_hh_l0"]!, biasIH: w["bias_ih_l0"]!,
                              biasHH: w["bias_hh_l0"]!, headWeight: head.weight.value, headBias: head.bias!.value, mean: mean, std: std)
    }

    init(config: SequenceScorerConfig, weightIH: Tensor, weightHH: Tensor, biasIH: Tensor, biasHH: Tensor,
         headWeight: Tensor, headBias: Tensor, mean: [Float], std: [Float]) {
        self.config = config; self.weightIH = weightIH; self.weightHH = weightHH; self.biasIH = biasIH; self.biasHH = biasHH
        self.headWeight = headWeight; self.headBias = headBias; self.mean = mean; self.std = std
    }

    /// All weights as named tensors (for safetensors).
    public func tensors() -> [String: Tensor] {
        ["seq.cell.weight_ih_l0": weightIH, "seq.cell.weight_hh_l0": weightHH, "seq.cell.bias_ih_l0": biasIH,
         "seq.cell.bias_hh_l0": biasHH, "seq.head.weight": headWeight, "seq.head.bias": headBias,
         "seq.mean": Tensor(shape: [config.inputFeatures], scalars: mean), "seq.std": Tensor(shape: [config.inputFeatures], scalars: std)]
    }

    /// Loads weights strictly: every tensor must exist with the shape this config implies.
    public init(config c: SequenceScorerConfig, store: WeightStore, source: String) throws {
        let G = Self.gates(c.cell) * c.hidden, F = c.inputFeatures
        guard (1...64).contains(c.steps), (1...256).contains(c.hidden) else {
            throw RiskError.badModel(path: source, reason: "sequence steps \(c.steps) or hidden \(c.hidden) out of range")
        }
        do {
            self.init(config: c, weightIH: try store.take("seq.cell.weight_ih_l0", shape: [G, F + 1]),
                      weightHH: try store.take("seq.cell.weight_hh_l0", shape: [G, c.hidden]),
                      biasIH: try store.take("seq.cell.bias_ih_l0", shape: [G]), biasHH: try store.take("seq.cell.bias_hh_l0", shape: [G]),
                      headWeight: try store.take("seq.head.weight", shape: [1, c.hidden]), headBias: try store.take("seq.head.bias", shape: [1]),
                      mean: try store.take("seq.mean", shape: [F]).scalars, std: try store.take("seq.std", shape: [F]).scalars)
        } catch { throw RiskError.badModel(path: source, reason: "\(error)") }
    }
}
