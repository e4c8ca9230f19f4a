import Foundation
import LeptonEngine

// Sequence models: LSTM on the engine's fused LSTM sequence, Pad, and 1-D convolutions (run as
// 2-D ones of height 1 by the Conv compiler registered before). Silero VAD (faster-whisper's
// voice-activity filter) needs all three.

extension Operators {
    static func registerRecurrent(_ t: inout [String: Compiler]) {
        t["LSTM"] = lstm
        t["Pad"] = pad
        // 1-D convolutions wrap whatever 2-D Conv compiler is registered, so that its kernels
        // (and their speed-ups) serve both.
        if let conv2D = t["Conv"] {
            t["Conv"] = { ctx in
                guard let x = ctx.optional(0), x.shape.count == 3 else { return try conv2D(ctx) }
                return try conv1D(ctx, conv2D)
            }
        }
    }

    // MARK: Conv (1-D)

    /// A 1-D convolution `[N, C, L]` as a 2-D one on `[N, C, 1, L]` with a `[O, C/g, 1, K]` weight.
    static func conv1D(_ ctx: OpContext, _ conv2D: Compiler) throws -> Kernel {
        let x = try ctx.float(0), w = try ctx.float(1)
        guard w.shape.count == 3 else { throw ctx.mismatch("weight \(w.shape) for a 1-D input \(x.shape): [out, in/groups, kernel] expected") }
        guard let weight = w.constant?.floatTensor else { throw ctx.unsupported("the weight must be a constant") }
        var attributes = ctx.node.attributes
        func widened(_ name: String, _ ones: Int) throws {
            guard let v = ctx.ints(name) else { return }
            guard (name == "pads" && v.count == 2) || (name != "pads" && v.count == 1) else {
                throw ctx.mismatch("\(name) \(v) for a 1-D convolution")
            }
            attributes[name] = .ints([Int64](repeating: name == "pads" ? 0 : 1, count: ones) + (name == "pads" ? [v[0], 0, v[1]] : v))
        }
        // pads [b, e] → [0, b, 0, e]; strides/dilations/kernel_shape [k] → [1, k].
        try widened("kernel_shape", 1)
        try widened("strides", 1)
        try widened("dilations", 1)
        try widened("pads", 1)
        // The 2-D Conv takes symmetric pads only: unequal ones are applied to the input first.
        var before = 0, after = 0
        if let p = ctx.ints("pads"), p.count == 2, p[0] != p[1] {
            guard p.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else { throw ctx.mismatch("pads \(p) out of range") }
            (before, after) = (Int(p[0]), Int(p[1]))
            attributes["pads"] = .ints([0, 0, 0, 0])
        }
        let length = x.shape[2] + before + after
        let x4 = [x.shape[0], x.shape[1], 1, length]
        var inputs = ctx.inputs
        inputs[0] = PlanSymbol(shape: x4, type: .float, constant: nil, register: x.register)
        let w4 = [w.shape[0], w.shape[1], 1, w.shape[2]]
        inputs[1] = PlanSymbol(shape: w4, type: .float, constant: .float(weight.reshaped(w4)))
        let node = ONNXNode(name: ctx.node.name, opType: "Conv", inputs: ctx.node.inputs, outputs: ctx.node.outputs, attributes: attributes)
        let inner = try conv2D(OpContext(node: node, inputs: inputs, limits: ctx.limits, opset: ctx.opset))
        guard let out4 = inner.outputs.first?.shape, out4.count == 4, out4[2] == 1 else {
            throw ctx.mismatch("1-D convolution planned as \(inner.outputs.first?.shape ?? [])")
        }
        let out = [out4[0], out4[1], out4[3]]
        let run = inner.run
        var variable: (@Sendable ([Variable?]) throws -> Variable)?
        if let v = inner.variable {
            variable = { @Sendable args in
                var wide = args
                wide[0] = try variableArg(args, 0).reshaped(x4)
                return try v(wide).reshaped(out)
            }
        }
        // No fusion: a BatchNormalization after it would be folded into a 4-D kernel.
        if before + after > 0 {
            variable = nil   // no gradient form for the padded input
        }
        let rows = x.shape[0] * x.shape[1], inLength = x.shape[2]
        let map = (0..<length).map { $0 - before < 0 || $0 - before >= inLength ? -1 : $0 - before }
        return single(out, variable: variable) { args in
            var wide = args
            var input = floatArg(args, 0)
            if length != inLength {
                input = Tensor(shape: x4, scalars: padded(input.scalars, from: [rows, inLength], to: [rows, length],
                                                          maps: [Array(0..<rows), map], fill: 0))
            }
            wide[0] = .float(input.reshaped(x4))
            guard let y = try run(wide).first?.floatTensor else { preconditionFailure("conv kernel returned no float output") }
            return .float(y.reshaped(out))
        }
    }

