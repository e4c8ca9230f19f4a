import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import LeptonCLI
import LeptonEngine
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// A program's resident HTTP service: the plumbing the three `serve` commands share.
///
/// `run` binds first and answers `GET /healthz` 503 `{"status":"loading"}` (every other route 503)
/// while `load` reads the models on a worker thread; once loaded it answers 200 `{"status":"ok"}`
/// and prints `listening on http://HOST:PORT` on stderr (the port taken with `--port 0`). Every
/// service also has `GET /metrics` (Prometheus text), `GET /openapi.json` (the program's document
/// in `openapi/`), an `X-Request-Id` on every answer, optional bearer-key auth, a body limit (413),
/// JSON errors, a bounded worker pool with a per-request timeout (``WorkerPool``), and a graceful
/// shutdown on SIGTERM or SIGINT: first the WebSocket routes' drain (``WebSocketRoutes/drain``;
/// `/healthz` and new requests answer 503 `draining` meanwhile), then stop accepting and finish
/// the requests in flight; a second signal skips what is left of the drain. With a
/// ``ConsolePage`` it also serves the program's web console at `/` (without the key).
///
/// The program adds its routes in `routes`; they read their input with ``body(_:)`` and run model
/// work with ``work(_:)``, which hands it to the worker pool with the loaded models.
public final class ModelService<Models: Sendable>: Sendable {
    /// The program's name (`lepton-risk`), for logs, errors and the OpenAPI file name.
    public let program: String
    public let options: ServeOptions
    /// The threads model work runs on.
    public let workers: WorkerPool
    private let apiKey: String?
    private let loaded = Locked<Models?>(nil)
    private let registry = PrometheusCollectorRegistry()

