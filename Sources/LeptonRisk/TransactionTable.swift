import Foundation

/// Transactions in the IBM AML schema, stored by column.
///
/// Accounts are identified by bank + account number and interned to dense ids. Multigraph edges
/// (many transfers between the same two accounts) and self-transfers are kept as they are.
public struct TransactionTable {
    /// 0-based data-row index of each transaction in its source file (header excluded).
    public var row: [Int32] = []
    /// Which loaded file each transaction came from (0 = first).
    public var source: [UInt8] = []
    /// Minutes since 1970-01-01 UTC.
    public var time: [Int32] = []
    public var src: [Int32] = []
    public var dst: [Int32] = []
    /// Amounts as given (Double: a Float would echo 1e15 as 999999986991104.00).
    public var amountPaid: [Double] = []
    public var amountReceived: [Double] = []
    public var payCurrency: [UInt8] = []
    public var receiveCurrency: [UInt8] = []
    public var format: [UInt8] = []
    /// 1 laundering, 0 normal, -1 unlabelled (blank cell).
    public var label: [Int8] = []
    /// Account keys, `bank:account`.
    public var accounts = ByteInterner(capacity: 1 << 14)
    /// Bank part of each account key (interned separately, for cross-bank features).
    public var bankOfAccount: [Int32] = []
    var banks = ByteInterner(capacity: 256)

    public init() {}

    public var count: Int { time.count }
    public var accountCount: Int { accounts.count }

    /// The header of the IBM AML files (the second `Account` column is the receiver's).
    public static let header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering"

    /// Largest amount accepted (in any currency); larger ones are a counted skip.
    public static let maximumAmount = 1e15

    /// Number of labelled positives / negatives.
    public var positives: Int { label.reduce(0) { $0 + ($1 == 1 ? 1 : 0) } }
    public var negatives: Int { label.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }

    /// Account key `bank:account` for an id.
    public func accountName(_ id: Int) -> String { accounts.key(id) }

