import Foundation
import LeptonEngine

extension ONNXPlan {
    /// Rewrites the exact-erf GELU that `torch.onnx.export` spells out as five nodes,
    /// `Div(x, √2) → Erf → Add(·, 1) → Mul(x, ·) → Mul(·, 0.5)`, into one `Gelu` node (opset 20's
    /// operator, run by the engine's ``Tensor/gelu()`` in one pass instead of five), when no
    /// intermediate tensor has another reader. Anything else is left as it is.
    static func fusingGelu(_ nodes: [ONNXNode], initializers: [String: ONNXValue], outputs: [String]) -> [ONNXNode] {
        var constants = initializers
        for n in nodes where n.opType == "Constant" {
            if case let .tensor(v)? = n.attributes["value"], let o = n.outputs.first { constants[o] = v }
        }
        var producer: [String: Int] = [:], consumers: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.outputs where !o.isEmpty { producer[o] = i }
            for input in n.inputs where !input.isEmpty { consumers[input, default: []].append(i) }
        }
        let graphOutputs = Set(outputs)
        func scalar(_ name: String, _ value: Float) -> Bool {
            guard let c = constants[name], c.type == .float, c.shape.reduce(1, *) == 1 else { return false }
            return abs(c.floats[0] - value) <= 1e-6 * max(1, abs(value))
        }
        /// The one node reading `name` (nil if none, several, or a graph output).
        func onlyReader(_ name: String) -> Int? {
            guard !graphOutputs.contains(name), let c = consumers[name], c.count == 1 else { return nil }
            return c[0]
        }
        func other(_ n: ONNXNode, than name: String) -> String? {
            guard n.inputs.count == 2 else { return nil }
            return n.inputs[0] == name ? n.inputs[1] : (n.inputs[1] == name ? n.inputs[0] : nil)
        }
        var removed = Set<Int>(), replacement: [Int: ONNXNode] = [:]
        for (ei, erf) in nodes.enumerated() where erf.opType == "Erf" {
            guard let di = producer[erf.inputs[0]], nodes[di].opType == "Div", nodes[di].inputs.count == 2,
                  scalar(nodes[di].inputs[1], Float(2).squareRoot()), onlyReader(nodes[di].outputs[0]) == ei else { continue }
            let x = nodes[di].inputs[0]
            guard let ai = onlyReader(erf.outputs[0]), nodes[ai].opType == "Add",
                  let one = other(nodes[ai], than: erf.outputs[0]), scalar(one, 1),
                  let mi = onlyReader(nodes[ai].outputs[0]), nodes[mi].opType == "Mul", other(nodes[mi], than: nodes[ai].outputs[0]) == x,
                  let hi = onlyReader(nodes[mi].outputs[0]), nodes[hi].opType == "Mul",
                  let half = other(nodes[hi], than: nodes[mi].outputs[0]), scalar(half, 0.5) else { continue }
            removed.formUnion([di, ei, ai, mi])
            replacement[hi] = ONNXNode(name: erf.name + "+gelu", opType: "Gelu", inputs: [x], outputs: [nodes[hi].outputs[0]], attributes: [:])
        }
        guard !replacement.isEmpty else { return nodes }
        return nodes.enumerated().compactMap { i, n in removed.contains(i) ? nil : (replacement[i] ?? n) }
    }
}
