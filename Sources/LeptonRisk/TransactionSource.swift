import Foundation

/// Where a command's transactions come from: a CSV file (``TransactionFile``) or, through
/// LeptonRiskPostgres, a database table or query. Every source reads its rows through
/// ``TransactionIngest``, so a schema map, FX rates and the skip rules apply alike.
public protocol TransactionSource {
    /// Names the source in messages and skip reports (a path, or a URL without its password).
    var name: String { get }
    /// Appends the source's transactions to `table`, numbered `sourceIndex`.
    /// - Parameter progress: called with the bytes (or rows) read so far, for progress.
    func append(to table: inout TransactionTable, sourceIndex: UInt8, progress: ((Int) -> Void)?) throws -> SkipReport
}

/// A CSV file of transactions in the IBM AML layout or the layout a ``TransactionSchema`` maps,
/// with amounts converted by ``FXRates`` when given.
public struct TransactionFile: TransactionSource {
    public var path: String
    public var schema: TransactionSchema
    public var fx: FXRates?

    public init(_ path: String, schema: TransactionSchema = .ibm, fx: FXRates? = nil) {
        self.path = path; self.schema = schema; self.fx = fx
    }

    public var name: String { path }

    public func append(to table: inout TransactionTable, sourceIndex: UInt8, progress: ((Int) -> Void)?) throws -> SkipReport {
        try table.append(csv: path, schema: schema, fx: fx, sourceIndex: sourceIndex, progress: progress)
    }
}
