import Foundation

/// What an alert row shows besides its score: the transfer itself (time, amount, payment format),
/// the typologies its local pattern suggests, and the file's label when it has one. `score --json`
/// and `POST /v1/score` carry these per transaction, so an analyst's queue (or any client) needs
/// no second pass over the CSV.
public struct AlertDetails: Sendable, Equatable {
    /// `YYYY/MM/DD HH:MM`, as in the file.
    public var time: String
    /// Amount paid, in `currency` (the file's `Amount Paid` and `Payment Currency`).
    public var amount: Double
    public var currency: String
    /// The amount paid in US dollars (the rate table the features use).
    public var amountUSD: Float
    /// Payment format (`ACH`, `Wire`, …).
    public var format: String
    /// Typology hints from the transaction's features (empty when none matches); see
    /// ``Explanation/typologies(_:)``.
    public var typologies: [String]
    /// The file's `Is Laundering` cell: 1 or 0, nil when the cell is blank.
    public var label: Int?
}

extension ScoredTransactions {
    /// The details of table row `i` (an index into `table`, as in ``inputRows``); `features` are
    /// the row's (computed again when nil).
    public func alertDetails(_ i: Int, features: [Float]? = nil) -> AlertDetails {
        let t = table
        let lab = t.label[i]
        return AlertDetails(time: formatTimestamp(Int(t.time[i])), amount: t.amountPaid[i],
                            currency: t.currencyName(t.payCurrency[i]), amountUSD: t.usd(i),
                            format: t.formatName(t.format[i]),
                            typologies: Explanation.typologies(features ?? self.features(row: i)),
                            label: lab < 0 ? nil : Int(lab))
    }
}
