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
    /// Amount paid in US dollars, converted when the row was read (fixed rates or `--fx`).
    public var amountUSD: [Float] = []
    public var payCurrency: [UInt8] = []
    public var receiveCurrency: [UInt8] = []
    public var format: [UInt8] = []
    /// Names of the `payCurrency` / `receiveCurrency` indices: the IBM currencies, then any
    /// further ISO codes that FX rates made readable.
    public var currencyNames: [String] = Currency.names
    /// Names of the `format` indices: the IBM payment formats, then the bank's own payment
    /// types in order of first appearance (each a category of its own).
    public var formatNames: [String] = PaymentFormat.names
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

    /// Appends every valid row of the CSV at `path` (the IBM AML layout, or the layout `schema`
    /// maps), streamed; amounts are put in US dollars with `fx` when given (else the fixed rates).
    ///
    /// Bad rows are skipped and counted in the returned report (see ``TransactionIngest``).
    /// Currencies are the IBM names or ISO 4217 codes.
    /// - Parameter progress: called with the bytes read so far, once per chunk (4 MiB).
    /// - Throws: `RiskError.empty` for a file without data rows, `.badHeader`, `.noUsableRows`
    ///   when every row was bad, `.unreadable` on I/O errors.
    @discardableResult
    public mutating func append(csv path: String, schema: TransactionSchema = .ibm, fx: FXRates? = nil, sourceIndex: UInt8 = 0,
                                progress: ((Int) -> Void)? = nil) throws -> SkipReport {
        var ingest: TransactionIngest?
        if !schema.header { ingest = try TransactionIngest(schema: schema, fx: fx, source: path, sourceIndex: sourceIndex, header: nil) }
        var sawRow = false
        try CSVStream(path: path, maxFields: schema.isIBM ? 16 : 256, delimiter: schema.delimiter).forEachRow(progress: progress) { r in
            sawRow = true
            if ingest == nil {
                let found = (0..<r.count).map { r.string($0).trimmingCharacters(in: .whitespaces) }
                if schema.isIBM && (found.count < 10 || found[0].lowercased() != "timestamp" || !found[1].lowercased().contains("bank")) {
                    throw RiskError.badHeader(path: path, expected: Self.header, found: found.joined(separator: ","))
                }
                ingest = try TransactionIngest(schema: schema, fx: fx, source: path, sourceIndex: sourceIndex, header: found)
                return
            }
            ingest!.add(r, to: &self)
        }
        guard sawRow, let ingest else { throw RiskError.empty(path: path) }
        return try ingest.finish()
    }

    mutating func internAccount(_ r: CSVRow, bankField: Int, accountField: Int, key: inout [UInt8]) -> Int32 {
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
    public static func load(_ paths: [String], schema: TransactionSchema = .ibm, fx: FXRates? = nil) throws -> (TransactionTable, [SkipReport]) {
        var t = TransactionTable()
        var reports: [SkipReport] = []
        for (i, p) in paths.enumerated() { reports.append(try t.append(csv: p, schema: schema, fx: fx, sourceIndex: UInt8(min(i, 255)))) }
        return (t, reports)
    }

    /// Amount paid in US dollars (the fixed rates of ``Currency/perUSD``, or the `--fx` file's).
    @inlinable public func usd(_ i: Int) -> Float { amountUSD[i] }

    /// Name of a currency index (an IBM name, or the ISO code of a currency the FX rates added).
    public func currencyName(_ index: UInt8) -> String { currencyNames[Int(index)] }

    /// Name of a payment-format index (an IBM format, or a bank's own payment type).
    public func formatName(_ index: UInt8) -> String { formatNames[Int(index)] }
}