    /// Reads the API key (an error before anything binds) and starts the worker threads.
    /// - Parameter threads: the program's `--threads`, the default number of workers.
    public init(program: String, options: ServeOptions, threads: Int) throws {
        self.program = program
        self.options = options
        apiKey = try options.apiKey()
        // Before any metric is made (the worker pool's queue gauge): one registry per process.
        var factory = PrometheusMetricsFactory(registry: registry)
        // Prometheus names allow [a-zA-Z0-9_:]; Hummingbird's labels use dots ("http.route").
        factory.nameAndLabelSanitizer = { label, dimensions in
            (Self.prometheusName(label), dimensions.map { (Self.prometheusName($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        workers = WorkerPool(workers: options.workers ?? threads, capacity: options.queue, timeoutSeconds: options.timeout)
        // Requests run side by side on the workers, each on one thread (and one BLAS thread):
        // splitting one short request's ops across threads while other requests wait costs far
        // more than it saves. Measured with 8 clients of typed chat turns on 2 cores: 34 turns/s,
        // p99 497 ms with each request on 2 threads; 191 turns/s, p99 71 ms with 1.
        EngineThreads.set(1)
    }

    /// The loaded models (503 while they load).
    public func models() throws -> Models {
        guard let m = loaded.value else { throw ServiceError.unavailable("loading models") }
        return m
    }

    /// The request's whole body, at most `--max-body-mb` (413 beyond).
    public func body(_ request: Request) async throws -> ByteBuffer {
        let limit = options.maxBodyBytes
        let tooLarge = ServiceError(.contentTooLarge, "request body larger than \(Self.megabytes(limit)) MB (--max-body-mb)")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        do { return try await request.body.collect(upTo: limit) } catch let e as HTTPError where e.status == .contentTooLarge {
            throw tooLarge
        }
    }

    /// Runs `body` with the loaded models on a worker thread (see ``WorkerPool/run(_:)``).
    public func work<T: Sendable>(_ body: @escaping @Sendable (Models) throws -> T) async throws -> T {
        let models = try models()
        return try await workers.run { try body(models) }
    }

    /// Runs the service until SIGTERM or SIGINT; blocks the calling thread.
    ///
    /// - Parameters:
    ///   - models: names of the models `load` loads (the `lepton_model_loaded` gauge, one per name).
    ///   - load: reads the models (on a worker thread, after the port is bound).
    ///   - console: the program's web console, served at `/` with the shared files under
    ///     `/console/` (see ``ConsolePage``); nil: no page.
    ///   - webSockets: routes that upgrade to a WebSocket (see ``WebSocketRoutes``); nil: none.
    ///   - routes: adds the program's routes.
    /// - Throws: `CLIFailure.input` when the address cannot be bound or the models cannot be loaded.
    public func run(models names: [String], load: @escaping @Sendable () throws -> Models,
                    console: ConsolePage? = nil, webSockets: WebSocketRoutes? = nil,
                    routes: (Router<BasicRequestContext>) -> Void) throws {
        let logger = bootstrapLogging()
        let registry = self.registry
        let gauges = names.map { Gauge(label: "lepton_model_loaded", dimensions: [("model", $0)]) }
        gauges.forEach { $0.record(0) }

        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestEnvelopeMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: BearerKeyMiddleware(key: apiKey))
        let drainingFlag = Locked<Bool>(false)
        let unready: @Sendable () -> String? = { [loaded] in
            loaded.value == nil ? "loading models" : drainingFlag.value ? "the service is shutting down" : nil
        }
        router.add(middleware: ReadinessMiddleware(unready: unready))
        router.get("/healthz") { [loaded] _, _ -> Response in
            if drainingFlag.value { return .json(status: .serviceUnavailable, "{\"status\":\"draining\"}", headers: [.retryAfter: "1"]) }
            return loaded.value != nil ? .json("{\"status\":\"ok\"}")
                : .json(status: .serviceUnavailable, "{\"status\":\"loading\"}", headers: [.retryAfter: "1"])
        }
        router.get("/metrics") { _, _ -> Response in
            var fields = HTTPFields()
            fields[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: registry.emitToString())))
        }
        let openAPI = OpenAPIDocument.find(program: program)
        if openAPI == nil { logger.warning("openapi/\(program).json not found: GET /openapi.json answers 404") }
        router.get("/openapi.json") { _, _ -> Response in
            guard let openAPI else { throw ServiceError(.notFound, "openapi/\(self.program).json was not found next to the program") }
            return .json(openAPI)
        }
        if let console { ConsoleRoutes.add(console, to: router) }
        routes(router)

        let failure = Locked<String?>(nil)
        let groupBox = Locked<ServiceGroup?>(nil)
        let host = options.host
        var server = HTTPServerBuilder.http1()
        if let webSockets {
            // The upgrade is asked of a router of its own. One it refuses (no key, still loading)
            // goes on to the HTTP router as a plain request, which answers it as every route does.
            let upgrades = Router(context: BasicWebSocketRequestContext.self)
            upgrades.add(middleware: RequestIDMiddleware())
            upgrades.add(middleware: BearerKeyMiddleware(key: apiKey))
            upgrades.add(middleware: ReadinessMiddleware(unready: unready))
            webSockets.add(upgrades)
            server = .http1WebSocketUpgrade(webSocketRouter: upgrades, configuration: .init(ws: .init(maxFrameSize: webSockets.maxFrameSize)))
        }
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(host, port: options.port), serverName: nil),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? options.port
                logger.info("loading models; http://\(host.contains(":") ? "[\(host)]" : host):\(port)/healthz answers 503 until they are ready")
                // Hummingbird accepts connections only once this closure returns: load in a task of
                // its own, so /healthz answers (503) meanwhile.
                Task {
                    do {
                        let models = try await workers.load(load)
                        loaded.value = models
                        gauges.forEach { $0.record(1) }
                        announce("listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)", logger: logger)
                    } catch {
                        failure.value = describe(error)
                        await groupBox.value?.triggerGracefulShutdown()
                    }
                }
            },
            logger: logger)
        // The signals are this service's own, not the group's: the drain comes before the server
        // stops accepting (a stream's client must get its finals and a 1001, not a bare 1000).
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        groupBox.value = group
        let pool = workers
        let drain = webSockets?.drain
        try Self.blocking {
            let signals = Task {
                var draining: Task<Void, Never>?
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    if let draining {
                        logger.info("\(signal) again: stopping without waiting for the drain")
                        draining.cancel()
                        await group.triggerGracefulShutdown()
                        continue
                    }
                    drainingFlag.value = true
                    draining = Task {
                        if let drain {
                            logger.info("\(signal): draining the open streams, then stopping")
                            await drain()
                        }
                        await group.triggerGracefulShutdown()
                    }
                }
            }
            defer { signals.cancel() }
            do { try await group.run() } catch {
                throw CLIFailure.input("cannot serve on \(host):\(self.options.port): \(describe(error))")
            }
            await pool.shutdown()
        }
        if let message = failure.value { throw CLIFailure.input(message) }
    }

    /// Sets swift-log's handler from `--log-format` and the level from `-q`/`-v` (as ``Log/level``).
    private func bootstrapLogging() -> Logger {
        let level: Logger.Level = switch Log.level { case .error: .error; case .info: .info; case .debug: .debug }
        let format = options.logFormat
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        // The libraries' own progress lines are plain text: in JSON mode only their errors pass.
        if format == .json { Log.level = .error }
        return Logger(label: program)
    }

    /// The ready line, whatever the log level (tests and scripts wait for it).
    private func announce(_ line: String, logger: Logger) {
        if options.logFormat == .json {
            JSONLogHandler.write(["time": JSONLogHandler.timestamp(), "level": "info", "logger": program, "message": line])
        } else {
            Log.error(line)
        }
    }

    static func prometheusName(_ s: String) -> String {
        String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
    }

    static func megabytes(_ bytes: Int) -> String {
        let mb = Double(bytes) / 1_048_576
        return mb == mb.rounded() ? String(Int(mb)) : String(format: "%.3g", mb)
    }

    /// Runs async `body` from a synchronous command's `run()` and waits for it (the main thread is
    /// not one of Swift concurrency's threads, so blocking it starves nothing).
    static func blocking(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Locked<Result<Void, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let r: Result<Void, Error>
            do { try await body(); r = .success(()) } catch { r = .failure(error) }
            outcome.value = r
            done.signal()
        }
        done.wait()
        try outcome.value!.get()
    }
}