    /// Appends every valid row of the IBM AML CSV at `path`, streamed.
    ///
    /// Bad rows (missing columns, bad or out-of-range timestamps, negative, non-numeric, NaN,
    /// infinite or absurd amounts, unknown currencies or formats, bad labels) are skipped and
    /// counted in the returned report. Currencies are the IBM names or ISO 4217 codes.
    /// - Throws: `RiskError.empty` for a file without data rows, `.badHeader`, `.noUsableRows`
    ///   when every row was bad, `.unreadable` on I/O errors.
    @discardableResult
    public mutating func append(csv path: String, sourceIndex: UInt8 = 0) throws -> SkipReport {
        var skips = SkipReport()
        var sawHeader = false
        var dataRow: Int32 = -1
        var kept = 0
        var key = [UInt8](repeating: 0, count: 256)
        try CSVStream(path: path, maxFields: 16).forEachRow { r in
            if !sawHeader {
                sawHeader = true
                let found = (0..<r.count).map { r.string($0).trimmingCharacters(in: .whitespaces) }
                let expected = Self.header.split(separator: ",").map(String.init)
                if found.count < 10 || found[0].lowercased() != "timestamp" || !found[1].lowercased().contains("bank") {
                    throw RiskError.badHeader(path: path, expected: expected.joined(separator: ","), found: found.joined(separator: ","))
                }
                return
            }
            dataRow += 1
            guard r.count == 11 || r.count == 10 else {
                skips.add("wrong number of columns", line: r.line, path: path, detail: "\(r.count) instead of 11"); return
            }
            let (tp, tn) = r.bytes(0)
            guard let t = parseTimestamp(tp, tn) else {
                skips.add("bad timestamp", line: r.line, path: path, detail: r.string(0)); return
            }
            guard TimestampRange.contains(t) else {
                skips.add("date out of range (years \(TimestampRange.firstYear)-\(TimestampRange.lastYear))", line: r.line, path: path,
                          detail: r.string(0)); return
            }
            guard let received = r.double(5), let paid = r.double(7) else {
                skips.add("non-numeric amount", line: r.line, path: path, detail: "\(r.string(5)) / \(r.string(7))"); return
            }
            guard received >= 0, paid >= 0 else {
                skips.add("negative amount", line: r.line, path: path, detail: "\(r.string(5)) / \(r.string(7))"); return
            }
            // 1e39 parses to a finite Double but became +inf as a Float and scored low; no
            // transfer is worth more than 10^15 units of any currency.
            guard received <= Self.maximumAmount, paid <= Self.maximumAmount else {
                skips.add("amount above 1e15", line: r.line, path: path, detail: "\(r.string(5)) / \(r.string(7))"); return
            }
            let (rcP, rcN) = r.bytes(6), (pcP, pcN) = r.bytes(8)
            guard let rc = Currency.index(rcP, rcN), let pc = Currency.index(pcP, pcN) else {
                skips.add("unknown currency", line: r.line, path: path, detail: "\(r.string(6)) / \(r.string(8))"); return
            }
            let (fP, fN) = r.bytes(9)
            guard let f = PaymentFormat.index(fP, fN) else {
                skips.add("unknown payment format", line: r.line, path: path, detail: r.string(9)); return
            }
            var lab: Int8 = -1
            if r.count == 11 && r.length(10) > 0 {
                if r.equals(10, "1") { lab = 1 } else if r.equals(10, "0") { lab = 0 } else {
                    skips.add("bad Is Laundering value", line: r.line, path: path, detail: r.string(10)); return
                }
            }
            guard r.length(1) > 0, r.length(2) > 0, r.length(3) > 0, r.length(4) > 0,
                  r.length(1) + r.length(2) < 250, r.length(3) + r.length(4) < 250 else {
                skips.add("missing bank or account", line: r.line, path: path); return
            }
            let a = internAccount(r, bankField: 1, accountField: 2, key: &key)
            let b = internAccount(r, bankField: 3, accountField: 4, key: &key)
            row.append(dataRow); source.append(sourceIndex)
            time.append(Int32(t)); src.append(a); dst.append(b)
            amountPaid.append(paid); amountReceived.append(received)
            payCurrency.append(pc); receiveCurrency.append(rc); format.append(f); label.append(lab)
            kept += 1
        }
        if !sawHeader || dataRow < 0 { throw RiskError.empty(path: path) }
        if kept == 0 {
            throw RiskError.noUsableRows(path: path, skipped: skips.total, firstReason: skips.examples.first ?? "")
        }
        return skips
    }

    private mutating func internAccount(_ r: CSVRow, bankField: Int, accountField: Int, key: inout [UInt8]) -> Int32 {
        let (bp, bn) = r.bytes(bankField), (ap, an) = r.bytes(accountField)
        return key.withUnsafeMutableBufferPointer { k in
            let base = k.baseAddress!
            base.update(from: bp, count: bn)
            base[bn] = 58 // ':'
            (base + bn + 1).update(from: ap, count: an)
            let before = accounts.count
            let id = accounts.intern(UnsafePointer(base), bn + 1 + an)
            if accounts.count > before { bankOfAccount.append(banks.intern(bp, bn)) }
            return id
        }
    }

    /// Loads one or more IBM AML CSV files into one table (later files are e.g. new transactions
    /// scored against the history in earlier ones). Prints nothing; returns the skip reports.
    public static func load(_ paths: [String]) throws -> (TransactionTable, [SkipReport]) {
        var t = TransactionTable()
        var reports: [SkipReport] = []
        for (i, p) in paths.enumerated() { reports.append(try t.append(csv: p, sourceIndex: UInt8(min(i, 255)))) }
        return (t, reports)
    }

    /// Amount paid in US dollars (approximate fixed rates).
    @inlinable public func usd(_ i: Int) -> Float {
        Float(amountPaid[i] / Currency.perUSD[Int(payCurrency[i])])
    }
}
