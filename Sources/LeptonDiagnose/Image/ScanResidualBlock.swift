import Foundation
import LeptonEngine

/// Which network a ``ScanClassifier`` is (``ScanClassifierConfig/arch``).
public enum ScanArchitecture: String, Codable, Sendable, CaseIterable {
    /// Plain conv blocks (conv, batch norm, ReLU, max pool), the original scan CNN.
    case cnn
    /// A small ResNet (He et al. 2016): a conv stem, then per stage residual basic blocks.
    case resnet
}

/// torchvision's `BasicBlock` (ResNet-18/34) built from the engine's layers:
///
///     out = ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x))
///
/// `conv1` is 3×3 with the block's stride, `conv2` 3×3 stride 1, neither with a bias (the batch
/// norm after each has one). The shortcut is the identity, or `downsample.0` (1×1 conv with the
/// stride, no bias) → `downsample.1` (batch norm) when the width or the resolution changes.
/// Checkpoint names follow torchvision (`conv1.weight`, `bn1.running_mean`, `downsample.0.weight`, …),
/// so a PyTorch state dict of the same shape loads one to one.
final class ScanResidualBlock: Module {
    var isTraining = false
    let conv1: Conv2d, bn1: BatchNorm, conv2: Conv2d, bn2: BatchNorm
    let downsample: (conv: Conv2d, norm: BatchNorm)?

    init(_ cin: Int, _ cout: Int, stride: Int, eps: Float, rng: inout SeededGenerator) {
        conv1 = Conv2d(cin, cout, kernel: 3, stride: stride, padding: 1, bias: false, rng: &rng)
        bn1 = BatchNorm(cout, eps: eps)
        conv2 = Conv2d(cout, cout, kernel: 3, padding: 1, bias: false, rng: &rng)
        bn2 = BatchNorm(cout, eps: eps)
        downsample = stride != 1 || cin != cout
            ? (Conv2d(cin, cout, kernel: 1, stride: stride, bias: false, rng: &rng), BatchNorm(cout, eps: eps)) : nil
    }

    var children: [(String, any Module)] {
        var out: [(String, any Module)] = [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)]
        if let d = downsample { out += [("downsample.0", d.conv), ("downsample.1", d.norm)] }
        return out
    }

    /// The block on `[n, cin, h, w]`; `.inference` reads every weight as a constant (see
    /// ``ScanClassifier/Pass``).
    func callAsFunction(_ x: Variable, _ pass: ScanClassifier.Pass) -> Variable {
        let h = ScanClassifier.convNorm(conv1, bn1, x, pass).relu()
        let out = ScanClassifier.convNorm(conv2, bn2, h, pass)
        let skip = downsample.map { ScanClassifier.convNorm($0.conv, $0.norm, x, pass) } ?? x
        return (out + skip).relu()
    }
}

extension ScanClassifier {
    /// `norm(conv(x))`, through the modules when training, with constant weights for inference.
    static func convNorm(_ conv: Conv2d, _ norm: BatchNorm, _ x: Variable, _ pass: Pass) -> Variable {
        pass == .training ? norm(conv(x)) : frozen(norm, frozen(conv, x))
    }

    /// The ResNet's stages `[[block]]`: stage `i` has `config.channels[i]` channels and
    /// `residualBlocks` blocks; it starts with stride 2 when `pool[i-1]` is set, so `pool` halves the
    /// resolution after the same stages as the plain CNN's max pools do.
    static func residualStages(_ config: ScanClassifierConfig, rng: inout SeededGenerator) -> [[ScanResidualBlock]] {
        let blocks = config.residualBlocks ?? 1
        return config.channels.indices.map { i in
            (0..<blocks).map { j in
                let cin = j == 0 ? (i == 0 ? config.channels[0] : config.channels[i - 1]) : config.channels[i]
                let stride = j == 0 && i > 0 && config.pool[i - 1] ? 2 : 1
                return ScanResidualBlock(cin, config.channels[i], stride: stride, eps: config.bnEps, rng: &rng)
            }
        }
    }
}