/// A program's WebSocket routes: added to the router that decides upgrades (`router.ws(path)`),
/// behind the same key and readiness checks as the HTTP routes. A frame above `maxFrameSize` bytes
/// closes the connection (1009) before the route sees it.
public struct WebSocketRoutes {
    public var maxFrameSize: Int
    /// Run on the first SIGTERM or SIGINT, before the server stops accepting: ends the open
    /// connections the route's own way and returns when they are closed or its time is up (it
    /// bounds itself; cancelled by a second signal). Without it the library closes them with 1000.
    public var drain: (@Sendable () async -> Void)?
    public var add: (Router<BasicWebSocketRequestContext>) -> Void

    public init(maxFrameSize: Int, drain: (@Sendable () async -> Void)? = nil, add: @escaping (Router<BasicWebSocketRequestContext>) -> Void) {
        self.maxFrameSize = maxFrameSize
        self.drain = drain
        self.add = add
    }
}

/// Finds a program's OpenAPI document, `openapi/PROGRAM.json`, in the folder of the executable or
/// one of its parents (the repository, for `.build/release/PROGRAM`), or the current folder's;
/// `$LEPTON_OPENAPI_DIR` names the folder explicitly.
enum OpenAPIDocument {
    static func find(program: String) -> String? {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["LEPTON_OPENAPI_DIR"], !dir.isEmpty {
            candidates.append(URL(fileURLWithPath: dir).appendingPathComponent("\(program).json"))
        }
        var starts: [URL] = []
        if let exe = Bundle.main.executableURL { starts.append(exe.resolvingSymlinksInPath().deletingLastPathComponent()) }
        starts.append(URL(fileURLWithPath: fm.currentDirectoryPath))
        for start in starts {
            var dir = start
            for _ in 0..<6 {
                candidates.append(dir.appendingPathComponent("openapi/\(program).json"))
                dir = dir.deletingLastPathComponent()
            }
        }
        for c in candidates {
            if let data = fm.contents(atPath: c.path) { return String(decoding: data, as: UTF8.self) }
        }
        return nil
    }
}

/// A value shared between threads behind a lock (a `Mutex` that closures can capture).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
