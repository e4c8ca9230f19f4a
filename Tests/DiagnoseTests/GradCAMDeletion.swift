import Foundation
import LeptonDiagnose

/// The deletion test of a Grad-CAM map (Petsiuk et al. 2018), a check of the explanations that
/// only the tests run.
extension ScanClassifier {
    /// Deletion test: probability of the explained class as the most (or least) important pixels
    /// are replaced by `fill` in steps; returns the mean probability over the curve (area under it).
    ///
    /// - Parameters:
    ///   - image: one normalised image `[size, size]`.
    ///   - map: its Grad-CAM map `[size, size]`.
    ///   - mostImportantFirst: order of deletion.
    func deletionCurveArea(image: [Float], map: GradCAMMap, mostImportantFirst: Bool, steps: Int = 16,
                                  fill: Float? = nil) -> Float {
        let size = config.inputSize, count = size * size
        let order = (0..<count).sorted { mostImportantFirst ? map.map[$0] > map.map[$1] : map.map[$0] < map.map[$1] }
        let value = fill ?? (0 - config.mean) / config.std  // black
        var batch: [Float] = []
        batch.reserveCapacity((steps + 1) * count)
        var img = image
        for s in 0...steps {
            let upto = count * s / steps
            let from = s == 0 ? 0 : count * (s - 1) / steps
            for j in from..<upto { img[order[j]] = value }
            batch += img
        }
        let p = probabilities(batch, n: steps + 1)
        var area: Float = 0
        for s in 0...steps { area += p[s * config.classes.count + map.classIndex] }
        return area / Float(steps + 1)
    }
}
