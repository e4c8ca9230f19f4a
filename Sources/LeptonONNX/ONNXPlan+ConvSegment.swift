import Foundation
import LeptonEngine

// The fast path for convolution networks: a run of consecutive Conv / Relu / Add / MaxPool /
// GlobalAveragePool steps becomes one step that keeps its activations channels-last (NHWC)
// between oneDNN primitives, with ReLU and a residual Add fused into the convolution before them,
// and converts layouts only at the run's edges. Anything oneDNN refuses keeps the one-by-one steps.

/// One operation of a ``ConvSegment`` on its channels-last buffers.
struct SegmentOp: Sendable {
    enum Kind: Sendable {
        /// Convolution (+ the buffer `inputs[1]` as a residual) (+ ReLU), as built into the layer.
        case conv(ChannelsLastConvolution)
        case maxPool(ChannelsLastMaxPool)
        case add, relu, globalAverage
    }
    var kind: Kind
    var inputs: [Int]
    var output: Int
    /// An input whose storage the output takes over (its last use; never a segment output).
    var reuse: Int? = nil
    /// The ONNX nodes this operation stands for.
    var nodes: [String]
}

/// A run of convolution-network steps executed on oneDNN with channels-last buffers.
/// Immutable; each ``run(_:)`` allocates its own buffers, so one segment serves many threads.
struct ConvSegment: Sendable {
    /// Buffer shapes, by buffer number.
    let shapes: [ChannelsLastShape]
    /// Buffers filled from the step's arguments (NCHW tensors), in argument order.
    let inputs: [Int]
    /// Buffers returned as the step's results (NCHW tensors), in order.
    let outputs: [Int]
    let ops: [SegmentOp]
    /// Buffers freed after each operation (their last use).
    let release: [[Int]]

    func run(_ args: [ONNXValue?]) throws -> [ONNXValue] {
        var buffers = [UnsafeMutablePointer<Float>?](repeating: nil, count: shapes.count)
        defer { for b in buffers { if let b { Self.free(b) } } }
        func allocate(_ i: Int) -> UnsafeMutablePointer<Float> {
            let p = Self.allocate(shapes[i].count)
            buffers[i] = p
            return p
        }
        /// The output buffer of `op`: an input's storage when it may be reused, else new.
        func destination(_ op: SegmentOp) -> UnsafeMutablePointer<Float> {
            guard let r = op.reuse, let p = buffers[r] else { return allocate(op.output) }
            buffers[r] = nil
            buffers[op.output] = p
            return p
        }
        for (k, b) in inputs.enumerated() {
            let y = allocate(b)
            floatArg(args, k).withUnsafeBufferPointer { ChannelsLast.fromNCHW($0.baseAddress!, shapes[b], into: y) }
        }
        for (i, op) in ops.enumerated() {
            let x = UnsafePointer(buffers[op.inputs[0]]!)
            switch op.kind {
            case let .conv(layer):
                let y: UnsafeMutablePointer<Float>
                if op.inputs.count > 1 {
                    let residual = op.inputs[1]
                    if op.reuse == residual { y = destination(op) }
                    else { y = allocate(op.output); y.update(from: buffers[residual]!, count: shapes[residual].count) }
                } else {
                    y = allocate(op.output)
                }
                try layer.run(x, y)
            case let .maxPool(layer):
                try layer.run(x, allocate(op.output))
            case .globalAverage:
                ChannelsLast.globalAverage(x, shapes[op.inputs[0]], into: allocate(op.output))
            case .add:
                let b = UnsafePointer(buffers[op.inputs[1]]!)
                ChannelsLast.add(x, b, count: shapes[op.output].count, into: destination(op))
            case .relu:
                ChannelsLast.relu(x, count: shapes[op.output].count, into: destination(op))
            }
            for r in release[i] { if let p = buffers[r] { Self.free(p); buffers[r] = nil } }
        }
        return outputs.map { b in
            .float(Tensor(shape: shapes[b].nchw) { ChannelsLast.toNCHW(buffers[b]!, shapes[b], into: $0.baseAddress!) })
        }
    }

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
    }

    static func free(_ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).deallocate() }
}

extension ONNXPlan {
    /// Whether ``ONNXModel/plan(inputShapes:)`` builds convolution segments: yes unless the
    /// environment says `LEPTON_ONNX_FAST=0` (to compare with the one-by-one steps).
    static let fastConvolutionsByDefault = ProcessInfo.processInfo.environment["LEPTON_ONNX_FAST"] != "0"

    /// The multiply-adds below which a layer runs whole on the calling thread: handing half of
    /// 4M (about 40 µs on one core) to another thread costs about what it saves, and split
    /// pieces made the scan CNN (layers of 0.1–0.9M) slower than ONNX Runtime.
    static let defaultSplitWork = 1 << 22

