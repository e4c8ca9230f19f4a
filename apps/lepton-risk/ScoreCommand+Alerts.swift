import LeptonCLI
import LeptonRisk

/// One transaction's line of `score --json` (and of `POST /v1/score`): the row, its score and
/// whether it is flagged at `cut`, the accounts, and the details an alert queue shows
/// (``AlertDetails``: time, amount, payment format, typology hints, and `label` when the file
/// has one).
func transactionScoreJSON(_ s: ScoredTransactions, row i: Int, cut: Float) -> String {
    let t = s.table, sc = s.scores[i]
    let d = s.alertDetails(i)
    var line = "{\"row\":\(t.row[i]),\"score\":\(fmt(sc)),\"flagged\":\(sc >= cut)"
    line += ",\"from\":\(jsonString(t.accountName(Int(t.src[i])))),\"to\":\(jsonString(t.accountName(Int(t.dst[i]))))"
    line += ",\"time\":\(jsonString(d.time)),\"amount\":\(d.amount),\"currency\":\(jsonString(d.currency))"
    line += ",\"amount_usd\":\(fmt(d.amountUSD)),\"format\":\(jsonString(d.format))"
    line += ",\"typologies\":[\(d.typologies.map(jsonString).joined(separator: ","))]"
    if let label = d.label { line += ",\"label\":\(label)" }
    return line + "}"
}
