import Foundation
import LeptonEngine

/// A layer's activation and the gradient of a scalar score with respect to it (what Grad-CAM needs).
public struct ONNXLayerGradient: Sendable {
    /// Every graph output of the forward pass, by name.
    public let outputs: [String: ONNXValue]
    /// The layer's output, e.g. `[N, C, h, w]` for a convolution.
    public let activation: Tensor
    /// ∂score/∂activation, same shape.
    public let gradient: Tensor
    /// The layer's node name.
    public let node: String
}

extension ONNXPlan {
    /// Runs the plan and back-propagates from `output` to the output of the last `Conv`
    /// (Grad-CAM's layer): the steps up to it run on plain tensors, the steps after it that
    /// depend on it run again on the engine's autodiff ``Variable``s (the rest stay tensors), and
    /// `seed(outputValue)` is the gradient fed into `output` (a one-hot on the explained class).
    ///
    /// A step after the layer whose operator has no gradient here is an
    /// ``ONNXError/unsupportedOperator(op:node:reason:)`` naming it.
    public func lastConvGradient(_ inputs: [String: ONNXValue], output: String,
                                 seed: (Tensor) -> Tensor) throws -> ONNXLayerGradient {
        guard let layer = lastConvStep else {
            throw ONNXError.unsupportedOperator(op: "Conv", node: "(none)", reason: "Grad-CAM needs a Conv layer and the graph has none")
        }
        guard let target = outputSources.first(where: { $0.name == output }), case let .slot(targetSlot) = target.source else {
            throw ONNXError.badInput(name: output, reason: "not an output computed from the inputs")
        }
        var slots = try initialSlots(inputs)
        for i in 0...layer { try execute(i, &slots) }
        let layerSlot = steps[layer].outputs[0]
        guard case let .float(activation)? = slots[layerSlot] else {
            throw ONNXError.shapeMismatch(node: steps[layer].node, op: "Conv", reason: "no output")
        }
        let leaf = Variable(activation, requiresGrad: true, name: "gradcam.activation")
        var variables: [Int: Variable] = [layerSlot: leaf]
        for i in (layer + 1)..<steps.count {
            let step = steps[i]
            let dependent = step.inputs.contains { if case let .slot(r) = $0 { return variables[r] != nil }; return false }
            guard dependent else { try execute(i, &slots); continue }
            guard let differentiate = step.kernel.variable else {
                throw ONNXError.unsupportedOperator(op: step.op, node: step.node, reason: "no gradient for Grad-CAM after the last Conv")
            }
            let args: [Variable?] = step.inputs.map { source in
                switch source {
                case .absent: return nil
                case let .constant(v): return v.floatTensor.map { Variable($0) }
                case let .slot(r): return variables[r] ?? slots[r]?.floatTensor.map { Variable($0) }
                }
            }
            let y = try differentiate(args)
            let out = step.outputs[0]
            guard y.shape == step.kernel.outputs[0].shape else {
                throw ONNXError.shapeMismatch(node: step.node, op: step.op, reason: "gradient path computed \(y.shape), planned \(step.kernel.outputs[0].shape)")
            }
            variables[out] = y
            slots[out] = .float(y.value)
            for r in release[i] where r != layerSlot { slots[r] = nil; variables[r] = nil }
        }
        guard let score = variables[targetSlot] else {
            throw ONNXError.badInput(name: output, reason: "does not depend on the last Conv's output")
        }
        score.backward(seed(score.value))
        return ONNXLayerGradient(outputs: try collectOutputs(slots), activation: activation,
                                 gradient: leaf.grad ?? Tensor(shape: activation.shape), node: steps[layer].node)
    }
}
