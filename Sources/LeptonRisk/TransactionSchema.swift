import Foundation
import LeptonYAML

/// Where each field of a transaction is in a bank's own export (`--schema map.yml`), so the file
/// loads as it is; ``ibm`` (the IBM AML layout, by position) is the default.
///
/// A map file, read with ``SafeYAML`` (alias bombs and deep nesting are refused):
///
/// ```yaml
/// delimiter: ";"            # one character (default ",")
/// header: true              # first row names the columns (default true)
/// date_formats: [iso8601]   # tried in order; see ``TimestampFormat`` (default: YYYY/MM/DD HH:MM)
/// columns:                  # a header name (case ignored) or a 1-based column number
///   timestamp: Booked at
///   from_bank: Payer bank
///   from_account: Payer account
///   to_bank: Payee bank
///   to_account: Payee account
///   amount_paid: Amount
///   payment_currency: Currency
///   amount_received: Credited          # optional (default: amount_paid)
///   receiving_currency: Credited in    # optional (default: payment_currency)
///   payment_type: Channel
///   label: Is SAR                      # optional: 1 laundering, 0 normal, blank unlabelled
/// payment_types:            # optional: the bank's names of IBM payment formats
///   SEPA: ACH
/// ```
///
/// Payment types that are neither IBM formats nor named under `payment_types` are kept as
/// categories of their own (the model's format indicators are all zero for them).
public struct TransactionSchema: Sendable, Equatable {
    /// A column named by its header (compared trimmed, ignoring case) or by its 0-based position.
    public enum Column: Sendable, Equatable {
        case name(String)
        case position(Int)
    }

    /// The fields a transaction needs, in the IBM layout's order.
    public enum Field: String, CaseIterable, Sendable {
        case timestamp, fromBank = "from_bank", fromAccount = "from_account", toBank = "to_bank", toAccount = "to_account"
        case amountReceived = "amount_received", receivingCurrency = "receiving_currency"
        case amountPaid = "amount_paid", paymentCurrency = "payment_currency", paymentType = "payment_type", label
    }

    /// Field separator byte (`,` by default).
    public var delimiter: UInt8 = 44
    /// Whether the first row of a file names the columns.
    public var header = true
    /// Timestamp formats, tried in order (empty: the IBM form, see ``parseTimestamp(_:_:)``).
    public var dateFormats: [TimestampFormat] = []
    /// Column of each field; `amount_received`, `receiving_currency` and `label` may be absent.
    public var columns: [Field: Column]
    /// The bank's payment-type names that mean an IBM format (`SEPA` → `ACH`), by lower-cased name.
    public var paymentTypeAliases: [String: String] = [:]
    /// True for the built-in IBM layout (its header is checked as before maps existed).
    public private(set) var isIBM = false

    public init(columns: [Field: Column]) { self.columns = columns }

    /// The IBM AML layout: 11 columns by position, a header row, `YYYY/MM/DD HH:MM` timestamps.
    public static let ibm: TransactionSchema = {
        var s = TransactionSchema(columns: Dictionary(uniqueKeysWithValues: Field.allCases.enumerated().map { ($1, .position($0)) }))
        s.isIBM = true
        return s
    }()

    /// Reads a map file (format above).
    /// - Throws: `RiskError.unreadable` when it cannot be read, `.badArgument` naming the file and
    ///   the problem (YAML limits, unknown keys, a missing required field, a bad date format).
    public static func load(_ path: String) throws -> TransactionSchema {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RiskError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        return try parse(text, source: path)
    }

