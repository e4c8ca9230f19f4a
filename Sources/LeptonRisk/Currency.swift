/// The currencies and payment formats of the IBM AML schema, with approximate units per US dollar
/// (2022-2023 levels; used only to compare amounts across currencies in features and simulation).
public enum Currency {
    public static let names: [String] = [
        "US Dollar", "Euro", "UK Pound", "Yen", "Yuan", "Rupee", "Bitcoin", "Canadian Dollar",
        "Australian Dollar", "Brazil Real", "Swiss Franc", "Mexican Peso", "Ruble", "Shekel", "Saudi Riyal",
    ]
    /// Units of the currency per US dollar, in `names` order.
    public static let perUSD: [Double] = [
        1, 0.92, 0.79, 150, 7.15, 83, 0.000035, 1.36, 1.52, 5.04, 0.90, 18.3, 91.4, 3.69, 3.69,
    ]

    /// ISO 4217 codes of the same currencies, in `names` order. Bitcoin has no ISO code: `XBT`
    /// (the ISO-style code exchanges use) and `BTC` are both accepted.
    public static let isoCodes: [[String]] = [
        ["USD"], ["EUR"], ["GBP"], ["JPY"], ["CNY"], ["INR"], ["XBT", "BTC"], ["CAD"],
        ["AUD"], ["BRL"], ["CHF"], ["MXN"], ["RUB"], ["ILS"], ["SAR"],
    ]

    /// Index in `names` of an IBM name (`UK Pound`) or an ISO 4217 code (`GBP`), compared
    /// without regard to ASCII case; nil when neither.
    public static func index(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt8? { lookup.index(p, n) }

    static let lookup = NameTable(names.indices.map { i in [names[i]] + isoCodes[i] })
}

/// Payment formats of the IBM AML schema.
public enum PaymentFormat {
    public static let names: [String] = ["ACH", "Bitcoin", "Cash", "Cheque", "Credit Card", "Reinvestment", "Wire"]

    /// Index in `names` (ASCII case ignored: `ach`, `CASH`), or nil.
    public static func index(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt8? { lookup.index(p, n) }

    static let lookup = NameTable(names.map { [$0] })
}

/// Spellings of a short list of values, matched against a CSV field's bytes without making a
/// `String` per row (ingest runs this twice per transaction).
struct NameTable: Sendable {
    /// (lower-cased spelling, value index).
    let spellings: [([UInt8], UInt8)]

    init(_ spellingsOfValue: [[String]]) {
        spellings = spellingsOfValue.enumerated().flatMap { (i, list) in list.map { (Array($0.lowercased().utf8), UInt8(i)) } }
    }

    func index(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt8? {
        for (name, value) in spellings where name.count == n {
            var same = true
            for k in 0..<n {
                var c = p[k]
                if c >= 65 && c <= 90 { c += 32 }
                if c != name[k] { same = false; break }
            }
            if same { return value }
        }
        return nil
    }
}

/// Minutes since 1970-01-01 00:00 UTC for a civil date and time (Howard Hinnant's days_from_civil).
@inlinable
public func minutesSinceEpoch(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    return (days * 24 + hour) * 60 + minute
}

/// Formats minutes since the epoch as `YYYY/MM/DD HH:MM` (the IBM AML timestamp form).
public func formatTimestamp(_ minutes: Int) -> String {
    let days = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440
    let rem = minutes - days * 1440
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(y)/\(two(m))/\(two(d)) \(two(rem / 60)):\(two(rem % 60))"
}

/// Parses `YYYY/MM/DD HH:MM[:SS]` or `YYYY-MM-DD HH:MM[:SS]` into minutes since the epoch.
@inlinable
public func parseTimestamp(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
    guard n >= 16 else { return nil }
    @inline(__always) func digits(_ at: Int, _ count: Int) -> Int? {
        var v = 0
        for k in at..<(at + count) {
            let c = Int(p[k]) - 48
            if c < 0 || c > 9 { return nil }
            v = v * 10 + c
        }
        return v
    }
    let sep = p[4]
    guard sep == 47 || sep == 45, p[7] == sep, p[10] == 32 || p[10] == 84, p[13] == 58 else { return nil }
    guard let y = digits(0, 4), let mo = digits(5, 2), let d = digits(8, 2), let h = digits(11, 2), let mi = digits(14, 2)
    else { return nil }
    if n > 16 { guard n == 19, p[16] == 58, digits(17, 2) != nil else { return nil } }
    guard mo >= 1, mo <= 12, d >= 1, d <= 31, h <= 23, mi <= 59 else { return nil }
    let monthDays = [31, (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    guard d <= monthDays[mo - 1] else { return nil }
    return minutesSinceEpoch(year: y, month: mo, day: d, hour: h, minute: mi)
}

/// The transaction times a table accepts: years 1900 through 2199. Times are stored as Int32
/// minutes (±4,000 years) and features add windows of days to them, so a row dated 9999/12/31
/// overflowed that arithmetic (and was shown clamped as 6053/01/23); a bank export has no
/// business outside these years, and such a row is skipped and counted instead.
public enum TimestampRange {
    public static let firstYear = 1900, lastYear = 2199
    public static let first = minutesSinceEpoch(year: firstYear, month: 1, day: 1, hour: 0, minute: 0)
    public static let last = minutesSinceEpoch(year: lastYear, month: 12, day: 31, hour: 23, minute: 59)
    public static func contains(_ minutes: Int) -> Bool { minutes >= first && minutes <= last }
}
