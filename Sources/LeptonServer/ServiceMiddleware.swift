import Crypto
import Foundation
import Hummingbird
import Logging

/// The outermost middleware: gives every response its `X-Request-Id` (the id in every log line of the
/// request), turns every error into a JSON answer, and logs one line per request (method, path,
/// status, milliseconds: never a body).
struct RequestEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as ServiceError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError {
            // Hummingbird's own (404 for an unknown route, 413 from a body collected with a limit…).
            let message = error.body ?? error.status.reasonPhrase.lowercased()
            response = try ServiceError(error.status, message, headers: error.headers).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            response = try ServiceError(error.status, error.status.reasonPhrase.lowercased()).response(from: request, context: context)
        } catch {
            // The type only: an error's text may hold a path or a caller's input.
            context.logger.error("unexpected error", metadata: ["error_type": "\(type(of: error))"])
            response = try ServiceError(.internalServerError, "internal error").response(from: request, context: context)
        }
        response.headers[.requestID] = context.id
        let took = (ContinuousClock.now - started).components
        let ms = Double(took.seconds) * 1000 + Double(took.attoseconds) / 1e15
        context.logger.info("request", metadata: [
            "method": "\(request.method)", "path": "\(request.uri.path)",
            "status": "\(response.status.code)", "ms": "\(String(format: "%.1f", ms))",
        ])
        return response
    }
}

/// A WebSocket's upgrade (101) carries the request id too (the id in its log lines): the upgrade
/// router's answer becomes the 101's headers.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.requestID] = context.id
        return response
    }
}

/// Every route but `/healthz` and the console's files (``ConsoleRoutes/paths``, which hold no
/// data) needs `Authorization: Bearer KEY` when the service has a key.
///
/// The comparison is of SHA-256 digests, whose `==` is constant-time (swift-crypto): the time taken
/// tells a caller neither the key's length nor how much of it they guessed.
struct BearerKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: Data?

    init(key: String?) { self.key = key.map { Data($0.utf8) } }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key, request.uri.path != "/healthz", !ConsoleRoutes.paths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        guard header.hasPrefix(prefix) else {
            throw ServiceError(.unauthorized, "missing API key: send Authorization: Bearer KEY", headers: [.wwwAuthenticate: "Bearer"])
        }
        guard SHA256.hash(data: Data(header.dropFirst(prefix.count).utf8)) == SHA256.hash(data: key) else {
            throw ServiceError(.unauthorized, "wrong API key", headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await next(request, context)
    }
}

/// While the models load, and while the service drains after SIGTERM, every route but `/healthz`
/// and the console's files answers 503 (with `Retry-After`) saying which: the page opens at once
/// and shows "loading models" for what it asks.
struct ReadinessMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Why the service cannot take a request now ("loading models", "shutting down"); nil: it can.
    let unready: @Sendable () -> String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let reason = unready(), request.uri.path != "/healthz", !ConsoleRoutes.paths.contains(request.uri.path) {
            throw ServiceError.unavailable(reason)
        }
        return try await next(request, context)
    }
}

extension HTTPFields.Element.Name {
    /// The request id header every answer carries.
    static let requestID = HTTPFields.Element.Name("X-Request-Id")!
}