    // MARK: Pad

    /// `Pad` (opset 2…21): modes constant, reflect, edge and wrap; negative pads crop. Pads (and
    /// axes, constant value) must be known at load.
    static func pad(_ ctx: OpContext) throws -> Kernel {
        let x = try ctx.input(0)
        let r = x.shape.count
        let pads: [Int64], fill: Float
        var axes = Array(0..<r)
        if ctx.opset >= 11 {
            pads = try ctx.constant(1, "pads").integers
            fill = ctx.optional(2) != nil ? (try ctx.constant(2, "constant_value").floats.first ?? 0) : 0
            if ctx.optional(3) != nil { axes = try ctx.constant(3, "axes").integers.map { try ctx.axis($0, rank: r) } }
        } else {
            pads = ctx.ints("pads") ?? []
            fill = ctx.float("value", 0)
        }
        guard Set(axes).count == axes.count else { throw ctx.mismatch("repeated axis in \(axes)") }
        guard pads.count == 2 * axes.count else { throw ctx.mismatch("\(pads.count) pads for \(axes.count) axes (2 per axis expected)") }
        let mode = ctx.string("mode", "constant")
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else { throw ctx.unsupported("mode=\(mode)") }
        var begin = [Int](repeating: 0, count: r), end = [Int](repeating: 0, count: r)
        for (k, a) in axes.enumerated() {
            guard abs(pads[k]) <= 1 << 24, abs(pads[k + axes.count]) <= 1 << 24 else { throw ctx.mismatch("pads \(pads) out of range") }
            begin[a] = Int(pads[k]); end[a] = Int(pads[k + axes.count])
        }
        var shape = x.shape
        for a in 0..<r {
            let n = x.shape[a]
            shape[a] = n + begin[a] + end[a]
            guard shape[a] >= 0 else { throw ctx.mismatch("pads \(pads) crop axis \(a) of extent \(n) below zero") }
            let reach = Swift.max(begin[a], end[a])
            switch mode {
            case "reflect" where reach > 0 && reach > n - 1:
                throw ctx.mismatch("reflect pad \(reach) on axis \(a) needs an extent above it (got \(n))")
            case "edge" where reach > 0 && n == 0, "wrap" where reach > 0 && (n == 0 || reach > n):
                throw ctx.mismatch("\(mode) pad \(reach) on axis \(a) of extent \(n)")
            default: break
            }
        }
        let out = try ctx.checked(shape)
        // For each axis, the source index of each output position (−1: the constant).
        let maps: [[Int]] = (0..<r).map { a in
            let n = x.shape[a]
            return (0..<out[a]).map { o in
                let i = o - begin[a]
                if i >= 0 && i < n { return i }
                switch mode {
                case "edge": return Swift.min(Swift.max(i, 0), n - 1)
                case "reflect": return i < 0 ? -i : 2 * (n - 1) - i
                case "wrap": return ((i % n) + n) % n
                default: return -1
                }
            }
        }
        let inShape = x.shape
        if x.type == .float {
            return single(out) { args in
                let src = floatArg(args, 0).scalars
                return .float(Tensor(shape: out, scalars: padded(src, from: inShape, to: out, maps: maps, fill: fill)))
            }
        }
        let type = x.type
        return single(out, type) { args in
            ONNXValue.make(type, shape: out, ints: padded(args[0]!.integers, from: inShape, to: out, maps: maps, fill: Int64(fill)))
        }
    }

