import Foundation
import LeptonEngine

/// A tensor while planning: its shape and type, and its value when it depends only on constants.
struct PlanSymbol {
    var shape: [Int]
    var type: ONNXElementType
    var constant: ONNXValue?
    /// The runtime slot holding it (−1 for a constant).
    var register: Int = -1
}

/// An operator compiled for fixed input shapes: its outputs' shapes and a function that computes
/// them, plus the same operator on autodiff variables where Grad-CAM needs its gradient.
struct Kernel {
    var outputs: [(shape: [Int], type: ONNXElementType)]
    var run: @Sendable ([ONNXValue?]) throws -> [ONNXValue]
    /// The operator on float inputs as ``Variable``s (nil entries for non-float inputs).
    var variable: (@Sendable ([Variable?]) throws -> Variable)? = nil
    /// What a later node may fuse into this one.
    var fusion: Fusion = .none
    /// The outputs depend on the inputs' shapes only (`Shape`, `Size`): folded at load even when
    /// the input is computed at run time.
    var shapeOnly = false
    /// The oneDNN convolution segment this kernel runs, if it is one (for tests and profiles).
    var segment: ConvSegment? = nil

    enum Fusion {
        case none
        /// A 2-D convolution with constant weights (a following BatchNormalization folds into them).
        case conv(ConvSpec)
        /// `x · W` with a constant `[k, n]` weight (a following `+ bias[n]` joins the GEMM).
        case matmul(weight: Tensor)
        /// A 2-D max pool (what a convolution segment needs to run it on oneDNN).
        case maxPool(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int))
    }
}

/// One step of a plan: a kernel reading slots or constants and writing slots.
struct PlanStep {
    enum Source { case absent, constant(ONNXValue), slot(Int) }
    let node: String
    var op: String
    var inputs: [Source]
    var outputs: [Int]
    var kernel: Kernel
}

/// An ``ONNXModel`` compiled for fixed input shapes: constants folded, shapes inferred and
/// checked, fusions applied. Immutable: ``run(_:)`` may be called from many threads at once.
public struct ONNXPlan: Sendable {
    /// Input names and the shapes this plan was built for.
    public let inputShapes: [String: [Int]]
    let inputTypes: [String: ONNXElementType]
    let inputSlots: [String: Int]
    /// The steps one by one (Grad-CAM's path, and the reference for the fast path).
    let steps: [PlanStep]
    let slotCount: Int
    /// Slots released after each step (last use), so memory follows the live tensors only.
    let release: [[Int]]
    /// What ``run(_:)`` executes: ``steps`` with each run of convolution-network steps replaced by
    /// one oneDNN convolution segment (``ConvSegment``); equal to ``steps`` when none applies.
    let fastSteps: [PlanStep]
    let fastRelease: [[Int]]
    /// How many convolution segments ``run(_:)`` executes on oneDNN.
    public let convolutionSegments: Int
    /// Graph outputs: a slot or a folded constant.
    let outputSources: [(name: String, source: PlanStep.Source, shape: [Int])]
    /// The index in ``steps`` of the last `Conv` (Grad-CAM's layer), if any.
    public let lastConvStep: Int?
    /// Every output's shape by name.
    public var outputShapes: [String: [Int]] { Dictionary(uniqueKeysWithValues: outputSources.map { ($0.name, $0.shape) }) }
    /// Number of operators left to run after folding and fusion.
    public var stepCount: Int { steps.count }