    /// Parses the text of a map file; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws -> TransactionSchema {
        func bad(_ why: String) -> RiskError { .badArgument("\(source): \(why)") }
        var limits = SafeYAML.Limits()
        limits.maxBytes = 1 << 20; limits.maxDepth = 8; limits.maxNodes = 10_000; limits.maxAliasNodes = 1_000
        let root: Any?
        do { root = try SafeYAML.load(text, limits: limits) } catch let e as SafeYAML.LimitExceeded {
            throw bad(e.description)
        } catch { throw bad("not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")") }
        guard let map = root as? [String: Any] else { throw bad("expected a mapping with a `columns:` section") }
        let known: Set<String> = ["delimiter", "header", "date_formats", "date_format", "columns", "payment_types"]
        if let unknown = map.keys.sorted().first(where: { !known.contains($0) }) {
            throw bad("unknown key `\(unknown)` (expected \(known.sorted().joined(separator: ", ")))")
        }
        var s = TransactionSchema(columns: [:])
        if let d = map["delimiter"] {
            guard let text = d as? String, text.utf8.count == 1, let byte = text.utf8.first, byte != 34, byte != 10, byte != 13 else {
                throw bad("delimiter must be one ASCII character other than a quote or newline, e.g. \";\"")
            }
            s.delimiter = byte
        }
        if let h = map["header"] {
            guard let flag = h as? Bool else { throw bad("header must be true or false") }
            s.header = flag
        }
        let formats: [Any]
        if let one = map["date_format"] { formats = [one] } else { formats = (map["date_formats"] as? [Any]) ?? (map["date_formats"].map { [$0] } ?? []) }
        for f in formats {
            guard let pattern = f as? String else { throw bad("date formats must be text, e.g. \"%d.%m.%Y %H:%M\" or iso8601") }
            do { s.dateFormats += try TimestampFormat.parse(pattern) } catch let e as RiskError { throw bad(e.description) }
        }
        guard let columns = map["columns"] as? [String: Any] else { throw bad("no `columns:` mapping (which column holds each field)") }
        for (key, value) in columns {
            guard let field = Field(rawValue: key) else {
                throw bad("unknown field `\(key)` under columns (expected \(Field.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if let n = value as? Int {
                guard n >= 1, n <= 256 else { throw bad("column number \(n) of \(key) is out of range 1-256") }
                s.columns[field] = .position(n - 1)
            } else if let name = value as? String, !name.trimmingCharacters(in: .whitespaces).isEmpty {
                guard s.header else { throw bad("\(key): without a header row, columns are numbers (1 = first)") }
                s.columns[field] = .name(name.trimmingCharacters(in: .whitespaces))
            } else {
                throw bad("\(key) must be a column name or a 1-based column number")
            }
        }
        let optional: Set<Field> = [.amountReceived, .receivingCurrency, .label]
        if let missing = Field.allCases.first(where: { !optional.contains($0) && s.columns[$0] == nil }) {
            throw bad("no column given for \(missing.rawValue)")
        }
        if let aliases = map["payment_types"] {
            guard let pairs = aliases as? [String: Any] else { throw bad("payment_types must map the bank's names to IBM formats") }
            for (name, target) in pairs {
                guard let ibm = target as? String, let k = PaymentFormat.names.firstIndex(where: { $0.lowercased() == ibm.lowercased() }) else {
                    throw bad("payment_types: \(name) must map to one of \(PaymentFormat.names.joined(separator: ", "))")
                }
                s.paymentTypeAliases[name.lowercased()] = PaymentFormat.names[k]
            }
        }
        return s
    }

    /// The 0-based index of every field in rows under `header` (nil: no header, positions only);
    /// -1 for an absent optional field.
    /// - Throws: `RiskError.badHeader` naming the columns that are not in the header.
    func resolve(header: [String]?, source: String) throws -> [Field: Int] {
        var out: [Field: Int] = [:]
        let names = header?.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var missing: [String] = []
        for field in Field.allCases {
            switch columns[field] {
            case .position(let p): out[field] = p
            case .name(let n):
                if let i = names?.firstIndex(of: n.lowercased()) { out[field] = i } else { missing.append(n) }
            case nil: out[field] = -1
            }
        }
        if !missing.isEmpty {
            throw RiskError.badHeader(path: source, expected: "columns named \(missing.joined(separator: ", ")) (from the schema map)",
                                      found: (header ?? []).joined(separator: ","))
        }
        return out
    }
}

/// A timestamp layout of a bank's export, e.g. `%d.%m.%Y %H:%M` or `iso8601`.
///
/// Directives: `%Y` (4 digits), `%m` `%d` `%H` `%M` `%S` (1 or 2 digits), `%f` (fraction digits,
/// ignored), `%z` (`Z`, `±HH:MM` or `±HHMM`: the time is converted to UTC), `%%`; any other
/// character must appear as is. `iso8601` stands for `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]`.
/// Times are kept to the minute (seconds are read and dropped, as in the IBM files).
public struct TimestampFormat: Sendable, Equatable {
    enum Token: Sendable, Equatable { case year, month, day, hour, minute, second, fraction, zone, literal(UInt8) }
    let tokens: [Token]

