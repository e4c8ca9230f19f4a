import Foundation

/// Features in an analyst's words: "1,301.00 US Dollar, 4.2× the sender's usual amount", not
/// `amount_vs_src_usual = 1.44`. Each phrase undoes the feature's own encoding (log counts back to
/// counts, log ratios back to ratios) and takes amounts, currencies and payment types from the
/// row itself, so it says what the file says.
extension TransactionFeatures {
    /// The phrase for feature `f` of table row `i`, whose features are `x` (`[count]`).
    public static func reason(feature f: Int, features x: [Float], table t: TransactionTable, row i: Int) -> String {
        let v = x[f]
        func count(_ v: Float) -> Int { Int((expf(v) - 1).rounded()) }          // logf(1 + n)
        func plain(_ v: Float) -> Int { Int(expf(v).rounded()) }                 // logf(max(n, 1))
        func times(_ v: Float) -> String { ratio(expf(v)) }
        func percent(_ v: Float) -> String { "\(Int((v * 100).rounded()))%" }
        func n(_ k: Int, _ one: String, _ many: String) -> String { "\(k) \(k == 1 ? one : many)" }
        let currency = t.currencyName(t.payCurrency[i])
        switch names[f] {
        case "log_amount_usd":
            let paid = "\(money(t.amountPaid[i])) \(currency)"
            return t.payCurrency[i] == 0 ? "amount \(paid)" : "amount \(paid) (\(money(Double(t.usd(i)))) US Dollar)"
        case "currency_mismatch":
            return v > 0 ? "paid in \(currency), received in \(t.currencyName(t.receiveCurrency[i]))" : "paid and received in \(currency)"
        case let name where name.hasPrefix("format_"):
            return "payment type \(t.formatName(t.format[i]))"
        case "cross_bank": return v > 0 ? "between two banks" : "within one bank"
        case "self_transfer": return v > 0 ? "to the sender's own account" : "to another account"
        case "hour_of_day":
            let minutes = Int((v * 1440).rounded())
            return String(format: "at %02d:%02d", minutes / 60 % 24, minutes % 60)
        case "round_amount": return v > 0 ? "a round amount" : "not a round amount"
        case "pay_usd": return v > 0 ? "paid in US Dollar" : "paid in \(currency), not US Dollar"
        case "src_out_14d": return "sender made \(n(count(v), "payment", "payments")) within 14 days"
        case "src_in_14d": return "sender received \(n(count(v), "payment", "payments")) within 14 days"
        case "src_out_partners_14d": return "sender paid \(n(count(v), "account", "accounts")) within 14 days"
        case "src_in_partners_14d": return "sender was paid by \(n(count(v), "account", "accounts")) within 14 days"
        case "amount_vs_src_usual": return "\(times(v)) the sender's usual amount"
        case "dst_out_14d": return "receiver made \(n(count(v), "payment", "payments")) within 14 days"
        case "dst_in_14d": return "receiver received \(n(count(v), "payment", "payments")) within 14 days"
        case "dst_out_partners_14d": return "receiver paid \(n(count(v), "account", "accounts")) within 14 days"
        case "dst_in_partners_14d": return "receiver was paid by \(n(count(v), "account", "accounts")) within 14 days"
        case "amount_vs_dst_usual": return "\(times(v)) the receiver's usual incoming amount"
        case "pair_count": return "\(n(plain(v), "transfer", "transfers")) from this sender to this receiver in the data"
        case "reverse_pair_count": return "\(n(count(v), "transfer", "transfers")) back from the receiver to the sender"
        case "src_out_burst_2d": return "sender made \(n(plain(v), "payment", "payments")) within 2 days"
        case "dst_in_burst_2d": return "receiver was paid \(n(plain(v), "time", "times")) within 2 days"
        case "src_in_before_4d": return "sender was paid \(n(count(v), "time", "times")) in the 4 days before"
        case "dst_out_after_4d": return "receiver paid out \(n(count(v), "time", "times")) in the 4 days after"
        case "dst_passthrough_match":
            // Within 50% of this amount counts as similar; beyond that, say none.
            return v >= logf(1.5) ? "receiver passed on no similar amount within 4 days"
                : "receiver passed on an amount within \(difference(v)) of this one within 4 days"
        case "src_passthrough_match":
            return v >= logf(1.5) ? "sender received no similar amount in the 4 days before"
                : "sender received an amount within \(difference(v)) of this one in the 4 days before"
        case "cycle_back_to_src", "cycle_length":
            let hops = x[names.firstIndex(of: "cycle_back_to_src")!] > 0 ? Int(x[names.firstIndex(of: "cycle_length")!]) : 0
            return hops > 0 ? "money returns to the sender in \(hops) hops within 10 days" : "no money returns to the sender within 10 days"
        case "forward_reach_5d": return "money reaches \(n(count(v), "account", "accounts")) onwards within 5 days"
        case "src_out_partners_2d": return "sender paid \(n(count(v), "account", "accounts")) within 2 days"
        case "dst_in_partners_2d": return "receiver was paid by \(n(count(v), "account", "accounts")) within 2 days"
        case "src_format_share": return "\(percent(v)) of the sender's payments are \(t.formatName(t.format[i]))"
        case "dst_in_cross_bank_share": return "\(percent(v)) of the receiver's incoming payments come from other banks"
        case "src_in_out_ratio_14d": return "sender received \(times(v)) what they sent within 14 days"
        case "dst_in_out_ratio_14d": return "receiver received \(times(v)) what they sent within 14 days"
        case "src_daily_rate": return "sender makes about \(rate(v)) transactions a day"
        case "dst_daily_rate": return "receiver makes about \(rate(v)) transactions a day"
        case "src_activity_share_2d": return "\(percent(v)) of the sender's transfers within 14 days fall within 2 days of this one"
        default: return "\(names[f]) = \(String(format: "%.3g", Double(v)))"
        }
    }

    /// `1301.5` → `1,301.50`; amounts under 1 (a fraction of a Bitcoin) keep 4 significant digits.
    static func money(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        if abs(x) < 1 { return String(format: "%.4g", x) }
        let text = String(format: "%.2f", abs(x))
        let whole = text.prefix { $0 != "." }, cents = text.drop { $0 != "." }
        var grouped = ""
        for (k, c) in whole.enumerated() {
            if k > 0 && (whole.count - k) % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        return (x < 0 ? "-" : "") + grouped + cents
    }

    /// `4.2×`, `0.31×`, `1,200×`.
    static func ratio(_ r: Float) -> String {
        if r >= 100 { return "\(money(Double(r.rounded())).dropLast(3))×" }  // "1,200×"
        return r >= 1 ? String(format: "%.1f×", Double(r)) : String(format: "%.2g×", Double(r))
    }

    /// An absolute log difference as a percentage: `0.05` → `5%`.
    private static func difference(_ v: Float) -> String { "\(Int(((expf(v) - 1) * 100).rounded()))%" }

    /// `logf(1 + transactions) - logf(1 + days)` back to transactions a day.
    private static func rate(_ v: Float) -> String { String(format: "%.2g", Double(expf(v))) }
}