    /// - Parameters:
    ///   - fastConvolutions: run convolution segments on oneDNN (false: the engine's im2col + GEMM
    ///     path for every step, as Grad-CAM runs them).
    ///   - splitWork: a segment's layer of at least this many multiply-adds is cut into pieces
    ///     for the engine's threads (tests pass 0 to cut every layer).
    init(model: ONNXModel, inputShapes: [String: [Int]], fastConvolutions: Bool = true,
         splitWork: Int = ONNXPlan.defaultSplitWork) throws {
        var symbols: [String: PlanSymbol] = [:]
        for (name, value) in model.initializers { symbols[name] = PlanSymbol(shape: value.shape, type: value.type, constant: value) }
        var slots = 0
        var inputSlots: [String: Int] = [:], inputTypes: [String: ONNXElementType] = [:]
        for info in model.inputs {
            guard let shape = inputShapes[info.name] else { throw ONNXError.badInput(name: info.name, reason: "no shape given (the model needs it)") }
            guard shape.count == info.dims.count else {
                throw ONNXError.badInput(name: info.name, reason: "rank \(shape.count), the model declares rank \(info.dims.count)")
            }
            for (got, want) in zip(shape, info.dims) where want != nil && got != want! {
                throw ONNXError.badInput(name: info.name, reason: "shape \(shape), the model declares \(info.dims.map { $0.map(String.init) ?? "?" })")
            }
            guard shape.allSatisfy({ $0 > 0 }) else { throw ONNXError.badInput(name: info.name, reason: "shape \(shape) has an empty axis") }
            _ = try model.limits.elementCount(shape, tensor: info.name)
            symbols[info.name] = PlanSymbol(shape: shape, type: info.type, constant: nil, register: slots)
            inputSlots[info.name] = slots; inputTypes[info.name] = info.type
            slots += 1
        }
        // How many readers each tensor has: a fusion may only swallow a tensor nobody else reads.
        let nodes = Self.fusingGelu(model.nodes, initializers: model.initializers, outputs: model.outputs)
        var uses: [String: Int] = [:]
        for n in nodes { for i in n.inputs where !i.isEmpty { uses[i, default: 0] += 1 } }
        for o in model.outputs { uses[o, default: 0] += 1 }

        var steps: [PlanStep] = []
        var producer: [Int: Int] = [:]   // slot → step
        for node in nodes {
            let ins: [PlanSymbol?] = try node.inputs.map { name in
                if name.isEmpty { return nil }
                guard let s = symbols[name] else { throw ONNXError.missingInput(tensor: name, node: node.name) }
                return s
            }
            let ctx = OpContext(node: node, inputs: ins, limits: model.limits, opset: model.opset)
            guard let compile = Operators.table[node.opType] else {
                throw ONNXError.unsupportedOperator(op: node.opType, node: node.name, reason: nil)
            }
            let kernel = try compile(ctx)
            let wanted = node.outputs.enumerated().filter { !$0.element.isEmpty }
            if let extra = wanted.first(where: { $0.offset >= kernel.outputs.count }) {
                throw ONNXError.unsupportedOperator(op: node.opType, node: node.name, reason: "output \(extra.offset) ('\(extra.element)') is not computed")
            }
            for (i, o) in kernel.outputs.enumerated() { _ = try model.limits.elementCount(o.shape, tensor: i < node.outputs.count ? node.outputs[i] : node.name) }

            if kernel.shapeOnly || ins.allSatisfy({ $0 == nil || $0!.constant != nil }) {
                // Constant folding: every input is known, so is every output.
                let values = try kernel.run(ins.map { $0?.constant })
                for (i, name) in node.outputs.enumerated() where !name.isEmpty {
                    symbols[name] = PlanSymbol(shape: values[i].shape, type: values[i].type, constant: values[i])
                }
                continue
            }
            if let fused = try Self.fuse(node: node, ctx: ctx, steps: &steps, producer: producer, uses: uses) {
                symbols[node.outputs[0]] = fused
                continue
            }
            var outSlots: [Int] = []
            for (i, o) in kernel.outputs.enumerated() {
                let name = i < node.outputs.count ? node.outputs[i] : ""
                outSlots.append(slots)
                if !name.isEmpty { symbols[name] = PlanSymbol(shape: o.shape, type: o.type, constant: nil, register: slots) }
                producer[slots] = steps.count
                slots += 1
            }
            let sources: [PlanStep.Source] = ins.map { s in
                guard let s else { return .absent }
                if let c = s.constant { return .constant(c) }
                return .slot(s.register)
            }
            steps.append(PlanStep(node: node.name, op: node.opType, inputs: sources, outputs: outSlots, kernel: kernel))
        }
        var outputs: [(name: String, source: PlanStep.Source, shape: [Int])] = []
        for name in model.outputs {
            guard let s = symbols[name] else { throw ONNXError.missingInput(tensor: name, node: "graph output") }
            outputs.append((name, s.constant.map { .constant($0) } ?? .slot(s.register), s.shape))
        }
        self.inputShapes = inputShapes
        self.inputTypes = inputTypes
        self.inputSlots = inputSlots
        self.steps = steps
        self.slotCount = slots
        self.release = Self.releases(steps, slotCount: slots, outputs: outputs)
        let outputSlots = Set(outputs.compactMap { if case let .slot(r) = $0.source { return r }; return nil })
        var inputSlotShapes: [Int: [Int]] = [:]
        for (name, slot) in inputSlots { inputSlotShapes[slot] = inputShapes[name] }
        let fast = fastConvolutions
            ? Self.segmentingConvolutions(steps, inputSlotShapes: inputSlotShapes, outputSlots: outputSlots, parts: EngineThreads.count,
                                           splitWork: splitWork)
            : (steps, 0)
        fastSteps = fast.0
        fastRelease = Self.releases(fast.0, slotCount: slots, outputs: outputs)
        convolutionSegments = fast.1
        self.outputSources = outputs
        lastConvStep = steps.lastIndex { $0.op == "Conv" }
    }

