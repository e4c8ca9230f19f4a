import Foundation

/// The weights of one direction of one recurrent layer, named as PyTorch names them.
final class RecurrentCellWeights {
    let weightIH: Variable, weightHH: Variable, biasIH: Variable?, biasHH: Variable?
    let suffix: String

    init(gates: Int, input: Int, hidden: Int, bias: Bool, suffix: String, rng: inout SeededGenerator) {
        // PyTorch's default: every weight and bias uniform in ±1/√hidden.
        let k = 1 / Float(max(hidden, 1)).squareRoot()
        func u(_ shape: [Int], _ name: String) -> Variable {
            Variable(Tensor.randomUniform(shape, low: -k, high: k, using: &rng), requiresGrad: true, name: name + suffix)
        }
        weightIH = u([gates * hidden, input], "weight_ih")
        weightHH = u([gates * hidden, hidden], "weight_hh")
        biasIH = bias ? u([gates * hidden], "bias_ih") : nil
        biasHH = bias ? u([gates * hidden], "bias_hh") : nil
        self.suffix = suffix
    }

    var named: [(String, Variable)] {
        var p = [("weight_ih" + suffix, weightIH), ("weight_hh" + suffix, weightHH)]
        if let b = biasIH { p.append(("bias_ih" + suffix, b)) }
        if let b = biasHH { p.append(("bias_hh" + suffix, b)) }
        return p
    }
}

/// Shape bookkeeping shared by ``LSTM`` and ``GRU``.
public struct RecurrentConfiguration: Sendable, Equatable {
    public var inputSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var bidirectional: Bool
    /// Input and output are `[batch, time, features]` instead of `[time, batch, features]`.
    public var batchFirst: Bool
    public var bias: Bool
    /// Dropout on the outputs of every layer but the last (training only), as PyTorch.
    public var dropout: Float

    public init(inputSize: Int, hiddenSize: Int, layers: Int = 1, bidirectional: Bool = false,
                batchFirst: Bool = false, bias: Bool = true, dropout: Float = 0) {
        self.inputSize = inputSize; self.hiddenSize = hiddenSize; self.layers = layers
        self.bidirectional = bidirectional; self.batchFirst = batchFirst; self.bias = bias; self.dropout = dropout
    }

    public var directions: Int { bidirectional ? 2 : 1 }
}

/// Helpers for the layer wrappers: weights per (layer, direction), state slicing.
enum RecurrentStack {
    static func makeCells(_ c: RecurrentConfiguration, gates: Int, rng: inout SeededGenerator) -> [RecurrentCellWeights] {
        var cells: [RecurrentCellWeights] = []
        for l in 0..<c.layers {
            for d in 0..<c.directions {
                let input = l == 0 ? c.inputSize : c.hiddenSize * c.directions
                cells.append(RecurrentCellWeights(gates: gates, input: input, hidden: c.hiddenSize, bias: c.bias,
                                                  suffix: "_l\(l)" + (d == 1 ? "_reverse" : ""), rng: &rng))
            }
        }
        return cells
    }

    /// `state[k]` of a `[layers·directions, batch, hidden]` state, or zeros.
    static func initial(_ state: Variable?, _ k: Int, batch: Int, hidden: Int) -> Variable {
        guard let s = state else { return Variable(Tensor.zeros([batch, hidden])) }
        return s.slice(axis: 0, start: k, end: k + 1).reshaped([batch, hidden])
    }

    static func checkInput(_ x: Variable, _ c: RecurrentConfiguration, _ name: String) {
        precondition(x.rank == 3 && x.shape[2] == c.inputSize,
                     "\(name): input \(x.shape) needs [\(c.batchFirst ? "batch, time" : "time, batch"), \(c.inputSize)]")
    }

    /// Inverted dropout between layers (training only).
    static func dropout(_ x: Variable, _ p: Float, training: Bool, rng: inout SeededGenerator) -> Variable {
        guard training, p > 0 else { return x }
        let keep = 1 - p
        let mask = Tensor(shape: x.shape) { m in for i in m.indices { m[i] = rng.nextUniform() < keep ? 1 / keep : 0 } }
        return x * mask
    }
}

/// A multi-layer (optionally bidirectional) LSTM, `torch.nn.LSTM`-compatible.
///
/// Parameters (PyTorch names, gate blocks ordered i, f, g, o):
/// `weight_ih_l{k}` `[4·hidden, input or directions·hidden]`, `weight_hh_l{k}` `[4·hidden, hidden]`,
/// `bias_ih_l{k}`, `bias_hh_l{k}` `[4·hidden]`, and the same with `_reverse` for the backward direction.
/// A state dict saved by PyTorch loads with ``Module/loadStateDict(_:ignoring:)``.
public final class LSTM: Module {
    public let configuration: RecurrentConfiguration
    public var isTraining = true
    let cells: [RecurrentCellWeights]
    var rng: SeededGenerator

    public init(_ configuration: RecurrentConfiguration, rng: inout SeededGenerator) {
        self.configuration = configuration
        cells = RecurrentStack.makeCells(configuration, gates: 4, rng: &rng)
        self.rng = SeededGenerator(seed: rng.next())
    }

    public convenience init(inputSize: Int, hiddenSize: Int, layers: Int = 1, bidirectional: Bool = false,
                            batchFirst: Bool = false, rng: inout SeededGenerator) {
        self.init(RecurrentConfiguration(inputSize: inputSize, hiddenSize: hiddenSize, layers: layers,
                                         bidirectional: bidirectional, batchFirst: batchFirst), rng: &rng)
    }

