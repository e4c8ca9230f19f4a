import Foundation
import LeptonTestSupport
import XCTest

/// `lepton-risk` reading transactions from PostgreSQL and writing alerts to it (issue 23), against
/// the real throwaway server of scripts/with-postgres.sh (`LEPTON_TEST_POSTGRES_URL`). Tables are
/// loaded and read back with `psql` only; the reference scores are the CSV path's.
extension RiskProgramTests {
    /// `psql URL -At -c SQL` (stdin from `input` when given), failing the test on an error.
    func psql(_ url: String, _ sql: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["60", "psql", url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]
        p.currentDirectoryURL = Self.repoRoot
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, String(decoding: e, as: UTF8.self), file: file, line: line)
        return String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new empty database on the test cluster, as a URL.
    func freshRiskDatabase() throws -> String {
        guard let base = TestPostgres.url else { throw XCTSkip(TestPostgres.notRunning) }
        return try TestPostgres.freshDatabase(prefix: "risk", on: base)
    }

    /// The result lines of `score --json` (the summary line, which names the input, left out).
    func scoreLines(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [Substring] {
        let r = try risk(["score", "--model", Self.samples + "/model", "--json"] + arguments)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return Array(r.stdout.split(separator: "\n").dropFirst())
    }

    func testPostgresTablesInTheIBMLayoutScoreAsTheCSVWhateverTheirNamesAndTypes() throws {
        let db = try freshRiskDatabase()
        let csv = Self.samples + "/test.csv", history = Self.samples + "/train.csv"
        // Text columns with names of their own, and typed ones (timestamp, numeric, smallint).
        _ = try psql(db, "CREATE TABLE feed_text (a text, b text, c text, d text, e text, f text, g text, h text, i text, j text, k text)")
        _ = try psql(db, "\\copy feed_text FROM 'samples/risk/test.csv' CSV HEADER")
        _ = try psql(db, """
            CREATE TABLE feed_typed (booked timestamp, from_bank text, from_acct text, to_bank text, to_acct text,
                received double precision, received_cur text, paid numeric, paid_cur text, channel text, sar smallint)
            """)
        _ = try psql(db, "\\copy feed_typed FROM 'samples/risk/test.csv' CSV HEADER")
        XCTAssertEqual(try psql(db, "SELECT count(*) FROM feed_typed"), "1692")

        let reference = try scoreLines(["--transactions", csv, "--history", history])
        XCTAssertEqual(reference.count, 1692)
        XCTAssertEqual(try scoreLines(["--transactions", db + "?table=feed_text", "--history", history]), reference)
        XCTAssertEqual(try scoreLines(["--transactions", db + "?table=feed_typed", "--history", history]), reference)
        // A query (percent-encoded), in a defined order.
        let query = "SELECT * FROM feed_text ORDER BY ctid".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        XCTAssertEqual(try scoreLines(["--transactions", db + "?query=" + query, "--history", history]), reference)
    }

    func testPostgresTableInABankLayoutWithItsMap() throws {
        let db = try freshRiskDatabase()
        let export = tmp.appendingPathComponent("bank-\(UUID().uuidString).csv").path
        try Data(FeedSchemaTests.bankExport(try String(contentsOfFile: Self.samples + "/test.csv", encoding: .utf8)).utf8)
            .write(to: URL(fileURLWithPath: export))
        let map = tmp.appendingPathComponent("map-\(UUID().uuidString).yml").path
        try Data(FeedSchemaTests.map.utf8).write(to: URL(fileURLWithPath: map))
        _ = try psql(db, """
            CREATE TABLE bank ("Booking Time" text, "Channel" text, "Debtor Account" text, "Debtor Bank" text, "Amount" numeric,
                "Currency" text, "Creditor Bank" text, "Creditor Account" text, "Credited Amount" numeric, "Credited Currency" text, "SAR" integer)
            """)
        _ = try psql(db, "\\copy bank FROM '\(export)' CSV HEADER DELIMITER ';'")
        let reference = try scoreLines(["--transactions", Self.samples + "/test.csv"])
        XCTAssertEqual(try scoreLines(["--transactions", db + "?table=bank", "--schema", map]), reference)
        // The same map reads the export file itself.
        XCTAssertEqual(try scoreLines(["--transactions", export, "--schema", map]), reference)
    }

    func testAlertsToPostgresAreIdempotentAndMatchTheFlaggedLines() throws {
        let db = try freshRiskDatabase()
        // A password in the URL (the test cluster trusts loopback) must never be printed.
        var c = URLComponents(string: db)!
        c.password = "s3cret-pw"
        let target = c.string! + "?table=alerts"
        let args = ["score", "--model", Self.samples + "/model", "--transactions", Self.samples + "/test.csv",
                    "--history", Self.samples + "/train.csv", "--threshold", "0.2", "--json", "--alerts-to", target]
        let first = try risk(args)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertFalse(first.stdout.contains("s3cret") || first.stderr.contains("s3cret"), first.stderr)
        let lines = first.stdout.split(separator: "\n")
        let head = try json(lines[0])
        let flagged = try lines.dropFirst().map { try json($0) }.filter { $0["flagged"] as? Bool == true }
        XCTAssertGreaterThan(flagged.count, 5)
        XCTAssertEqual(head["alerts_written"] as? Int, flagged.count)
        XCTAssertEqual(try psql(db, "SELECT count(*) FROM alerts"), "\(flagged.count)")
        // Re-running the day updates the same rows instead of adding them again.
        let again = try risk(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try psql(db, "SELECT count(*) FROM alerts"), "\(flagged.count)")
        XCTAssertEqual(try psql(db, "SELECT count(DISTINCT tx_key) FROM alerts"), "\(flagged.count)")
        // What the table holds is what score printed: row, score, accounts, and the model's hash.
        let model = try XCTUnwrap(head["model"] as? [String: Any])
        let sha = try XCTUnwrap(model["sha256"] as? String)
        XCTAssertEqual(try psql(db, "SELECT count(*) FROM alerts WHERE model LIKE '%\(sha)%'"), "\(flagged.count)")
        let stored = try psql(db, "SELECT row_index || ',' || score || ',' || from_account || ',' || to_account FROM alerts ORDER BY row_index")
            .split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let printed = flagged.sorted { ($0["row"] as! Int) < ($1["row"] as! Int) }
        XCTAssertEqual(stored.count, printed.count)
        for (db, js) in zip(stored, printed) {
            XCTAssertEqual(Int(db[0]), js["row"] as? Int)
            XCTAssertEqual(Double(db[1]) ?? -1, (js["score"] as! NSNumber).doubleValue, accuracy: 1e-6)   // printed to 6 digits
            XCTAssertEqual(db[2], js["from"] as? String)
            XCTAssertEqual(db[3], js["to"] as? String)
        }
        // A second model's alerts for the same transfers are rows of their own (the key is model + transfer).
        _ = try psql(db, "UPDATE alerts SET model = 'older-model'")
        XCTAssertEqual(try risk(args).status, 0)
        XCTAssertEqual(try psql(db, "SELECT count(*) FROM alerts"), "\(2 * flagged.count)")
    }

    /// The server ends the connection in the middle of writing alerts (a trigger on the table calls
    /// `pg_terminate_backend` on its own session, as a restart or failover would): one line naming
    /// the server's reason and exit 1, not a program waiting forever for its ROLLBACK on the closed
    /// connection (postgres-nio 1.33 never fails a query written to a closed connection).
    func testConnectionDroppedWhileWritingAlertsIsOneLineNotAHang() throws {
        let db = try freshRiskDatabase()
        _ = try psql(db, """
            CREATE TABLE alerts (
                model text NOT NULL, tx_key text NOT NULL, row_index integer NOT NULL, source text NOT NULL,
                tx_time timestamp NOT NULL, from_account text NOT NULL, to_account text NOT NULL,
                amount double precision NOT NULL, currency text NOT NULL, amount_usd double precision NOT NULL,
                payment_format text NOT NULL, score double precision NOT NULL, threshold double precision NOT NULL,
                typologies text NOT NULL, label smallint, written_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (model, tx_key));
            CREATE FUNCTION drop_the_writer() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$;
            CREATE TRIGGER drop_the_writer BEFORE INSERT ON alerts FOR EACH STATEMENT EXECUTE FUNCTION drop_the_writer();
            """)
        let r = try risk(["score", "--model", Self.samples + "/model", "--transactions", Self.samples + "/test.csv",
                          "--history", Self.samples + "/train.csv", "--threshold", "0.2", "--alerts-to", db + "?table=alerts"],
                         timeout: 120)
        XCTAssertNotEqual(r.status, 124, "lepton-risk still waited 120 s after the server dropped its connection")
        assertOneLineError(r, status: 1, contains: "terminating connection")
        XCTAssertEqual(try psql(db, "SELECT count(*) FROM alerts"), "0")
    }

    func testBadPostgresURLsAndAnUnreachableServerGiveOneLineWithoutThePassword() throws {
        let m = Self.samples + "/model"
        for (url, fragment) in [("postgresql://u:pw9@127.0.0.1:1/db", "exactly one of ?table"),
                                ("postgresql://u:pw9@127.0.0.1:1/db?table=a;drop", "table must be a plain name"),
                                ("postgresql://u:pw9@127.0.0.1:1/db?table=t&x=1", "unknown parameter ?x="),
                                ("postgresql://u:pw9@127.0.0.1:1/db?table=t", "cannot connect")] {
            let r = try risk(["score", "--model", m, "--transactions", url])
            assertOneLineError(r, status: 1, contains: fragment)
            XCTAssertFalse(r.stderr.contains("pw9"), r.stderr)
        }
        let r = try risk(["score", "--model", m, "--transactions", Self.samples + "/test.csv",
                          "--alerts-to", "postgresql://u:pw9@127.0.0.1:1/db?query=SELECT%201"])
        assertOneLineError(r, status: 1, contains: "give ?table=NAME")
        for (query, fragment) in [("sslmode=sometimes", "sslmode must be one of"),
                                  ("sslmode=require&sslrootcert=/x.pem", "sslrootcert is used only with")] {
            let r = try risk(["score", "--model", m, "--transactions", "postgresql://u:pw9@127.0.0.1:1/db?table=t&\(query)"])
            assertOneLineError(r, status: 1, contains: fragment)
        }
    }

    /// TLS with libpq's names: `sslmode=verify-full` with the test cluster's certificate reads
    /// the table (the same lines as the CSV); the same URL with a certificate of another
    /// authority (made here by openssl) is refused with one line, before anything is read.
    func testVerifiedTLSFeedAndAForeignAuthorityRefused() throws {
        guard let ca = TestPostgres.certificateAuthority else { throw XCTSkip(TestPostgres.notRunning) }
        let db = try freshRiskDatabase()
        _ = try psql(db, "CREATE TABLE feed (a text, b text, c text, d text, e text, f text, g text, h text, i text, j text, k text)")
        _ = try psql(db, "\\copy feed FROM 'samples/risk/test.csv' CSV HEADER")
        let verified = db.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "?table=feed&sslmode=verify-full&sslrootcert=" + ca
        let reference = try scoreLines(["--transactions", Self.samples + "/test.csv"])
        XCTAssertEqual(try scoreLines(["--transactions", verified]), reference)

        let foreign = FileManager.default.temporaryDirectory.appendingPathComponent("foreign-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: foreign) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", foreign.appendingPathComponent("k.pem").path,
                       "-out", foreign.appendingPathComponent("ca.pem").path, "-days", "1", "-subj", "/CN=localhost"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let wrong = verified.replacingOccurrences(of: ca, with: foreign.appendingPathComponent("ca.pem").path)
        let r = try risk(["score", "--model", Self.samples + "/model", "--transactions", wrong])
        assertOneLineError(r, status: 1, contains: "TLS")
        XCTAssertTrue(r.stdout.isEmpty, r.stdout)
    }
}