    /// `values` (row-major `[from]`) written into `[to]`, element `o` taken from the source index
    /// `maps[a][o_a]` on every axis (`fill` where a map says −1). Walks rows of the last axis.
    static func padded<T>(_ values: [T], from: [Int], to: [Int], maps: [[Int]], fill: T) -> [T] {
        let total = to.reduce(1, *)
        guard total > 0 else { return [] }
        let r = to.count
        guard r > 0 else { return values }
        var result = [T](repeating: fill, count: total)
        let strides = Layout.strides(from), last = maps[r - 1], width = to[r - 1]
        let rows = total / Swift.max(width, 1)
        var idx = [Int](repeating: 0, count: r - 1)
        for row in 0..<rows {
            var base = 0, inside = true
            for a in 0..<(r - 1) {
                let s = maps[a][idx[a]]
                if s < 0 { inside = false; break }
                base += s * strides[a]
            }
            if inside {
                let o = row * width
                for j in 0..<width where last[j] >= 0 { result[o + j] = values[base + last[j]] }
            }
            var a = r - 2
            while a >= 0 {
                idx[a] += 1
                if idx[a] < to[a] { break }
                idx[a] = 0; a -= 1
            }
        }
        return result
    }

    // MARK: LSTM

    /// `LSTM` (opset 7…21): forward, reverse or bidirectional, default activations (σ, tanh,
    /// tanh), no peepholes, no clip, every sequence full length, `layout` 0. Weights must be
    /// constants: their gate blocks (ONNX order i, o, f, c) are reordered once to the engine's
    /// (PyTorch's i, f, g, o) and each direction runs as ``Variable/lstmSequence`` (one GEMM for the
    /// input projection of all steps, one per step for the recurrence).
    static func lstm(_ ctx: OpContext) throws -> Kernel {
        let x = try ctx.float(0)
        let hidden = Int(ctx.int("hidden_size", 0))
        let direction = ctx.string("direction", "forward")
        guard ["forward", "reverse", "bidirectional"].contains(direction) else { throw ctx.unsupported("direction=\(direction)") }
        let dirs = direction == "bidirectional" ? 2 : 1
        // Batch-first (layout 1) is refused, as ONNX Runtime refuses it.
        guard ctx.int("layout", 0) == 0 else { throw ctx.unsupported("layout=1 (batch first)") }
        guard x.shape.count == 3 else { throw ctx.mismatch("X \(x.shape) must be [seq, batch, input]") }
        let (T, B, I) = (x.shape[0], x.shape[1], x.shape[2])
        guard ctx.node.attributes["clip"] == nil else { throw ctx.unsupported("clip") }
        guard ctx.int("input_forget", 0) == 0 else { throw ctx.unsupported("input_forget=1") }
        if case let .strings(acts)? = ctx.node.attributes["activations"] {
            let standard = Array([String](repeating: "", count: dirs).map { _ in ["Sigmoid", "Tanh", "Tanh"] }.joined())
            guard acts == standard else { throw ctx.unsupported("activations \(acts) (only Sigmoid, Tanh, Tanh)") }
        }
        guard ctx.optional(4) == nil else { throw ctx.unsupported("sequence_lens (every sequence must be full length)") }
        guard ctx.optional(7) == nil else { throw ctx.unsupported("peepholes (input P)") }
        let w = try ctx.constant(1, "W").floatTensor, rw = try ctx.constant(2, "R").floatTensor
        guard let w, let rw, hidden > 0, w.shape == [dirs, 4 * hidden, I], rw.shape == [dirs, 4 * hidden, hidden] else {
            throw ctx.mismatch("W \(w?.shape ?? []) and R \(rw?.shape ?? []) for \(dirs) direction(s), hidden_size \(hidden), input \(I)")
        }
        var bias: Tensor?
        if ctx.optional(3) != nil {
            bias = try ctx.constant(3, "B").floatTensor
            guard bias?.shape == [dirs, 8 * hidden] else { throw ctx.mismatch("B \(bias?.shape ?? []), [\(dirs), \(8 * hidden)] expected") }
        }
        let stateShape = [dirs, B, hidden]
        for i in [5, 6] {
            if let s = ctx.optional(i) {
                guard s.type == .float, s.shape == stateShape else { throw ctx.mismatch("input \(i) \(s.shape), \(stateShape) expected") }
            }
        }
        let H = hidden
        /// ONNX gate blocks i, o, f, c → the engine's i, f, g (= c), o.
        func reordered(_ rows: [Float], width: Int) -> Tensor {
            let block = H * width
            var out = [Float](); out.reserveCapacity(4 * block)
            for g in [0, 2, 3, 1] { out += rows[(g * block)..<((g + 1) * block)] }
            return Tensor(shape: [4 * H, width], scalars: out)
        }
        let ws = w.scalars, rs = rw.scalars, bs = bias?.scalars
        // Tensors (Sendable) kept; the run wraps them as constant Variables (no gradient recorded).
        let cells: [(wih: Tensor, whh: Tensor, bih: Tensor?, bhh: Tensor?)] = (0..<dirs).map { d in
            let wd = Array(ws[(d * 4 * H * I)..<((d + 1) * 4 * H * I)]), rd = Array(rs[(d * 4 * H * H)..<((d + 1) * 4 * H * H)])
            let bih = bs.map { Array($0[(d * 8 * H)..<(d * 8 * H + 4 * H)]) }, bhh = bs.map { Array($0[(d * 8 * H + 4 * H)..<((d + 1) * 8 * H)]) }
            return (reordered(wd, width: I), reordered(rd, width: H),
                    bih.map { reordered($0, width: 1).reshaped([4 * H]) }, bhh.map { reordered($0, width: 1).reshaped([4 * H]) })
        }
        let reverseOnly = direction == "reverse"
        let yShape = try ctx.checked([T, dirs, B, H])
        let hasH = ctx.optional(5) != nil, hasC = ctx.optional(6) != nil
        return Kernel(outputs: [(yShape, .float), (stateShape, .float), (stateShape, .float)], run: { args in
            let x = Variable(floatArg(args, 0))
            /// Initial state of direction `d` as `[batch, hidden]`.
            func initial(_ i: Int, _ present: Bool, _ d: Int) -> Variable {
                guard present else { return Variable(Tensor(shape: [B, H], repeating: 0)) }
                return Variable(floatArg(args, i).slice(axis: 0, start: d, end: d + 1).reshaped([B, H]))
            }
            var y = [Float](repeating: 0, count: T * dirs * B * H)
            var hn = [Float](repeating: 0, count: dirs * B * H), cn = hn
            for d in 0..<dirs {
                let cell = cells[d]
                let packed = Variable.lstmSequence(x, h0: initial(5, hasH, d), c0: initial(6, hasC, d), weightIH: Variable(cell.wih),
                                                   weightHH: Variable(cell.whh), biasIH: cell.bih.map { Variable($0) },
                                                   biasHH: cell.bhh.map { Variable($0) }, reverse: reverseOnly || d == 1).value.scalars
                // packed [T, B, 2H]: h then c per step; y [T, dirs, B, H].
                for t in 0..<T {
                    for b in 0..<B {
                        let src = (t * B + b) * 2 * H, dst = ((t * dirs + d) * B + b) * H
                        for j in 0..<H { y[dst + j] = packed[src + j] }
                    }
                }
                let last = reverseOnly || d == 1 ? 0 : T - 1
                for b in 0..<B {
                    let src = (last * B + b) * 2 * H, dst = (d * B + b) * H
                    for j in 0..<H { hn[dst + j] = packed[src + j]; cn[dst + j] = packed[src + H + j] }
                }
            }
            return [.float(Tensor(shape: [T, dirs, B, H], scalars: y)), .float(Tensor(shape: [dirs, B, H], scalars: hn)),
                    .float(Tensor(shape: [dirs, B, H], scalars: cn))]
        })
    }
}
