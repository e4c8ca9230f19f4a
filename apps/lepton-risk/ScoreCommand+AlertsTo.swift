import LeptonCLI
import LeptonEngine
import LeptonRisk
import LeptonRiskPostgres

/// `score --alerts-to postgresql://…?table=alerts`: the flagged transactions of this run (score at
/// or above the cut, highest first, within --top and --shard as printed) written to the table,
/// idempotently (``PostgresAlertSink``). Returns how many were written.
func writeAlerts(to location: String, _ s: ScoredTransactions, cut: Float, top: Int?, shard: Shard?, model: ModelIdentity,
                 source: String, reader: FeedReader) throws -> Int {
    let sink = try PostgresAlertSink(try reader.postgresFeed(location, option: "--alerts-to", allowQuery: false))
    var rows = s.inputRows.filter { s.scores[$0] >= cut }
    rows.sort { s.scores[$0] > s.scores[$1] || (s.scores[$0] == s.scores[$1] && $0 < $1) }
    let ranked = RankedSelection(rows, shard: shard) { Int(s.table.row[$0]) }.top(top).map(\.element)
    let written = try sink.write(PostgresAlertSink.records(s, rows: ranked, model: "\(model)", threshold: cut, source: source))
    Log.info("wrote \(written) alert\(written == 1 ? "" : "s") to \(sink.feed.description)")
    return written
}
