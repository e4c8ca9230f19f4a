import Foundation

// The basic trainable layers. Parameter names and layouts follow PyTorch (`weight` `[out, in]`,
// `bias` `[out]`, `running_mean`, …) so checkpoints map one to one.

/// Uniform in ±`bound`, PyTorch's default for `Linear`/`Conv` (kaiming_uniform with a = √5 ⇒ bound = 1/√fanIn).
func uniformInit(_ shape: [Int], bound: Float, rng: inout SeededGenerator) -> Tensor {
    Tensor.randomUniform(shape, low: -bound, high: bound, using: &rng)
}

/// `y = x·Wᵀ + b` over the last axis. Weights: `weight` `[out, in]`, `bias` `[out]`.
public final class Linear: Layer {
    public let weight: Variable
    public let bias: Variable?
    public var isTraining = true

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Variable(uniformInit([outFeatures, inFeatures], bound: bound, rng: &rng), requiresGrad: true, name: "weight")
        self.bias = bias ? Variable(uniformInit([outFeatures], bound: bound, rng: &rng), requiresGrad: true, name: "bias") : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public var ownParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    /// `x` `[..., in]` → `[..., out]`.
    public func callAsFunction(_ x: Variable) -> Variable { x.linear(weight: weight, bias: bias) }
}

/// 2-D convolution layer. Weights: `weight` `[out, in/groups, kh, kw]`, `bias` `[out]`.
public final class Conv2d: Layer {
    public let weight: Variable
    public let bias: Variable?
    public let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
                rng: inout SeededGenerator) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels not divisible by groups")
        let fanIn = inChannels / groups * kernel.0 * kernel.1
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Variable(uniformInit([outChannels, inChannels / groups, kernel.0, kernel.1], bound: bound, rng: &rng),
                          requiresGrad: true, name: "weight")
        self.bias = bias ? Variable(uniformInit([outChannels], bound: bound, rng: &rng), requiresGrad: true, name: "bias") : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }

    /// Square-kernel convenience.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                            bias: Bool = true, rng: inout SeededGenerator) {
        self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding),
                  bias: bias, rng: &rng)
    }

    public var ownParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    /// `[N, C, H, W]` → `[N, out, oh, ow]`.
    public func callAsFunction(_ x: Variable) -> Variable {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// 1-D convolution layer. Weights: `weight` `[out, in/groups, k]`, `bias` `[out]`.
public final class Conv1d: Layer {
    public let weight: Variable
    public let bias: Variable?
    public let stride: Int, padding: Int, dilation: Int, groups: Int
    public var isTraining = true

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true, rng: inout SeededGenerator) {
        let bound = 1 / Float(inChannels / groups * kernel).squareRoot()
        weight = Variable(uniformInit([outChannels, inChannels / groups, kernel], bound: bound, rng: &rng), requiresGrad: true, name: "weight")
        self.bias = bias ? Variable(uniformInit([outChannels], bound: bound, rng: &rng), requiresGrad: true, name: "bias") : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }

    public var ownParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }

    /// `[N, C, L]` → `[N, out, outL]`.
    public func callAsFunction(_ x: Variable) -> Variable {
        x.conv1d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// Batch normalisation over channel axis 1 (`[N, C]`, `[N, C, L]` or `[N, C, H, W]`).
/// Weights: `weight`, `bias` `[C]`; buffers `running_mean`, `running_var` `[C]`.
public final class BatchNorm: Layer {
    public let weight: Variable?
    public let bias: Variable?
    public let runningMean: Variable
    public let runningVar: Variable
    public let eps: Float, momentum: Float
    public var isTraining = true

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        weight = affine ? Variable(Tensor.ones([channels]), requiresGrad: true, name: "weight") : nil
        bias = affine ? Variable(Tensor.zeros([channels]), requiresGrad: true, name: "bias") : nil
        runningMean = Variable(Tensor.zeros([channels]), name: "running_mean")
        runningVar = Variable(Tensor.ones([channels]), name: "running_var")
        self.eps = eps; self.momentum = momentum
    }

    public var ownParameters: [(String, Variable)] {
        (weight.map { [("weight", $0)] } ?? []) + (bias.map { [("bias", $0)] } ?? [])
    }
    public var ownBuffers: [(String, Variable)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    public func callAsFunction(_ x: Variable) -> Variable {
        x.batchNorm(runningMean: &runningMean.value, runningVar: &runningVar.value, weight: weight, bias: bias,
                    training: isTraining, momentum: momentum, eps: eps)
    }
}

public typealias BatchNorm1d = BatchNorm
public typealias BatchNorm2d = BatchNorm

/// Layer normalisation over the last axis. Weights: `weight`, `bias` `[d]`.
public final class LayerNorm: Layer {
    public let weight: Variable
    public let bias: Variable
    public let eps: Float
    public var isTraining = true

    public init(_ features: Int, eps: Float = 1e-5) {
        weight = Variable(Tensor.ones([features]), requiresGrad: true, name: "weight")
        bias = Variable(Tensor.zeros([features]), requiresGrad: true, name: "bias")
        self.eps = eps
    }

    public var ownParameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Variable) -> Variable { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// A lookup table of `[count, dim]` vectors. Weights: `weight` `[count, dim]` (initialised N(0, 1) as PyTorch).
public final class Embedding: Module {
    public let weight: Variable
    public var isTraining = true

    public init(_ count: Int, _ dim: Int, rng: inout SeededGenerator) {
        weight = Variable(Tensor.randomNormal([count, dim], using: &rng), requiresGrad: true, name: "weight")
    }

    public var ownParameters: [(String, Variable)] { [("weight", weight)] }

    /// Vectors for `ids` shaped `idsShape + [dim]` (default `[ids.count, dim]`).
    public func callAsFunction(_ ids: [Int], shape idsShape: [Int]? = nil) -> Variable {
        let g = weight.gatherRows(ids)
        return g.reshaped((idsShape ?? [ids.count]) + [weight.shape[1]])
    }
}

/// Inverted dropout with its own seeded generator (identity when not training).
public final class Dropout: Layer {
    public let probability: Float
    public var rng: SeededGenerator
    public var isTraining = true

    public init(_ probability: Float, seed: UInt64 = 0) {
        self.probability = probability
        rng = SeededGenerator(seed: seed)
    }

    public func callAsFunction(_ x: Variable) -> Variable { x.dropout(probability, training: isTraining, rng: &rng) }
}