    public var ownParameters: [(String, Variable)] { cells.flatMap(\.named) }

    /// Runs the sequence.
    ///
    /// - Parameters:
    ///   - x: `[time, batch, input]` (or `[batch, time, input]` when `batchFirst`).
    ///   - state: `(h0, c0)`, each `[layers·directions, batch, hidden]`; zeros when nil.
    /// - Returns: `output` `[time, batch, directions·hidden]` (batch first if configured), and the final
    ///   `h`, `c` `[layers·directions, batch, hidden]` (all differentiable).
    public func callAsFunction(_ x: Variable, state: (h: Variable, c: Variable)? = nil) -> (output: Variable, h: Variable, c: Variable) {
        let c = configuration
        RecurrentStack.checkInput(x, c, "LSTM")
        var seq = c.batchFirst ? x.permuted([1, 0, 2]) : x
        let (T, B, H) = (seq.shape[0], seq.shape[1], c.hiddenSize)
        var hs: [Variable] = [], cs: [Variable] = []
        for l in 0..<c.layers {
            var outs: [Variable] = []
            for d in 0..<c.directions {
                let k = l * c.directions + d, w = cells[k]
                let packed = Variable.lstmSequence(seq, h0: RecurrentStack.initial(state?.h, k, batch: B, hidden: H),
                                                   c0: RecurrentStack.initial(state?.c, k, batch: B, hidden: H),
                                                   weightIH: w.weightIH, weightHH: w.weightHH, biasIH: w.biasIH, biasHH: w.biasHH,
                                                   reverse: d == 1)
                let last = d == 1 ? 0 : T - 1
                outs.append(packed.slice(axis: 2, start: 0, end: H))
                let final = packed.slice(axis: 0, start: last, end: last + 1)
                hs.append(final.slice(axis: 2, start: 0, end: H))
                cs.append(final.slice(axis: 2, start: H, end: 2 * H))
            }
            seq = outs.count == 1 ? outs[0] : Variable.concat(outs, axis: 2)
            if l < c.layers - 1 { seq = RecurrentStack.dropout(seq, c.dropout, training: isTraining, rng: &rng) }
        }
        let output = c.batchFirst ? seq.permuted([1, 0, 2]) : seq
        return (output, Variable.concat(hs, axis: 0), Variable.concat(cs, axis: 0))
    }
}

/// A multi-layer (optionally bidirectional) GRU, `torch.nn.GRU`-compatible.
///
/// Parameters (PyTorch names, gate blocks ordered r, z, n): `weight_ih_l{k}` `[3·hidden, input]`,
/// `weight_hh_l{k}` `[3·hidden, hidden]`, `bias_ih_l{k}`, `bias_hh_l{k}` `[3·hidden]`, `_reverse` likewise.
public final class GRU: Module {
    public let configuration: RecurrentConfiguration
    public var isTraining = true
    let cells: [RecurrentCellWeights]
    var rng: SeededGenerator

    public init(_ configuration: RecurrentConfiguration, rng: inout SeededGenerator) {
        self.configuration = configuration
        cells = RecurrentStack.makeCells(configuration, gates: 3, rng: &rng)
        self.rng = SeededGenerator(seed: rng.next())
    }

    public convenience init(inputSize: Int, hiddenSize: Int, layers: Int = 1, bidirectional: Bool = false,
                            batchFirst: Bool = false, rng: inout SeededGenerator) {
        self.init(RecurrentConfiguration(inputSize: inputSize, hiddenSize: hiddenSize, layers: layers,
                                         bidirectional: bidirectional, batchFirst: batchFirst), rng: &rng)
    }

    public var ownParameters: [(String, Variable)] { cells.flatMap(\.named) }

    /// Runs the sequence.
    ///
    /// - Parameters:
    ///   - x: `[time, batch, input]` (or `[batch, time, input]` when `batchFirst`).
    ///   - h0: `[layers·directions, batch, hidden]`; zeros when nil.
    /// - Returns: `output` `[time, batch, directions·hidden]` and the final `h` `[layers·directions, batch, hidden]`.
    public func callAsFunction(_ x: Variable, h0: Variable? = nil) -> (output: Variable, h: Variable) {
        let c = configuration
        RecurrentStack.checkInput(x, c, "GRU")
        var seq = c.batchFirst ? x.permuted([1, 0, 2]) : x
        let (T, B, H) = (seq.shape[0], seq.shape[1], c.hiddenSize)
        var hs: [Variable] = []
        for l in 0..<c.layers {
            var outs: [Variable] = []
            for d in 0..<c.directions {
                let k = l * c.directions + d, w = cells[k]
                let out = Variable.gruSequence(seq, h0: RecurrentStack.initial(h0, k, batch: B, hidden: H),
                                               weightIH: w.weightIH, weightHH: w.weightHH, biasIH: w.biasIH, biasHH: w.biasHH,
                                               reverse: d == 1)
                let last = d == 1 ? 0 : T - 1
                outs.append(out)
                hs.append(out.slice(axis: 0, start: last, end: last + 1))
            }
            seq = outs.count == 1 ? outs[0] : Variable.concat(outs, axis: 2)
            if l < c.layers - 1 { seq = RecurrentStack.dropout(seq, c.dropout, training: isTraining, rng: &rng) }
        }
        let output = c.batchFirst ? seq.permuted([1, 0, 2]) : seq
        return (output, Variable.concat(hs, axis: 0))
    }
}
