import Foundation
import LeptonImage

/// Images with integer labels, all `[size, size]` grayscale in [0, 1], stored contiguously.
public struct LabeledImages: Sendable {
    public var files: [String]
    public var labels: [Int]
    /// `[count, size, size]`.
    public var pixels: [Float]
    public let size: Int
    public var count: Int { labels.count }

    public init(size: Int) { files = []; labels = []; pixels = []; self.size = size }

    mutating func append(file: String, label: Int, pixels p: [Float]) {
        files.append(file); labels.append(label); pixels += p
    }

    /// Reads a `file,label` CSV (paths relative to its folder; labels integers 0 ..< `classes`) and
    /// its images (default: a binary task). Returns the rows under `val/` separately from the others.
    /// - Throws: `badLabels` for a label outside 0 ..< `classes` (a 7 in a binary task is a data
    ///   error, not a positive) or a file without any row.
    /// `progress` gets the number of images read so far.
    public static func read(labels url: URL, size: Int, classes: Int = 2,
                            progress: (Int) -> Void = { _ in }) throws -> (train: LabeledImages, val: LabeledImages) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw DiagnoseError.badLabels(file: url.path, line: 0, reason: "cannot read: \(error.localizedDescription)")
        }
        let dir = url.deletingLastPathComponent()
        var train = LabeledImages(size: size), val = LabeledImages(size: size)
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let parts = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if i == 0 && parts.first == "file" { continue }
            guard parts.count >= 2, let label = Int(parts[1]) else {
                throw DiagnoseError.badLabels(file: url.path, line: i + 1, reason: "expected file,label with an integer label")
            }
            guard (0..<classes).contains(label) else {
                throw DiagnoseError.badLabels(file: url.path, line: i + 1, reason: "label \(label) is outside 0...\(classes - 1) (\(classes) classes)")
            }
            let scan = try ScanLoader.load(dir.appendingPathComponent(parts[0]), size: size)
            if parts[0].hasPrefix("val/") { val.append(file: parts[0], label: label, pixels: scan.modelInput) } else {
                train.append(file: parts[0], label: label, pixels: scan.modelInput)
            }
            progress(train.count + val.count)
        }
        guard train.count + val.count > 0 else { throw DiagnoseError.badLabels(file: url.path, line: 0, reason: "no file,label rows") }
        return (train, val)
    }

    /// Every other image: positions 0, 2, 4, … (`odd` false) or 1, 3, 5, … (`odd` true). The
    /// validation rows are split this way into a half that chooses settings and one that chose
    /// nothing, as ``ScanGate/fit(model:train:validation:quantile:)`` splits them.
    public func half(odd: Bool) -> LabeledImages { subset(Array(stride(from: odd ? 1 : 0, to: count, by: 2))) }

    /// The first `n` images.
    public func prefix(_ n: Int) -> LabeledImages { subset(Array(0..<min(n, count))) }

    /// The images `[count, size, size]` of a subset.
    public func subset(_ idx: [Int]) -> LabeledImages {
        var out = LabeledImages(size: size)
        let plane = size * size
        for i in idx { out.append(file: files[i], label: labels[i], pixels: Array(pixels[(i * plane)..<((i + 1) * plane)])) }
        return out
    }
}
