import ArgumentParser
import Foundation
import LeptonCLI

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the outputs of `score --shard i/N` into the output of one `score` run.",
        discussion: """
        Each shard scores the whole file (features see every row) but prints only its own rows \
        (or accounts), each with its `rank` in the whole file's ranking. `merge` re-ranks the \
        shards' lines by that rank, drops it, keeps the --top K first (give the shards' --top), \
        and prints the first shard's summary line (JSON) or header (CSV) once: the result is \
        byte for byte what `score` without --shard prints. The shards' first lines must agree \
        (same model, input and options).

        Examples:
          lepton-risk merge --top 10 \\
              <(lepton-risk score --model samples/risk/model --json \\
                --transactions samples/risk/test.csv --top 10 --shard 0/2) \\
              <(lepton-risk score --model samples/risk/model --json \\
                --transactions samples/risk/test.csv --top 10 --shard 1/2)
        """)

    @OptionGroup var common: CommonOptions
    @Option(help: "Print only the K best ranked lines (the shards' --top).") var top: Int?
    @Argument(help: "The shards' outputs, in any order (`-` reads stdin).") var shards: [String] = []

    func run() throws {
        try runRisk(common) {
            if let k = top, k < 1 { throw usage("--top must be at least 1, got \(k)") }
            let outputs = try ShardMerge.readLines(shards)
            var out = StdoutBuffer()
            for line in try mergeRanked(outputs, names: shards, top: top) { out.line(line) }
            out.flush()
        }
    }
}

/// Re-ranks shard outputs of `score` (each: one first line, then lines ending in their rank).
func mergeRanked(_ outputs: [[String]], names: [String], top: Int?) throws -> [String] {
    guard let header = outputs.first?.first else { throw CLIFailure.input("\(names[0]) is empty: not an output of score --shard") }
    let json = header.hasPrefix("{")
    guard json || header.hasSuffix(",rank") else {
        throw CLIFailure.input("\(names[0]): the first line is neither a JSON summary nor a CSV header ending in rank (an output of score --shard?)")
    }
    var ranked: [(rank: Int, line: String)] = []
    for (s, lines) in outputs.enumerated() {
        guard lines.first == header else {
            throw CLIFailure.input("\(names[s]): its first line differs from \(names[0])'s (another model, input or option?)")
        }
        for (n, line) in lines.dropFirst().enumerated() {
            guard let parsed = RankedLine.split(line, json: json) else {
                throw CLIFailure.input("\(names[s]):\(n + 2): no rank at the end (an output of score --shard?)")
            }
            ranked.append(parsed)
        }
    }
    ranked.sort { $0.rank < $1.rank }
    for (a, b) in zip(ranked, ranked.dropFirst()) where a.rank == b.rank {
        throw CLIFailure.input("rank \(a.rank) appears twice: a shard was given twice, or shards of different runs")
    }
    if let k = top { ranked = Array(ranked.prefix(k)) }
    return [json ? header : String(header.dropLast(",rank".count))] + ranked.map(\.line)
}

/// A ranked list (best first) cut to one shard: each element keeps its 1-based position in the
/// whole list, which a sharded run prints (`"rank"` last in JSON, a last `rank` column in CSV) so
/// that `merge` can restore the one-run order exactly (printed scores are rounded and may tie).
struct RankedSelection<Element> {
    /// The whole ranking (a shard's entries are picked from it as they are read: a ranking of
    /// millions of rows is not copied with its ranks).
    private let ranked: [Element]
    private let shard: Shard?
    private let key: (Element) -> Int
    private var sharded: Bool { shard != nil }

    /// `ranked` best first; `key` is the number an element is sharded by (row, account, node).
    init(_ ranked: [Element], shard: Shard?, key: @escaping (Element) -> Int) {
        self.ranked = ranked; self.shard = shard; self.key = key
    }

    /// The first `k` entries (all without `k`), with their ranks, handed to `body` `size` at a time.
    func forEachBlock(_ k: Int?, size: Int = 4096, _ body: ([(rank: Int, element: Element)]) throws -> Void) rethrows {
        var block: [(rank: Int, element: Element)] = []
        var left = k ?? Int.max
        for (offset, element) in ranked.enumerated() where shard?.contains(key(element)) ?? true {
            if left == 0 { break }
            block.append((offset + 1, element)); left -= 1
            if block.count == size { try body(block); block.removeAll(keepingCapacity: true) }
        }
        if !block.isEmpty { try body(block) }
    }

    /// The first `k` entries (all without `k`), with their ranks.
    func top(_ k: Int?) -> [(rank: Int, element: Element)] {
        var out: [(rank: Int, element: Element)] = []
        forEachBlock(k) { out += $0 }
        return out
    }

    func csvHeader(_ header: String) -> String { sharded ? header + ",rank" : header }
    func csv(_ line: String, _ rank: Int) -> String { sharded ? line + ",\(rank)" : line }
    /// `line` is one JSON object; a sharded run adds `"rank"` as its last key.
    func json(_ line: String, _ rank: Int) -> String { sharded ? String(line.dropLast()) + ",\"rank\":\(rank)}" : line }
}

/// Reading back what ``RankedSelection`` printed.
enum RankedLine {
    /// The rank and the line without it, or nil when the line carries none.
    static func split(_ line: String, json: Bool) -> (rank: Int, line: String)? {
        if json {
            guard line.hasSuffix("}"), let r = line.range(of: ",\"rank\":", options: .backwards) else { return nil }
            guard let rank = Int(line[r.upperBound..<line.index(before: line.endIndex)]) else { return nil }
            return (rank, String(line[..<r.lowerBound]) + "}")
        }
        guard let comma = line.lastIndex(of: ","), let rank = Int(line[line.index(after: comma)...]) else { return nil }
        return (rank, String(line[..<comma]))
    }
}
