import Foundation
import LeptonEngine

/// A Grad-CAM map of one image: `[h, w]` at the last conv layer's resolution and upsampled to the input.
public struct GradCAMMap: Sendable {
    /// The class whose logit was explained.
    public let classIndex: Int
    /// `[camH, camW]`, not normalised.
    public let coarse: [Float]
    public let camH: Int, camW: Int
    /// `[size, size]`, bilinear (align_corners = false), not normalised.
    public let map: [Float]
    public let size: Int
}

extension ScanClassifier {
    /// Grad-CAM (Selvaraju et al. 2017) on the last block's ReLU output `A` `[n, C, h, w]`:
    /// weights `α_k = mean_ij ∂logit_c/∂A_k(i,j)`, map `ReLU(Σ_k α_k A_k)`.
    ///
    /// The conv blocks run without recording; `A` then becomes a leaf that requires a gradient,
    /// the head (pool, fc) runs on it, and the engine's autodiff back-propagates the chosen class
    /// logits (a one-hot seed per image; in eval mode images do not interact) into `A.grad`.
    /// - Parameters:
    ///   - input: normalised images `[n, size, size]`.
    ///   - classIndex: class to explain per image; nil = the predicted class.
    public func gradCAM(_ input: [Float], n: Int, classIndex: [Int]? = nil) -> (logits: [Float], maps: [GradCAMMap]) {
        let activations = withoutGradients { features(inputVariable(input, n: n), .inference) }.value
        let a = Variable(activations, requiresGrad: true, name: "gradcam.activations")
        // The head's weights are constants: the backward pass reaches `a` alone and writes no
        // gradient into the shared model.
        let out = head(a, .inference)
        let logits = out.value.scalars
        let k = classCount, c = activations.shape[1], h = activations.shape[2], w = activations.shape[3], plane = h * w
        var classes: [Int] = []
        var seed = [Float](repeating: 0, count: n * k)
        for b in 0..<n {
            var cls = 0
            if let ci = classIndex, b < ci.count { cls = ci[b] } else {
                for j in 1..<k where logits[b * k + j] > logits[b * k + cls] { cls = j }
            }
            classes.append(cls)
            seed[b * k + cls] = 1
        }
        out.backward(Tensor(shape: [n, k], scalars: seed))
        let grad = a.grad?.scalars ?? [Float](repeating: 0, count: activations.count)
        let act = activations.scalars
        var maps: [GradCAMMap] = []
        for b in 0..<n {
            var cam = [Float](repeating: 0, count: plane)
            for ch in 0..<c {
                let o = (b * c + ch) * plane
                var alpha: Float = 0
                for j in 0..<plane { alpha += grad[o + j] }
                alpha /= Float(plane)
                for j in 0..<plane { cam[j] += alpha * act[o + j] }
            }
            for j in 0..<plane { cam[j] = max(0, cam[j]) }
            let size = config.inputSize
            maps.append(GradCAMMap(classIndex: classes[b], coarse: cam, camH: h, camW: w,
                                   map: ScanClassifier.bilinear(cam, h: h, w: w, outH: size, outW: size), size: size))
        }
        return (logits, maps)
    }

    /// Bilinear resize with PyTorch's `align_corners=False` convention.
    public static func bilinear(_ src: [Float], h: Int, w: Int, outH: Int, outW: Int) -> [Float] {
        var out = [Float](repeating: 0, count: outH * outW)
        let sy = Float(h) / Float(outH), sx = Float(w) / Float(outW)
        for oy in 0..<outH {
            let fy = max(0, (Float(oy) + 0.5) * sy - 0.5)
            let y0 = min(Int(fy), h - 1), y1 = min(y0 + 1, h - 1), ly = fy - Float(y0)
            for ox in 0..<outW {
                let fx = max(0, (Float(ox) + 0.5) * sx - 0.5)
                let x0 = min(Int(fx), w - 1), x1 = min(x0 + 1, w - 1), lx = fx - Float(x0)
                let top = src[y0 * w + x0] * (1 - lx) + src[y0 * w + x1] * lx
                let bot = src[y1 * w + x0] * (1 - lx) + src[y1 * w + x1] * lx
                out[oy * outW + ox] = top * (1 - ly) + bot * ly
            }
        }
        return out
    }
}