    /// `steps` with every maximal run of consecutive segment-able steps that holds a `Conv`
    /// replaced by one ``ConvSegment`` step; a run oneDNN cannot take whole stays as it was.
    /// Returns the new steps and the number of segments.
    static func segmentingConvolutions(_ steps: [PlanStep], inputSlotShapes: [Int: [Int]], outputSlots: Set<Int>,
                                       parts: Int, splitWork: Int) -> ([PlanStep], Int) {
        var shapes = inputSlotShapes
        var readers: [Int: [Int]] = [:]
        for (i, st) in steps.enumerated() {
            for (k, r) in st.outputs.enumerated() { shapes[r] = st.kernel.outputs[k].shape }
            for case let .slot(r) in st.inputs { readers[r, default: []].append(i) }
        }
        func slot(_ st: PlanStep, _ i: Int) -> Int? {
            guard i < st.inputs.count, case let .slot(r) = st.inputs[i], shapes[r]?.count == 4 else { return nil }
            return r
        }
        func segmentable(_ st: PlanStep) -> Bool {
            guard st.outputs.count == 1, st.kernel.outputs[0].shape.count == 4 else { return false }
            switch (st.op, st.kernel.fusion) {
            case ("Conv", .conv): return slot(st, 0) != nil
            case ("MaxPool", .maxPool), ("GlobalAveragePool", _), ("Relu", _): return st.inputs.count == 1 && slot(st, 0) != nil
            case ("Add", _):
                guard st.inputs.count == 2, let a = slot(st, 0), let b = slot(st, 1) else { return false }
                return shapes[a] == shapes[b] && shapes[a] == st.kernel.outputs[0].shape
            default: return false
            }
        }
        var result: [PlanStep] = [], segments = 0
        var i = 0
        while i < steps.count {
            guard segmentable(steps[i]) else { result.append(steps[i]); i += 1; continue }
            var j = i
            while j < steps.count && segmentable(steps[j]) { j += 1 }
            let run = Array(i..<j)
            if run.contains(where: { steps[$0].op == "Conv" }),
               let fused = try? segment(steps, run: run, shapes: shapes, readers: readers, outputSlots: outputSlots, parts: parts,
                                         splitWork: splitWork) {
                result.append(fused)
                segments += 1
            } else {
                result.append(contentsOf: run.map { steps[$0] })
            }
            i = j
        }
        return (result, segments)
    }