    /// The formats one pattern stands for (`iso8601` is several).
    public static func parse(_ pattern: String) throws -> [TimestampFormat] {
        if pattern.lowercased() == "iso8601" {
            let base = "%Y-%m-%dT%H:%M"
            return try ["", ":%S", ":%S.%f"].flatMap { sec in [base + sec + "%z", base + sec] }.map(one) + [one("%Y-%m-%d")]
        }
        return [try one(pattern)]
    }

    static func one(_ pattern: String) throws -> TimestampFormat {
        var tokens: [Token] = []
        var bytes = Array(pattern.utf8)[...]
        while let c = bytes.popFirst() {
            guard c == 37 else { tokens.append(.literal(c)); continue }
            guard let d = bytes.popFirst() else { throw RiskError.badArgument("date format \"\(pattern)\" ends with %") }
            switch d {
            case 89: tokens.append(.year)        // Y
            case 109: tokens.append(.month)      // m
            case 100: tokens.append(.day)        // d
            case 72: tokens.append(.hour)        // H
            case 77: tokens.append(.minute)      // M
            case 83: tokens.append(.second)      // S
            case 102: tokens.append(.fraction)   // f
            case 122: tokens.append(.zone)       // z
            case 37: tokens.append(.literal(37))
            default: throw RiskError.badArgument("date format \"\(pattern)\": unknown directive %\(Character(UnicodeScalar(d)))")
            }
        }
        guard tokens.contains(.year), tokens.contains(.month), tokens.contains(.day) else {
            throw RiskError.badArgument("date format \"\(pattern)\" needs %Y, %m and %d")
        }
        return TimestampFormat(tokens: tokens)
    }

    /// Minutes since the epoch (UTC when the text has a zone), or nil when the text does not match.
    public func minutes(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        var i = 0
        var end = n
        while end > 0 && p[end - 1] == 32 { end -= 1 }
        while i < end && p[i] == 32 { i += 1 }
        var y = -1, mo = -1, d = -1, h = 0, mi = 0, offset = 0
        func number(_ minDigits: Int, _ maxDigits: Int) -> Int? {
            var v = 0, k = 0
            while k < maxDigits, i < end, p[i] >= 48, p[i] <= 57 { v = v * 10 + Int(p[i] - 48); i += 1; k += 1 }
            return k >= minDigits ? v : nil
        }
        for t in tokens {
            switch t {
            case .year: guard let v = number(4, 4) else { return nil }; y = v
            case .month: guard let v = number(1, 2) else { return nil }; mo = v
            case .day: guard let v = number(1, 2) else { return nil }; d = v
            case .hour: guard let v = number(1, 2) else { return nil }; h = v
            case .minute: guard let v = number(1, 2) else { return nil }; mi = v
            case .second: guard let v = number(1, 2), v <= 60 else { return nil }
            case .fraction: guard number(1, 12) != nil else { return nil }
            case .zone:
                guard i < end else { return nil }
                if p[i] == 90 || p[i] == 122 { i += 1; break }   // Z
                guard p[i] == 43 || p[i] == 45 else { return nil }
                let sign = p[i] == 45 ? -1 : 1
                i += 1
                guard let oh = number(2, 2) else { return nil }
                if i < end && p[i] == 58 { i += 1 }
                guard let om = number(2, 2), oh <= 14, om <= 59 else { return nil }
                offset = sign * (oh * 60 + om)
            case .literal(let c):
                guard i < end, p[i] == c else { return nil }
                i += 1
            }
        }
        guard i == end, mo >= 1, mo <= 12, d >= 1, h <= 23, mi <= 59 else { return nil }
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= monthDays[mo - 1] else { return nil }
        return minutesSinceEpoch(year: y, month: mo, day: d, hour: h, minute: mi) - offset
    }
}