    /// For each step, the slots whose last reader it is (graph outputs are never released).
    static func releases(_ steps: [PlanStep], slotCount: Int, outputs: [(name: String, source: PlanStep.Source, shape: [Int])]) -> [[Int]] {
        var lastUse = [Int](repeating: -1, count: slotCount)
        for (i, st) in steps.enumerated() { for case let .slot(r) in st.inputs { lastUse[r] = i } }
        for case let (_, .slot(r), _) in outputs { lastUse[r] = Int.max }
        var release = [[Int]](repeating: [], count: steps.count)
        for (r, i) in lastUse.enumerated() where i >= 0 && i < steps.count { release[i].append(r) }
        return release
    }

    /// Conv+BatchNormalization (the normalisation folded into the convolution's weights) and
    /// MatMul+Add (the bias added by the GEMM), when the first node's output has no other reader.
    /// Returns the fused node's output symbol, or nil when nothing fused.
    static func fuse(node: ONNXNode, ctx: OpContext, steps: inout [PlanStep], producer: [Int: Int],
                     uses: [String: Int]) throws -> PlanSymbol? {
        func producing(_ i: Int) -> (step: Int, symbol: PlanSymbol)? {
            guard i < ctx.inputs.count, let s = ctx.inputs[i], s.constant == nil, uses[node.inputs[i]] == 1,
                  let p = producer[s.register] else { return nil }
            return (p, s)
        }
        switch node.opType {
        case "BatchNormalization":
            guard let (p, x) = producing(0), case let .conv(spec) = steps[p].kernel.fusion,
                  let scale = ctx.inputs[1]?.constant?.floatTensor, let shift = ctx.inputs[2]?.constant?.floatTensor,
                  let mean = ctx.inputs[3]?.constant?.floatTensor, let variance = ctx.inputs[4]?.constant?.floatTensor else { return nil }
            let folded = spec.foldingBatchNorm(scale: scale, shift: shift, mean: mean, variance: variance,
                                               eps: ctx.float("epsilon", 1e-5))
            steps[p].kernel = Operators.convKernel(folded, outputShape: x.shape)
            steps[p].op = "Conv"
            return x
        case "Add":
            for (m, b) in [(0, 1), (1, 0)] {
                guard let (p, x) = producing(m), case let .matmul(weight) = steps[p].kernel.fusion,
                      let bias = ctx.inputs[b]?.constant?.floatTensor, bias.shape == [weight.shape[1]],
                      x.shape.last == weight.shape[1] else { continue }
                steps[p].kernel = Operators.linearKernel(weight: weight, bias: bias, outputShape: x.shape)
                return x
            }
            return nil
        default:
            return nil
        }
    }

    // MARK: Running

    /// Runs the plan: `inputs` by name (shapes as planned) → every graph output by name.
    public func run(_ inputs: [String: ONNXValue]) throws -> [String: ONNXValue] {
        var slots = try initialSlots(inputs)
        for i in fastSteps.indices { try execute(fastSteps[i], release: fastRelease[i], &slots) }
        return try collectOutputs(slots)
    }

    func initialSlots(_ inputs: [String: ONNXValue]) throws -> [ONNXValue?] {
        var slots = [ONNXValue?](repeating: nil, count: slotCount)
        for (name, slot) in inputSlots {
            guard var v = inputs[name] else { throw ONNXError.badInput(name: name, reason: "missing") }
            guard v.shape == inputShapes[name] else { throw ONNXError.badInput(name: name, reason: "shape \(v.shape), the plan is for \(inputShapes[name]!)") }
            let want = inputTypes[name]!
            if v.type != want {
                // Integers given as floats (or the reverse) are converted; anything else is refused.
                guard want != .bool else { throw ONNXError.badInput(name: name, reason: "type \(v.type.rawValue), the model wants bool") }
                v = v.cast(to: want)
            }
            slots[slot] = v
        }
        return slots
    }

    /// Runs step `i` of ``steps`` (the one-by-one path).
    func execute(_ i: Int, _ slots: inout [ONNXValue?]) throws {
        try execute(steps[i], release: release[i], &slots)
    }

    func execute(_ step: PlanStep, release: [Int], _ slots: inout [ONNXValue?]) throws {
        let args: [ONNXValue?] = step.inputs.map {
            switch $0 {
            case .absent: return nil
            case let .constant(v): return v
            case let .slot(r): return slots[r]
            }
        }
        let results = try step.kernel.run(args)
        for (k, r) in step.outputs.enumerated() {
            guard results[k].shape == step.kernel.outputs[k].shape else {
                throw ONNXError.shapeMismatch(node: step.node, op: step.op, reason: "computed \(results[k].shape), planned \(step.kernel.outputs[k].shape)")
            }
            slots[r] = results[k]
        }
        for r in release { slots[r] = nil }
    }

    func collectOutputs(_ slots: [ONNXValue?]) throws -> [String: ONNXValue] {
        var out: [String: ONNXValue] = [:]
        for (name, source, _) in outputSources {
            switch source {
            case let .constant(v): out[name] = v
            case let .slot(r): out[name] = slots[r]
            case .absent: break
            }
        }
        return out
    }
}
