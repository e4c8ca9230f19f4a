import Foundation
import Hummingbird
import LeptonCLI

/// An error a route answers with: its status and a JSON body `{"error": "…"}` naming the problem.
///
/// Thrown by the routes, the middleware and the worker pool; the request middleware turns any other
/// error into a 500 whose body says nothing about the process's internals.
public struct ServiceError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// What the client sees (and the log line): one line, naming the problem.
    public let message: String
    /// Extra headers (`Retry-After` on 503, `WWW-Authenticate` on 401).
    public let headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: "; ")
        self.headers = headers
    }

    public var description: String { "\(status.code) \(message)" }

    /// 400: the request's body or parameters cannot be used.
    public static func badRequest(_ message: String) -> ServiceError { ServiceError(.badRequest, message) }
    /// 503 with `Retry-After`: the service cannot take the request now (loading, queue full, shutting down).
    public static func unavailable(_ message: String, retryAfter seconds: Int = 1) -> ServiceError {
        ServiceError(.serviceUnavailable, message, headers: [.retryAfter: String(seconds)])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response.json(status: status, "{\"error\":\(jsonString(message))}", headers: headers)
    }
}

extension Response {
    /// A response whose body is the text `json` and a newline (as the CLI prints it).
    public static func json(status: HTTPResponse.Status = .ok, _ json: String, headers: HTTPFields = [:],
                            contentType: String = "application/json") -> Response {
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: json + "\n")))
    }
}
