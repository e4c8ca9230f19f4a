import ArgumentParser
import Foundation
import LeptonCLI
import LeptonDiagnose
import LeptonEngine

/// `lepton-bench cnn`: the scan classifier's training epoch and inference throughput, on the same
/// architecture, data and settings as `python3 ../shared/bench/cnn_peer.py` (PyTorch CPU):
/// batch 64, shuffled, train-mode batch norm, cross-entropy, Adam lr 1e-3, no augmentation;
/// inference in eval mode with softmax over the val split.
struct CnnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnn",
        abstract: "CNN training-epoch and inference timing (compare with ../shared/bench/cnn_peer.py).",
        discussion: """
        Example (2 threads, the peer side by side):
          lepton-bench cnn --threads 2
          python3 ../shared/bench/cnn_peer.py --threads 2
        """)

    @Option(name: .long, help: "Folder with labels.csv (file,label; train/ and val/ rows).")
    var data: String = "../shared/data/medical/pneumoniamnist"

    @Option(name: .long, help: "Timed training epochs.")
    var epochs: Int = 3

    @Option(name: .long, help: "Timed inference passes.")
    var repeats: Int = 5

    @Option(name: .long, help: "Batch size.")
    var batch: Int = 64

    @Option(name: .long, help: "Use only the first N training images (0 = all).")
    var limitTrain: Int = 0

    @Flag(name: .long, help: "Skip training.")
    var noTrain = false

    @Option(name: .long, help: "Time this saved model's inference (a folder from lepton-diagnose train or prune; with --no-train). One network pass per image: its test-time augmentation (5 passes) is off, as the peer has none.")
    var model: String?

    @OptionGroup var common: CommonOptions

    @OptionGroup var seeding: SeedOptions

    struct Result: Codable {
        var bench = "cnn"
        var threads: Int
        var batch: Int
        var train_images: Int
        var val_images: Int
        var load_s: Double
        var train_epoch_s_median: Double?
        var train_epoch_s_min: Double?
        var infer_s_median: Double
        var infer_images_per_s: Double
        /// From the fastest pass: steadier than the median on a machine shared with other work.
        var infer_images_per_s_best: Double
        var cpu_s: Double
    }

    func run() throws {
        EngineThreads.set(common.threads)
        let cpu0 = CnnClock.cpu()
        let t0 = CnnClock.wall()
        var (train, val) = try LabeledImages.read(labels: URL(fileURLWithPath: data).appendingPathComponent("labels.csv"), size: 28)
        if limitTrain > 0 { train = train.prefix(limitTrain) }
        let loadS = CnnClock.wall() - t0
        let model = try self.model.map { try ScanClassifier.load(from: URL(fileURLWithPath: $0)) }
            ?? ScanClassifier(config: ScanClassifierConfig(), seed: seeding.seed)
        // The peer times one pass of the network per image: so does this, whatever the model's "tta".
        model.config.tta = nil
        let plane = 28 * 28
        let norm = model.normalise(train.pixels)
        var epochTimes: [Double] = []
        if !noTrain {
            let trainer = ScanTrainer(model: model)
            var rng = SeededGenerator(seed: seeding.seed)
            func epoch(limitBatches: Int?) {
                var order = Array(0..<train.count)
                order.shuffle(using: &rng)
                var s = 0, b = 0
                var buf = [Float](repeating: 0, count: batch * plane)
                while s < train.count {
                    if let l = limitBatches, b >= l { break }
                    let idx = order[s..<min(train.count, s + batch)]
                    let n = idx.count
                    if buf.count != n * plane { buf = [Float](repeating: 0, count: n * plane) }
                    for (j, i) in idx.enumerated() {
                        for p in 0..<plane { buf[j * plane + p] = norm[i * plane + p] }
                    }
                    trainer.step(buf, labels: idx.map { train.labels[$0] }, learningRate: 1e-3)
                    s += batch; b += 1
                }
            }
            epoch(limitBatches: 5)  // warm-up
            for e in 0..<epochs {
                let t = CnnClock.wall()
                epoch(limitBatches: nil)
                epochTimes.append(CnnClock.wall() - t)
                Log.info(String(format: "epoch %d: %.3f s", e + 1, epochTimes.last!))
            }
        }
        // Inference: eval mode + softmax over the val split in batches.
        let valNorm = model.normalise(val.pixels)
        var checksum = 0.0  // keeps the results alive
        func infer() {
            var i = 0
            while i < val.count {
                let n = min(batch, val.count - i)
                checksum += Double(model.probabilities(Array(valNorm[(i * plane)..<((i + n) * plane)]), n: n, temperature: 1)[0])
                i += n
            }
        }
        infer()
        var inferTimes: [Double] = []
        for _ in 0..<repeats {
            let t = CnnClock.wall(); infer(); inferTimes.append(CnnClock.wall() - t)
        }
        func median(_ a: [Double]) -> Double { let s = a.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
        let r = Result(threads: common.threads, batch: batch, train_images: train.count, val_images: val.count, load_s: loadS,
                       train_epoch_s_median: epochTimes.isEmpty ? nil : median(epochTimes), train_epoch_s_min: epochTimes.min(),
                       infer_s_median: median(inferTimes), infer_images_per_s: Double(val.count) / max(median(inferTimes), 1e-9),
                       infer_images_per_s_best: Double(val.count) / max(inferTimes.min() ?? 0, 1e-9),
                       cpu_s: CnnClock.cpu() - cpu0)
        Log.debug("checksum \(checksum)")
        Log.info(String(format: "cnn: train epoch %.3f s (median of %d), inference %.0f images/s, load %.2f s",
                        r.train_epoch_s_median ?? 0, epochTimes.count, r.infer_images_per_s, loadS))
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        emitLine(String(decoding: try enc.encode(r), as: UTF8.self))
    }
}

/// Wall and process CPU clocks (kept local so this file builds on its own).
enum CnnClock {
    static func wall() -> Double {
        var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
    static func cpu() -> Double {
        var t = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