    /// The steps `run` (consecutive, each segment-able) as one ``ConvSegment`` step.
    static func segment(_ steps: [PlanStep], run: [Int], shapes: [Int: [Int]], readers: [Int: [Int]], outputSlots: Set<Int>,
                        parts: Int, splitWork: Int) throws -> PlanStep {
        let inRun = Set(run)
        var producer: [Int: Int] = [:]   // slot → step, inside the run
        for i in run { producer[steps[i].outputs[0]] = i }
        func input(_ st: PlanStep, _ k: Int) -> Int { if case let .slot(r) = st.inputs[k] { return r }; preconditionFailure("checked slot") }
        /// The one step reading `slot`, if it is in the run and nothing else (nor the graph) reads it.
        func onlyReader(_ slot: Int) -> Int? {
            guard !outputSlots.contains(slot), let r = readers[slot], r.count == 1, inRun.contains(r[0]) else { return nil }
            return r[0]
        }
        // Buffers: one per slot the segment reads or writes.
        var buffer: [Int: Int] = [:], bufferShapes: [ChannelsLastShape] = []
        func id(_ slot: Int) -> Int {
            if let b = buffer[slot] { return b }
            buffer[slot] = bufferShapes.count
            bufferShapes.append(ChannelsLastShape(nchw: shapes[slot]!))
            return bufferShapes.count - 1
        }
        /// Pieces for a layer of `work` multiply-adds (one below `splitWork`).
        func pieces(_ work: Int) -> Int { work >= splitWork ? parts : 1 }
        var externalInputs: [Int] = []
        /// The buffer of a slot an operation reads (computed before the segment: an input of it).
        func read(_ slot: Int) -> Int {
            if producer[slot] == nil && !externalInputs.contains(slot) { externalInputs.append(slot) }
            return id(slot)
        }
        var ops: [SegmentOp] = [], absorbed = Set<Int>()
        for i in run where !absorbed.contains(i) {
            let st = steps[i]
            let x = input(st, 0)
            switch (st.op, st.kernel.fusion) {
            case let ("Conv", .conv(spec)):
                // Conv (→ Add with a tensor already computed) (→ Relu), each the only reader of the one before.
                var output = st.outputs[0], residual: Int?, relu = false, nodes = [st.node]
                if let j = onlyReader(output), steps[j].op == "Add" {
                    let a = input(steps[j], 0), b = input(steps[j], 1)
                    let other = a == output ? b : a
                    if other != output, producer[other].map({ $0 < i }) ?? true {
                        residual = other; output = steps[j].outputs[0]; absorbed.insert(j); nodes.append(steps[j].node)
                    }
                }
                if let j = onlyReader(output), steps[j].op == "Relu" {
                    relu = true; output = steps[j].outputs[0]; absorbed.insert(j); nodes.append(steps[j].node)
                }
                let s = shapes[x]!
                let g = Conv2dGeometry(batch: s[0], inChannels: s[1], height: s[2], width: s[3], outChannels: spec.weight.shape[0],
                                       kernelH: spec.weight.shape[2], kernelW: spec.weight.shape[3], stride: spec.stride,
                                       padding: spec.padding, dilation: spec.dilation, groups: spec.groups)
                let work = g.outChannels * g.outHeight * g.outWidth * g.batch * g.colRows
                let layer = try ChannelsLastConvolution(geometry: g, weight: spec.weight, bias: spec.bias,
                                                        addsResidual: residual != nil, relu: relu, parts: pieces(work))
                guard layer.output == ChannelsLastShape(nchw: shapes[output]!) else {
                    throw ONNXError.shapeMismatch(node: st.node, op: "Conv", reason: "oneDNN output \(layer.output), planned \(shapes[output]!)")
                }
                ops.append(SegmentOp(kind: .conv(layer), inputs: [read(x)] + (residual.map { [read($0)] } ?? []), output: id(output), nodes: nodes))
            case let ("MaxPool", .maxPool(kernel, stride, padding)):
                let out = shapes[st.outputs[0]]!
                let layer = try ChannelsLastMaxPool(input: ChannelsLastShape(nchw: shapes[x]!), kernel: kernel, stride: stride,
                                                    padding: padding, parts: pieces(out.reduce(1, *) * kernel.0 * kernel.1))
                guard layer.output == ChannelsLastShape(nchw: shapes[st.outputs[0]]!) else {
                    throw ONNXError.shapeMismatch(node: st.node, op: "MaxPool", reason: "oneDNN output \(layer.output), planned \(shapes[st.outputs[0]]!)")
                }
                ops.append(SegmentOp(kind: .maxPool(layer), inputs: [read(x)], output: id(st.outputs[0]), nodes: [st.node]))
            case ("GlobalAveragePool", _):
                ops.append(SegmentOp(kind: .globalAverage, inputs: [read(x)], output: id(st.outputs[0]), nodes: [st.node]))
            case ("Add", _):
                ops.append(SegmentOp(kind: .add, inputs: [read(x), read(input(st, 1))], output: id(st.outputs[0]), nodes: [st.node]))
            case ("Relu", _):
                ops.append(SegmentOp(kind: .relu, inputs: [read(x)], output: id(st.outputs[0]), nodes: [st.node]))
            default:
                preconditionFailure("segment-able step \(st.op)")
            }
        }
        // The slots computed here that a later step or the graph reads leave the segment as NCHW tensors.
        let outputs = run.map { steps[$0].outputs[0] }.filter { r in
            buffer[r] != nil && (outputSlots.contains(r) || (readers[r] ?? []).contains { !inRun.contains($0) })
        }
        let outputBuffers = Set(outputs.map { buffer[$0]! })
        var lastUse = [Int](repeating: -1, count: bufferShapes.count)
        for (k, op) in ops.enumerated() { for b in op.inputs { lastUse[b] = k } }
        for (k, op) in ops.enumerated() {
            // The output may take over an input's storage at its last use (a residual, an Add or Relu operand).
            let candidates: [Int]
            switch op.kind {
            case .conv: candidates = op.inputs.count > 1 && op.inputs[1] != op.inputs[0] ? [op.inputs[1]] : []
            case .add, .relu: candidates = op.inputs
            case .maxPool, .globalAverage: candidates = []
            }
            ops[k].reuse = candidates.first { lastUse[$0] == k && !outputBuffers.contains($0) }
        }
        var release = [[Int]](repeating: [], count: ops.count)
        for (b, k) in lastUse.enumerated() where k >= 0 && !outputBuffers.contains(b) { release[k].append(b) }
        let segment = ConvSegment(shapes: bufferShapes, inputs: externalInputs.map { buffer[$0]! }, outputs: outputs.map { buffer[$0]! },
                                  ops: ops, release: release)
        var kernel = Kernel(outputs: outputs.map { (shape: shapes[$0]!, type: ONNXElementType.float) }, run: { try segment.run($0) })
        kernel.segment = segment
        return PlanStep(node: "\(steps[run.first!].node)…\(steps[run.last!].node)", op: "ConvSegment",
                        inputs: externalInputs.map { .slot($0) }, outputs: outputs, kernel: kernel)
    }
}
