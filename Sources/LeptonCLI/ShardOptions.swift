import ArgumentParser
import Foundation

/// One shard of a batch: item `k` (a file, a study, a data row) belongs to shard `k mod count`.
///
/// Shards let a batch run as `count` independent processes (a Kubernetes Indexed Job passes
/// `--shard $(JOB_COMPLETION_INDEX)/N`); each program's `merge` command puts their outputs back
/// together, byte for byte as one run would have written them.
public struct Shard: Sendable, Equatable {
    /// This shard's number, `0 ..< count`.
    public let index: Int
    /// How many shards the batch is cut into.
    public let count: Int

    /// Parses `i/N` with 0 ≤ i < N; anything else is a usage error (exit 64) naming the option.
    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw CLIFailure.usage("--shard expects i/N with 0 ≤ i < N, got '\(text)'")
        }
        index = i; count = n
    }

    /// True when item number `item` (0-based, in input order) is this shard's.
    public func contains(_ item: Int) -> Bool { item % count == index }

    /// The elements of `items` that are this shard's, in their order.
    public func select<T>(_ items: [T]) -> [T] {
        items.enumerated().compactMap { contains($0.offset) ? $0.element : nil }
    }
}

/// `--shard i/N`, shared by the batch commands (`transcribe`, `analyze`, `score`).
public struct ShardOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp(
        "Process only items whose 0-based index k has k mod N = i; `merge` joins the N outputs as one run's.",
        valueName: "i/N"))
    public var shard: String?

    public init() {}

    /// The selected shard, or nil for the whole batch. Throws a usage error (exit 64) when malformed.
    public func parsed() throws -> Shard? {
        try shard.map(Shard.init)
    }
}
