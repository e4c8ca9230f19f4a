import Foundation
import LeptonEngine

/// How well an intent model's confidences match its accuracy on labelled rows, before and after
/// its temperature (what `lepton-chat calibrate` and `lepton-chat test --json` print).
public struct IntentCalibrationReport: Codable, Sendable {
    /// Rows scored (those whose label the model knows) and rows skipped (unknown labels).
    public var examples: Int, skipped: Int
    /// The temperature of `calibrated` (1 = as trained).
    public var temperature: Double
    public var uncalibrated: IntentCalibration.Reliability
    public var calibrated: IntentCalibration.Reliability
}

extension IntentModel {
    /// The uncalibrated probability rows (`labels.count` each) and class indices of the examples
    /// whose label the model knows, and how many were skipped.
    public func calibrationData(_ examples: [(text: String, label: String)]) throws -> (p: [Double], labels: [Int], skipped: Int) {
        let index = Dictionary(uniqueKeysWithValues: config.labels.enumerated().map { ($1, $0) })
        let known = examples.filter { index[$0.label] != nil }
        guard !known.isEmpty else { throw IntentError.badTrainingSet(reason: "no rows with a label the model knows") }
        let p = uncalibratedProbabilities(known.map(\.text)).scalars
        try checkFinite(p)
        return (p.map(Double.init), known.map { index[$0.label]! }, examples.count - known.count)
    }

    /// Calibration on `examples` at `temperature` (default: the model's own).
    public func calibrationReport(on examples: [(text: String, label: String)], temperature: Double? = nil) throws -> IntentCalibrationReport {
        let (p, y, skipped) = try calibrationData(examples)
        let t = temperature ?? Double(config.temperature ?? 1), c = config.labels.count
        return IntentCalibrationReport(examples: y.count, skipped: skipped, temperature: t,
                                       uncalibrated: IntentCalibration.reliability(p, classes: c, labels: y),
                                       calibrated: IntentCalibration.reliability(IntentCalibration.scaled(p, classes: c, temperature: t), classes: c, labels: y))
    }

    /// Rewrites `intent-model.json` in `folder` (atomically) with `temperature`; the weights are untouched.
    public static func saveTemperature(_ temperature: Double, config: IntentModelConfig, to folder: URL) throws {
        var c = config
        c.temperature = Float(temperature)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try writeAtomically(try enc.encode(c), to: folder.appendingPathComponent(IntentModelConfig.fileName)) }
        catch let e as IntentError { throw e } catch { throw IntentError.cannotWrite(path: folder.path, reason: "\(error)") }
    }
}
