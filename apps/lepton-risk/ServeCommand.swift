import ArgumentParser
import Foundation
import Hummingbird
import LeptonCLI
import LeptonEngine
import LeptonRisk
import LeptonRiskPostgres
import LeptonServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve scores and explanations over HTTP with the model loaded once.",
        discussion: """
        The model is loaded once; a body is a transactions CSV (as `score` reads: with \
        --schema and --fx, in the bank's own layout; gzip bodies are inflated).
          POST /v1/score           the lines of `score --json` (application/x-ndjson)
              ?accounts=1          rank accounts instead of transactions
              ?top=N               only the N highest
              ?threshold=F         only scores at or above F (also the `flagged` cut)
              ?budget=F            only the highest fraction F (--top ceil(F x count))
          POST /v1/explain?row=N   the object of `explain --json` (or ?id=ACCOUNT)
          GET /                    the alert queue page (a browser console)
          GET /healthz, /metrics, /openapi.json   (openapi/lepton-risk.json)
        Rows that cannot be read are counted in the summary line's `skipped`. With --history \
        every request is scored with that file's earlier transactions as context. Errors are \
        JSON {"error": "..."}: 400 unusable body or parameter, 401 no or wrong key \
        (--api-key-file), 413 body above --max-body-mb, 503 + Retry-After while loading or \
        with --queue requests waiting, 504 after --timeout.

        Runs until SIGTERM or Ctrl-C; `listening on http://HOST:PORT` says it is ready:
          $ lepton-risk serve --model samples/risk/model --port 8080
          $ curl -s --data-binary @samples/risk/test.csv \\
              'http://127.0.0.1:8080/v1/score?top=3'
        """)

    @Option(help: "Model folder written by `train` (a transaction model).") var model: String
    @Option(help: "Earlier transactions used as context for every request (e.g. the training file).") var history: String?
    @OptionGroup var feed: FeedOptions
    @OptionGroup var serve: ServeOptions
    @OptionGroup var common: CommonOptions

    /// What every request uses: the model, its identity, the context file and how to read bodies.
    struct Loaded: Sendable {
        var model: TransactionModel
        var identity: ModelIdentity
        var history: String?
        var reader: FeedReader

        /// The body (a temporary file) scored with the context file.
        func scored(_ file: URL) throws -> ScoredTransactions {
            try ScoredTransactions(model: model, input: reader.source(file.path), history: try history.map { try reader.source($0, option: "--history") })
        }
    }

    func run() throws {
        try runRisk(common) {
            let dir = URL(fileURLWithPath: model)
            let history = self.history
            if let history, !PostgresFeed.isURL(history), !FileManager.default.isReadableFile(atPath: history) {
                throw CLIFailure.input("--history \(history): no such file")
            }
            let reader = try feed.reader()
            let service = try ModelService<Loaded>(program: "lepton-risk", options: serve, threads: common.threads)
            try service.run(models: ["risk"], load: {
                guard try NodeModel.kind(of: dir) == "transactions" else {
                    throw CLIFailure.input("\(dir.path): serve scores transaction models; this one scores a graph")
                }
                let m = try TransactionModel.load(from: dir)
                return Loaded(model: m, identity: try modelIdentity(dir), history: history, reader: reader)
            }, console: .alertQueue) { router in
                router.post("/v1/score") { request, _ -> Response in
                    let query = try ScoreQuery(request)
                    let body = try await service.body(request)
                    let lines = try await service.work { loaded in try riskErrors { try query.lines(body, loaded) } }
                    return .json(lines.joined(separator: "\n"), contentType: "application/x-ndjson")
                }
                router.post("/v1/explain") { request, _ -> Response in
                    let row = try RequestInput.query(request, "row", as: Int.self)
                    let id = try row.map { String($0) } ?? RequestInput.query(request, "id", as: String.self)
                    guard let id else { throw ServiceError.badRequest("give ?row=N (a 0-based data row of the body) or ?id=ACCOUNT") }
                    let body = try await service.body(request)
                    let json = try await service.work { loaded in
                        try riskErrors {
                            try RequestInput.withTemporaryFile(body, suffix: ".csv") { file in
                                let s = try loaded.scored(file)
                                var ledger = SkipLedger()
                                if let h = loaded.history { ledger.add(h, s.historySkips) }
                                ledger.add("body", s.skips)
                                return try explanationJSON(try Explanation(scored: s, model: loaded.model, id: id), model: loaded.identity, skipped: ledger)
                            }
                        }
                    }
                    return .json(json)
                }
            }
        }
    }
}

/// The parameters of `POST /v1/score`, read before the body.
private struct ScoreQuery: Sendable {
    var accounts: Bool
    var top: Int?
    var threshold: Float?
    var budget: Double?

    init(_ request: Request) throws {
        accounts = try RequestInput.flag(request, "accounts")
        top = try RequestInput.query(request, "top")
        threshold = try RequestInput.query(request, "threshold")
        budget = try RequestInput.query(request, "budget")
        if let top, top < 1 { throw ServiceError.badRequest("query parameter top must be at least 1, got \(top)") }
        if let threshold, !threshold.isFinite { throw ServiceError.badRequest("query parameter threshold must be a number") }
        if let budget { guard budget > 0 && budget <= 1 else { throw ServiceError.badRequest("query parameter budget must be in (0, 1], got \(budget)") } }
        if top != nil && budget != nil { throw ServiceError.badRequest("give top or budget, not both") }
    }

    /// `score --json`'s lines for the CSV `body` (the summary names the input `body`).
    func lines(_ body: ByteBuffer, _ loaded: ServeCommand.Loaded) throws -> [String] {
        try RequestInput.withTemporaryFile(body, suffix: ".csv") { file in
            let s = try loaded.scored(file)
            var ledger = SkipLedger()
            if let h = loaded.history { ledger.add(h, s.historySkips) }
            ledger.add("body", s.skips)
            let cut = threshold ?? loaded.model.config.threshold
            let count = accounts ? s.accountScores().count : s.inputRows.count
            let k = budget.map { budgetCount($0, of: count) } ?? top
            let summary = ScoreCommand.Summary(model: loaded.identity, input: "body", scored: s.inputRows.count,
                                               historyRows: loaded.history == nil ? nil : s.historyRows, threshold: cut, skipped: ledger.json)
            return [try jsonLine(summary)]
                + transactionResultLines(s, model: loaded.model, cut: cut, accounts: accounts, top: k, threshold: threshold, shard: nil, json: true)
        }
    }
}

/// The one place risk errors become HTTP answers: the library's refusals of the input (a bad header,
/// no usable row, an unknown row) are 400 naming the problem, with the temporary file's name
/// replaced by `body`; anything else passes on (a 500 without details).
private func riskErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as RiskError {
        let message = e.description.replacingOccurrences(of: #"/[^ :]*/lepton-[0-9A-F-]+\.csv"#, with: "body", options: .regularExpression)
        switch e {
        case .badModel: throw e
        default: throw ServiceError.badRequest(message)
        }
    }
}
