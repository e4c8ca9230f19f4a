import Foundation

/// Exchange rates to US dollars by date range (`--fx rates.csv`), used instead of the fixed
/// 2022–23 rates of ``Currency/perUSD`` to put amounts on one scale.
///
/// The file has a header and one rate per row:
///
/// ```
/// currency,from,to,units_per_usd
/// EUR,2022-09-01,2022-09-30,0.99
/// SEK,2022-09-01,,10.8
/// ```
///
/// `currency` is an ISO 4217 code (or an IBM name such as `Euro`); `from` and `to` are days
/// (`YYYY-MM-DD`, both included; a blank `to` has no end). The last column is either
/// `units_per_usd` (units of the currency one dollar buys, as ``Currency/perUSD``) or
/// `usd_per_unit` (the dollar value of one unit). Ranges of one currency must not overlap. US
/// dollars need no row. Currencies beyond the IBM list are accepted by code once they have rates.
///
/// Policy for a row whose payment currency has no rate on its day: the row is skipped and counted
/// (`no FX rate for the currency on the day`), like any unreadable row, so the run exits with
/// status 3 rather than scoring it on a guessed scale.
public struct FXRates: Sendable {
    struct Span: Sendable { var firstDay: Int, lastDay: Int, perUSD: Double }
    /// Spans of each currency (IBM name for the IBM currencies, else the upper-case ISO code), by start.
    let spans: [String: [Span]]
    /// Where the rates came from (messages).
    public let source: String

    /// The key a currency cell is filed under: the IBM name for the IBM currencies (by name or
    /// ISO code), else an upper-case three-letter code; nil when it is neither.
    static func key(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let known: UInt8? = Array(t.utf8).withUnsafeBufferPointer { b in b.baseAddress.flatMap { Currency.index($0, b.count) } }
        if let k = known { return Currency.names[Int(k)] }
        let up = t.uppercased()
        guard up.utf8.count == 3, up.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else { return nil }
        return up
    }

    /// Reads a rates file (format above).
    /// - Throws: `RiskError.unreadable`, `.empty`, `.badHeader`, or `.malformedRow` naming the line
    ///   (a bad code, date or rate, or two ranges of one currency that overlap).
    public static func load(_ path: String) throws -> FXRates {
        var header: [String]?
        var divide = true
        var spans: [String: [Span]] = [:]
        try CSVStream(path: path, maxFields: 8).forEachRow { r in
            if header == nil {
                let h = (0..<r.count).map { r.string($0).trimmingCharacters(in: .whitespaces).lowercased() }
                guard h.count == 4, h[0] == "currency", h[1] == "from", h[2] == "to", h[3] == "units_per_usd" || h[3] == "usd_per_unit" else {
                    throw RiskError.badHeader(path: path, expected: "currency,from,to,units_per_usd (or usd_per_unit)", found: h.joined(separator: ","))
                }
                header = h
                divide = h[3] == "units_per_usd"
                return
            }
            func bad(_ why: String) -> RiskError { .malformedRow(path: path, line: r.line, reason: why) }
            guard r.count == 4 else { throw bad("expected 4 columns, found \(r.count)") }
            guard let cur = key(r.string(0)) else { throw bad("not an ISO 4217 code or IBM currency name: \(r.string(0))") }
            guard let first = day(r.string(1)) else { throw bad("from must be a day YYYY-MM-DD, found \(r.string(1))") }
            let toText = r.string(2).trimmingCharacters(in: .whitespaces)
            let last: Int
            if toText.isEmpty { last = Int.max } else {
                guard let d = day(toText), d >= first else { throw bad("to must be a day YYYY-MM-DD on or after from, found \(toText)") }
                last = d
            }
            guard let v = r.double(3), v.isFinite, v > 0, v < 1e12, v > 1e-12 else { throw bad("rate must be a positive number, found \(r.string(3))") }
            spans[cur, default: []].append(Span(firstDay: first, lastDay: last, perUSD: divide ? v : 1 / v))
        }
        guard header != nil else { throw RiskError.empty(path: path) }
        for (cur, list) in spans {
            let sorted = list.sorted { $0.firstDay < $1.firstDay }
            for k in sorted.indices.dropFirst() where sorted[k].firstDay <= sorted[k - 1].lastDay {
                throw RiskError.badArgument("\(path): two rate ranges of \(cur) overlap (from \(formatTimestamp(sorted[k].firstDay * 1440).prefix(10)))")
            }
            spans[cur] = sorted
        }
        return FXRates(spans: spans, source: path)
    }

    /// Whether the file has rates for this currency key (see ``key(_:)``) on any day.
    func covers(_ key: String) -> Bool { key == "US Dollar" || spans[key] != nil }

    /// Units of the currency per US dollar at `minutes` (since the epoch), or nil without a rate.
    func perUSD(_ key: String, at minutes: Int) -> Double? {
        guard let list = spans[key] else { return key == "US Dollar" ? 1 : nil }
        let d = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440
        var lo = 0, hi = list.count
        while lo < hi { let mid = (lo + hi) / 2; if list[mid].firstDay <= d { lo = mid + 1 } else { hi = mid } }
        guard lo > 0, list[lo - 1].lastDay >= d else { return nil }
        return list[lo - 1].perUSD
    }

    /// Days since the epoch of `YYYY-MM-DD`.
    static func day(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let f = try! TimestampFormat.one("%Y-%m-%d")
        let m: Int? = Array(t.utf8).withUnsafeBufferPointer { b in b.baseAddress.flatMap { f.minutes($0, b.count) } }
        return m.map { $0 >= 0 ? $0 / 1440 : ($0 - 1439) / 1440 }
    }
}
