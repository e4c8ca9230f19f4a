import LeptonCLI
import LeptonRisk

/// One transaction's line of `score --json` (and of `POST /v1/score`): the row, its score and
/// whether it is flagged at `cut`, the accounts, and the details an alert queue shows
/// (``AlertDetails``: time, amount, payment format, typology hints, and `label` when the file
/// has one). A flagged row, and every row of a bounded list (`--top`, `--budget`), also carries `reasons`: the three features that raise its score most,
/// in readable words, with their Shapley share of the score (``ScoreAttribution``).
func transactionScoreJSON(_ s: ScoredTransactions, row i: Int, cut: Float, reasons: [ScoreAttribution.Reason]? = nil,
                          features: [Float]? = nil) -> String {
    let t = s.table, sc = s.scores[i]
    let d = s.alertDetails(i, features: features)
    var line = "{\"row\":\(t.row[i]),\"score\":\(fmt(sc)),\"flagged\":\(sc >= cut)"
    line += ",\"from\":\(jsonString(t.accountName(Int(t.src[i])))),\"to\":\(jsonString(t.accountName(Int(t.dst[i]))))"
    line += ",\"time\":\(jsonString(d.time)),\"amount\":\(d.amount),\"currency\":\(jsonString(d.currency))"
    line += ",\"amount_usd\":\(fmt(d.amountUSD)),\"format\":\(jsonString(d.format))"
    line += ",\"typologies\":[\(d.typologies.map(jsonString).joined(separator: ","))]"
    if let reasons {
        line += ",\"reasons\":[" + reasons.map {
            "{\"text\":\(jsonString($0.text)),\"feature\":\(jsonString($0.feature)),\"effect\":\(fmt($0.effect))}"
        }.joined(separator: ",") + "]"
    }
    if let label = d.label { line += ",\"label\":\(label)" }
    return line + "}"
}
