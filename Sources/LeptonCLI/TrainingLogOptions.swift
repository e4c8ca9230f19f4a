import ArgumentParser
import Foundation
import LeptonEngine

/// `--logdir`, on every `train` command: the training curves as TensorBoard event files and a CSV.
///
/// ```sh
/// lepton-risk train data.csv --out model --logdir runs/risk-1
/// tensorboard --logdir runs        # or read runs/risk-1/curves.csv
/// ```
public struct TrainingLogOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp(
        "Write the training curves here: TensorBoard event files and curves.csv (one row per epoch).",
        valueName: "dir"))
    public var logdir: String?

    public init() {}

    /// A `TrainingProgress` for `epochs` epochs that writes `curves.csv` and event files into
    /// `--logdir` when it was given (and only reports on stderr otherwise).
    public func progress(epochs: Int, stepsPerEpoch: Int, quiet: Bool) throws -> TrainingProgress {
        let dir = logdir.map { URL(fileURLWithPath: $0, isDirectory: true) }
        return try TrainingProgress(epochs: epochs, stepsPerEpoch: stepsPerEpoch,
                                    csv: dir?.appendingPathComponent("curves.csv"), tensorBoard: dir, quiet: quiet)
    }
}
