import Foundation

/// Turns rows of any source (a CSV file, a PostgreSQL cursor) into transactions of a table, with
/// a ``TransactionSchema`` saying where each field is and optional ``FXRates``.
///
/// Bad rows (missing columns, bad or out-of-range timestamps, negative, non-numeric, NaN,
/// infinite or absurd amounts, unknown currencies, no FX rate, bad labels) are skipped and
/// counted; ``finish()`` returns the count or throws when nothing was usable. Payment types
/// outside the IBM list become categories of their own.
public struct TransactionIngest {
    public let schema: TransactionSchema
    public let fx: FXRates?
    /// Names the source in skip examples and errors (a path, or a URL without its password).
    public let source: String
    let sourceIndex: UInt8
    /// Column of each field (`cAR`, `cRC` fall back to the paid ones; `cL` is -1 without labels).
    let cT, cFB, cFA, cTB, cTA, cAR, cRC, cAP, cPC, cF, cL: Int
    /// Fields a row must have (the label may be missing from the end).
    let minimumFields: Int
    private(set) var skips = SkipReport()
    private var dataRow: Int32 = -1
    private var kept = 0
    private var key = [UInt8](repeating: 0, count: 256)

    /// - Parameter header: the column names (a file's first row, a table's columns); nil when
    ///   the source has none (columns are then positions).
    /// - Throws: `RiskError.badHeader` when a column the schema names is not in `header`.
    public init(schema: TransactionSchema, fx: FXRates?, source: String, sourceIndex: UInt8, header: [String]?) throws {
        self.schema = schema
        self.fx = fx
        self.source = source
        self.sourceIndex = sourceIndex
        let column = try schema.resolve(header: header, source: source)
        cT = column[.timestamp]!; cFB = column[.fromBank]!; cFA = column[.fromAccount]!; cTB = column[.toBank]!
        cTA = column[.toAccount]!; cAP = column[.amountPaid]!; cPC = column[.paymentCurrency]!
        cAR = column[.amountReceived]! >= 0 ? column[.amountReceived]! : cAP
        cRC = column[.receivingCurrency]! >= 0 ? column[.receivingCurrency]! : cPC
        cF = column[.paymentType]!; cL = column[.label]!
        minimumFields = [cT, cFB, cFA, cTB, cTA, cAR, cRC, cAP, cPC, cF].max()! + 1
    }

