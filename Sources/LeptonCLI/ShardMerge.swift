import Foundation

/// Joins the outputs of the N shards of a batch (`--shard 0/N` … `--shard N-1/N`) into what one
/// run over the whole batch prints.
public enum ShardMerge {
    /// Reads shard outputs (files, or `-` / `/dev/fd/N` pipes), each split into its lines.
    public static func readLines(_ paths: [String]) throws -> [[String]] {
        guard !paths.isEmpty else { throw CLIFailure.usage("give the shard outputs, shard 0 first") }
        return try paths.map { path in
            let data: Data
            if path == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                // A FileHandle, not Data(contentsOf:): process substitution hands us a pipe.
                guard let h = FileHandle(forReadingAtPath: path) else { throw CLIFailure.input("cannot read \(path)") }
                defer { try? h.close() }
                do { data = try h.readToEnd() ?? Data() } catch { throw CLIFailure.input("cannot read \(path): \(describe(error))") }
            }
            guard let text = String(data: data, encoding: .utf8) else { throw CLIFailure.input("\(path) is not UTF-8 text") }
            var lines = text.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            return lines
        }
    }

    /// Item-per-line outputs (`transcribe -f txt|json`, `analyze` of a folder): shard `s` holds
    /// items s, s+N, s+2N, … in input order, one line each, so the whole run's line `k` is line
    /// `k / N` of shard `k mod N`. Shards are given in order (shard 0 first); their line counts
    /// must be what one batch cut N ways gives (none longer than shard 0, none more than one
    /// shorter), otherwise a shard is missing lines and the merge refuses.
    public static func interleave(_ shards: [[String]], names: [String]) throws -> [String] {
        let first = shards.first?.count ?? 0
        for (s, lines) in shards.enumerated() {
            let previous = s == 0 ? first : shards[s - 1].count
            guard lines.count <= previous, lines.count >= first - 1 else {
                throw CLIFailure.input("\(names[s]) has \(lines.count) lines, but shard \(s) of \(shards.count) must have "
                                       + "\(first - 1) or \(first) and no more than shard \(s - 1)'s "
                                       + "(a shard that failed on an item, or shards out of order?)")
            }
        }
        var out: [String] = []
        out.reserveCapacity(shards.reduce(0) { $0 + $1.count })
        for k in 0..<first {
            for lines in shards where k < lines.count { out.append(lines[k]) }
        }
        return out
    }
}

extension ShardMerge {
    /// What a program's `merge` command does for item-per-line outputs: reads the shard outputs at
    /// `paths` (shard 0 first), interleaves them (``interleave(_:names:)``) and prints the result.
    public static func printInterleaved(_ paths: [String]) throws {
        let merged = try interleave(try readLines(paths), names: paths)
        var text = merged.joined(separator: "\n")
        if !merged.isEmpty { text += "\n" }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
