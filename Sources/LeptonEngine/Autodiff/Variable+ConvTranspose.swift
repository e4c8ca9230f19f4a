import Foundation

// Transposed convolution, the upsampling layer of a generator (DCGAN), built from the
// convolution's own kernels: its forward pass is a convolution's input gradient, its input
// gradient a plain convolution, its weight gradient a convolution's weight gradient with the
// roles of input and output gradient swapped.

extension Variable {
    /// 2-D transposed convolution (PyTorch `conv_transpose2d`, one group): `self` `[N, Cin, H, W]`,
    /// `weight` `[Cin, Cout, kh, kw]`, `bias` `[Cout]` → `[N, Cout, oh, ow]` with
    /// `oh = (H − 1)·stride − 2·padding + dilation·(kh − 1) + outputPadding + 1` (likewise `ow`).
    ///
    /// It is the adjoint of ``conv2d(weight:bias:stride:padding:dilation:groups:)`` with the same
    /// weight: `⟨convT(x), y⟩ = ⟨x, conv(y)⟩`, computed by the convolution's backward kernels
    /// (GEMM then col2im), so it inherits their accuracy (float32 sums over `Cin·kh·kw` terms).
    public func convTranspose2d(weight: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                                outputPadding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1)) -> Variable {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[0] == shape[1],
                     "convTranspose2d: input \(shape), weight \(weight.shape) (expected [\(rank == 4 ? shape[1] : -1), Cout, kh, kw])")
        precondition(outputPadding.0 >= 0 && outputPadding.1 >= 0 && outputPadding.0 < Swift.max(stride.0, dilation.0)
                     && outputPadding.1 < Swift.max(stride.1, dilation.1),
                     "convTranspose2d: output padding \(outputPadding) must be below the stride or the dilation")
        let x = value, w = weight.value
        let n = shape[0], cin = shape[1], cout = w.shape[1], kh = w.shape[2], kw = w.shape[3]
        let oh = (shape[2] - 1) * stride.0 - 2 * padding.0 + dilation.0 * (kh - 1) + outputPadding.0 + 1
        let ow = (shape[3] - 1) * stride.1 - 2 * padding.1 + dilation.1 * (kw - 1) + outputPadding.1 + 1
        precondition(oh > 0 && ow > 0, "convTranspose2d: empty output \(oh)×\(ow) for input \(shape)")
        // The convolution this one is the adjoint of: [N, Cout, oh, ow] → [N, Cin, H, W].
        let g = Conv2dGeometry(batch: n, inChannels: cout, height: oh, width: ow, outChannels: cin, kernelH: kh, kernelW: kw,
                               stride: stride, padding: padding, dilation: dilation)
        precondition(g.outHeight == shape[2] && g.outWidth == shape[3], "convTranspose2d: geometry does not invert (\(shape))")
        let outShape = [n, cout, oh, ow]
        var y = conv2dBackward(x: Tensor.zeros(outShape), w: w, gy: x, g: g, needInput: true, needWeight: false).0!
        if let b = bias?.value {
            precondition(b.count == cout, "convTranspose2d: bias \(b.shape) for \(cout) output channels")
            y.withUnsafeMutableBufferPointer { yb in b.withUnsafeBufferPointer { bb in
                for img in 0..<n { for c in 0..<cout {
                    let base = (img * cout + c) * oh * ow, v = bb[c]
                    for i in 0..<(oh * ow) { yb[base + i] += v }
                } }
            } }
        }
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return Variable.result(y, inputs) { [self] gy in
            if requiresGrad {
                accumulate(gy.conv2d(weight: w, bias: nil, stride: stride, padding: padding, dilation: dilation, groups: 1))
            }
            if weight.requiresGrad {
                weight.accumulate(conv2dBackward(x: gy, w: w, gy: x, g: g, needInput: false, needWeight: true).1!)
            }
            if let bias, bias.requiresGrad {
                bias.accumulate(gy.reshaped([n, cout, -1]).sum(axis: 2).sum(axis: 0))
            }
        }
    }
}

/// Transposed 2-D convolution layer (PyTorch `ConvTranspose2d`, one group). Weights: `weight`
/// `[in, out, kh, kw]` (PyTorch's layout), `bias` `[out]`; initialised as PyTorch does (uniform in
/// ±1/√(out·kh·kw), its fan-in for this layout).
public final class ConvTranspose2d: Layer {
    public let weight: Variable
    public let bias: Variable?
    public let stride: (Int, Int), padding: (Int, Int), outputPadding: (Int, Int)
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                bias: Bool = true, rng: inout SeededGenerator) {
        let bound = 1 / Float(outChannels * kernel * kernel).squareRoot()
        weight = Variable(Tensor.randomUniform([inChannels, outChannels, kernel, kernel], low: -bound, high: bound, using: &rng),
                          requiresGrad: true, name: "weight")
        self.bias = bias ? Variable(Tensor.randomUniform([outChannels], low: -bound, high: bound, using: &rng), requiresGrad: true, name: "bias") : nil
        self.stride = (stride, stride); self.padding = (padding, padding); self.outputPadding = (outputPadding, outputPadding)
    }

    public var ownParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    /// `[N, in, H, W]` → `[N, out, oh, ow]`.
    public func callAsFunction(_ x: Variable) -> Variable {
        x.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
    }
}