    /// Appends row `r` to `t` (or counts why it was skipped).
    public mutating func add(_ r: CSVRow, to t: inout TransactionTable) {
        dataRow += 1
        let path = source
        if schema.isIBM {
            guard r.count == 11 || r.count == 10 else {
                skips.add("wrong number of columns", line: r.line, path: path, detail: "\(r.count) instead of 11"); return
            }
        } else if r.count < minimumFields {
            skips.add("wrong number of columns", line: r.line, path: path, detail: "\(r.count) instead of at least \(minimumFields)"); return
        }
        let (tp, tn) = r.bytes(cT)
        let parsed: Int?
        if schema.dateFormats.isEmpty { parsed = parseTimestamp(tp, tn) } else {
            parsed = schema.dateFormats.lazy.compactMap { $0.minutes(tp, tn) }.first
        }
        guard let time = parsed else {
            skips.add("bad timestamp", line: r.line, path: path, detail: r.string(cT)); return
        }
        guard TimestampRange.contains(time) else {
            skips.add("date out of range (years \(TimestampRange.firstYear)-\(TimestampRange.lastYear))", line: r.line, path: path,
                      detail: r.string(cT)); return
        }
        guard let received = r.double(cAR), let paid = r.double(cAP) else {
            skips.add("non-numeric amount", line: r.line, path: path, detail: "\(r.string(cAR)) / \(r.string(cAP))"); return
        }
        guard received >= 0, paid >= 0 else {
            skips.add("negative amount", line: r.line, path: path, detail: "\(r.string(cAR)) / \(r.string(cAP))"); return
        }
        // 1e39 parses to a finite Double but became +inf as a Float and scored low; no
        // transfer is worth more than 10^15 units of any currency.
        guard received <= TransactionTable.maximumAmount, paid <= TransactionTable.maximumAmount else {
            skips.add("amount above 1e15", line: r.line, path: path, detail: "\(r.string(cAR)) / \(r.string(cAP))"); return
        }
        guard let rc = t.currencyIndex(r, cRC, fx: fx), let pc = t.currencyIndex(r, cPC, fx: fx) else {
            skips.add("unknown currency", line: r.line, path: path, detail: "\(r.string(cRC)) / \(r.string(cPC))"); return
        }
        let perUSD: Double
        if let fx {
            guard let rate = fx.perUSD(t.currencyNames[Int(pc)], at: time) else {
                skips.add("no FX rate for the currency on the day", line: r.line, path: path,
                          detail: "\(r.string(cPC)) on \(formatTimestamp(time).prefix(10)) in \(fx.source)"); return
            }
            perUSD = rate
        } else {
            perUSD = Currency.perUSD[Int(pc)]
        }
        guard r.length(cF) > 0 else { skips.add("missing payment format", line: r.line, path: path); return }
        guard let f = t.formatIndex(r, cF, aliases: schema.paymentTypeAliases) else {
            skips.add("more than 255 payment formats", line: r.line, path: path, detail: r.string(cF)); return
        }
        var lab: Int8 = -1
        if cL >= 0 && r.count > cL && r.length(cL) > 0 {
            if r.equals(cL, "1") { lab = 1 } else if r.equals(cL, "0") { lab = 0 } else {
                skips.add("bad Is Laundering value", line: r.line, path: path, detail: r.string(cL)); return
            }
        }
        guard r.length(cFB) > 0, r.length(cFA) > 0, r.length(cTB) > 0, r.length(cTA) > 0,
              r.length(cFB) + r.length(cFA) < 250, r.length(cTB) + r.length(cTA) < 250 else {
            skips.add("missing bank or account", line: r.line, path: path); return
        }
        let a = t.internAccount(r, bankField: cFB, accountField: cFA, key: &key)
        let b = t.internAccount(r, bankField: cTB, accountField: cTA, key: &key)
        t.row.append(dataRow); t.source.append(sourceIndex)
        t.time.append(Int32(time)); t.src.append(a); t.dst.append(b)
        t.amountPaid.append(paid); t.amountReceived.append(received)
        t.amountUSD.append(Float(paid / perUSD))
        t.payCurrency.append(pc); t.receiveCurrency.append(rc); t.format.append(f); t.label.append(lab)
        kept += 1
    }

    /// The skip report once every row was added.
    /// - Throws: `RiskError.empty` without data rows, `.noUsableRows` when every row was skipped.
    public func finish() throws -> SkipReport {
        if dataRow < 0 { throw RiskError.empty(path: source) }
        if kept == 0 { throw RiskError.noUsableRows(path: source, skipped: skips.total, firstReason: skips.examples.first ?? "") }
        return skips
    }
}

extension TransactionTable {
    /// Index of field `i`'s currency: an IBM currency by name or ISO code, else (with rates) a
    /// further ISO code the rates cover, added to ``currencyNames``; nil when unknown.
    mutating func currencyIndex(_ r: CSVRow, _ i: Int, fx: FXRates?) -> UInt8? {
        let (p, n) = r.bytes(i)
        if let k = Currency.index(p, n) { return k }
        guard let fx, let code = FXRates.key(r.string(i)), fx.covers(code) else { return nil }
        if let k = currencyNames.firstIndex(of: code) { return UInt8(k) }
        guard currencyNames.count < 255 else { return nil }
        currencyNames.append(code)
        return UInt8(currencyNames.count - 1)
    }

    /// Index of field `i`'s payment format: an IBM format, a bank name the schema maps to one,
    /// or a category of its own (added to ``formatNames``); nil past 255 categories.
    mutating func formatIndex(_ r: CSVRow, _ i: Int, aliases: [String: String]) -> UInt8? {
        let (p, n) = r.bytes(i)
        if let k = PaymentFormat.index(p, n) { return k }
        let name = r.string(i).trimmingCharacters(in: .whitespaces)
        if let ibm = aliases[name.lowercased()], let k = PaymentFormat.names.firstIndex(of: ibm) { return UInt8(k) }
        if let k = formatNames.firstIndex(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) { return UInt8(k) }
        guard formatNames.count < 255 else { return nil }
        formatNames.append(name)
        return UInt8(formatNames.count - 1)
    }
}
