import Foundation
import LeptonFiles
#if canImport(Glibc)
import Glibc
#endif

/// Reports a training run: a live progress bar when stderr is a terminal, otherwise one line per
/// epoch; optionally a CSV of the training curve (rewritten atomically after every epoch) and
/// TensorBoard event files.
///
/// ```swift
/// let progress = try TrainingProgress(epochs: 10, stepsPerEpoch: batches,
///                                     csv: URL(fileURLWithPath: "runs/curve.csv"),
///                                     tensorBoard: URL(fileURLWithPath: "runs/tb"))
/// for epoch in 1...10 {
///     for batch in batches { …; progress.step(loss: loss.value[flat: 0]) }
///     try progress.endEpoch(metrics: ["val_loss": vl, "val_accuracy": acc])   // adds train_loss itself
/// }
/// ```
public final class TrainingProgress {
    public let epochs: Int
    public let stepsPerEpoch: Int
    public let csvURL: URL?
    public let tensorBoard: TensorBoardWriter?
    /// Print nothing to stderr (files are still written).
    public var quiet: Bool
    /// True when the bar is drawn (stderr is a terminal and not quiet).
    public let interactive: Bool

    public private(set) var epoch = 0
    public private(set) var globalStep = 0
    private var stepInEpoch = 0
    private var lossSum = 0.0, lossCount = 0
    private var epochStart = Date()
    private var lastDraw = Date.distantPast
    private var columns: [String] = []
    private var rows: [String] = []

    /// - Parameters:
    ///   - epochs: planned number of epochs (for display).
    ///   - stepsPerEpoch: batches per epoch (for the bar; 0 if unknown).
    ///   - csv: where to write the curve (`epoch,<metrics…>,seconds`), or nil.
    ///   - tensorBoard: a directory for event files, or nil.
    ///   - quiet: suppress stderr output.
    public init(epochs: Int, stepsPerEpoch: Int, csv: URL? = nil, tensorBoard: URL? = nil, quiet: Bool = false) throws(TrainingLogError) {
        self.epochs = epochs
        self.stepsPerEpoch = stepsPerEpoch
        csvURL = csv
        self.tensorBoard = try tensorBoard.map { dir throws(TrainingLogError) in try TensorBoardWriter(directory: dir) }
        self.quiet = quiet
        interactive = !quiet && isatty(STDERR_FILENO) != 0
        if let csv {
            do { try FileManager.default.createDirectory(at: csv.deletingLastPathComponent(), withIntermediateDirectories: true) } catch {
                throw .cannotWrite(path: csv.path, reason: error.localizedDescription)
            }
        }
    }

    /// Records one optimisation step's loss; redraws the bar at most ten times a second.
    public func step(loss: Float) {
        stepInEpoch += 1; globalStep += 1
        if loss.isFinite { lossSum += Double(loss); lossCount += 1 }
        guard interactive else { return }
        let now = Date()
        if now.timeIntervalSince(lastDraw) < 0.1 && stepInEpoch != stepsPerEpoch { return }
        lastDraw = now
        let width = 24
        let frac = stepsPerEpoch > 0 ? min(1, Double(stepInEpoch) / Double(stepsPerEpoch)) : 0
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let rate = Double(stepInEpoch) / max(now.timeIntervalSince(epochStart), 1e-9)
        let line = String(format: "\r\u{1B}[2Kepoch %d/%d %@ %d/%d  loss %.4f  %.1f it/s",
                          epoch + 1, epochs, bar, stepInEpoch, stepsPerEpoch, averageLoss, rate)
        StandardError.write(line)
    }

    /// Mean loss of the steps so far in this epoch.
    public var averageLoss: Float { lossCount == 0 ? .nan : Float(lossSum / Double(lossCount)) }

    /// Closes an epoch: `train_loss` (mean of `step` losses, if any) plus `metrics` go to stderr,
    /// the CSV and TensorBoard (at step = epoch number).
    public func endEpoch(metrics: [String: Float] = [:]) throws(TrainingLogError) {
        epoch += 1
        var all = metrics
        if lossCount > 0 && all["train_loss"] == nil { all["train_loss"] = averageLoss }
        let seconds = Date().timeIntervalSince(epochStart)
        if columns.isEmpty { columns = all.keys.sorted() }
        for k in all.keys.sorted() where !columns.contains(k) { columns.append(k) } // late metrics join at the end
        if !quiet {
            let parts = columns.compactMap { k in all[k].map { String(format: "%@ %.4f", k, $0) } }
            let text = (interactive ? "\r\u{1B}[2K" : "") + "epoch \(epoch)/\(epochs)  " + parts.joined(separator: "  ")
                + String(format: "  (%.1f s)\n", seconds)
            StandardError.write(text)
        }
        rows.append(([String(epoch)] + columns.map { k in all[k].map { String($0) } ?? "" } + [String(format: "%.3f", seconds)])
            .joined(separator: ","))
        if let csvURL { try writeCSV(to: csvURL) }
        try tensorBoard?.add(scalars: columns.compactMap { k in all[k].map { (k, $0) } }, step: epoch)
        stepInEpoch = 0; lossSum = 0; lossCount = 0; epochStart = Date()
    }

    /// The curve so far as CSV text.
    public var csvText: String {
        (["epoch," + columns.joined(separator: ",") + ",seconds"] + rows.map { row in
            // Rows written before a late column appeared get empty cells for it.
            let cells = row.split(separator: ",", omittingEmptySubsequences: false)
            let missing = columns.count + 2 - cells.count
            return missing > 0 ? (cells.dropLast() + Array(repeating: "", count: missing) + [cells.last!]).joined(separator: ",") : row
        }).joined(separator: "\n") + "\n"
    }

    private func writeCSV(to url: URL) throws(TrainingLogError) {
        do { try AtomicFile.write(Data(csvText.utf8), to: url) } catch { throw .cannotWrite(path: url.path, reason: error.reason) }
    }
}
