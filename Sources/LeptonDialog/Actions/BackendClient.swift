import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LeptonText
import Synchronization

/// Sends action requests to a domain's backend and reads its answers.
///
/// A request is a JSON ``ActionRequest`` POSTed with
/// - `X-Lepton-Timestamp`: seconds since 1970, and
/// - `X-Lepton-Signature: sha256=HEX`: HMAC-SHA256 with the action's key over `TIMESTAMP.BODY`,
///
/// so the backend can refuse a forged request, and a replayed one by its old timestamp (or a
/// signature it has seen); `Idempotency-Key` repeats the body's key for proxies that route on it.
/// The call blocks its thread until the answer or the action's timeout, whichever comes first
/// (a turn runs on a worker thread). Redirects are not followed, cookies and caches are not kept.
public final class BackendClient: Sendable {
    private let session: URLSession
    /// Longest answer read; a longer one is a failure.
    public static let maxAnswerBytes = 64 * 1024

    public init() {
        let config = URLSessionConfiguration.ephemeral
        config.httpCookieStorage = nil
        config.httpShouldSetCookies = false
        config.urlCache = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: config, delegate: RefuseRedirects(), delegateQueue: nil)
    }

    deinit { session.finishTasksAndInvalidate() }

    /// The signature header's value for `body` sent at `timestamp`: `sha256=` and 64 hex digits.
    public static func signature(body: Data, timestamp: String, key: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + body, using: SymmetricKey(data: key))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Requests `request` from `endpoint` and says how it went; never throws and never waits
    /// longer than the endpoint's timeout.
    public func perform(_ request: ActionRequest, at endpoint: Domain.BackendAction.Endpoint, now: Date = Date()) -> ActionOutcome {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let body = try? encoder.encode(request) else { return .failed("the request could not be encoded") }
        let timestamp = String(Int(now.timeIntervalSince1970))
        var http = URLRequest(url: endpoint.url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: endpoint.timeout)
        http.httpMethod = "POST"
        http.httpBody = body
        http.setValue("application/json", forHTTPHeaderField: "Content-Type")
        http.setValue("application/json", forHTTPHeaderField: "Accept")
        http.setValue(timestamp, forHTTPHeaderField: "X-Lepton-Timestamp")
        http.setValue(BackendClient.signature(body: body, timestamp: timestamp, key: endpoint.key), forHTTPHeaderField: "X-Lepton-Signature")
        http.setValue(request.idempotencyKey, forHTTPHeaderField: "Idempotency-Key")

        let answer = AnswerBox()
        let task = session.dataTask(with: http) { data, response, error in
            let status = (response as? HTTPURLResponse)?.statusCode
            answer.set(Answer(status: status, body: data, error: error.map(BackendClient.describe)))
        }
        task.resume()
        guard answer.wait(seconds: endpoint.timeout) else {
            task.cancel()
            return .failed("no answer within \(endpoint.timeout) s")
        }
        return BackendClient.outcome(of: answer.value ?? Answer(status: nil, body: nil, error: "no answer"))
    }

    /// The outcome an answer means: only a 2xx JSON object whose `status` is `confirmed` or
    /// `refused` is believed; anything else is a failure naming what was wrong.
    static func outcome(of answer: Answer) -> ActionOutcome {
        if let error = answer.error { return .failed(error) }
        guard let status = answer.status else { return .failed("no HTTP status") }
        guard (200..<300).contains(status) else { return .failed("HTTP \(status)") }
        guard let body = answer.body, body.count <= maxAnswerBytes else { return .failed("an empty or oversized answer") }
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let said = object["status"] as? String else { return .failed("an answer that is not {\"status\": ...} JSON") }
        switch said {
        case "confirmed": return .confirmed
        case "refused": return .refused(reason: (object["reason"] as? String).flatMap(cleanReason))
        default: return .failed("an unknown status")
        }
    }

    /// A backend's reason as it may be said to a caller: one line of at most 160 characters,
    /// long digit runs masked; nil when nothing is left.
    static func cleanReason(_ text: String) -> String? {
        let line = String(String.UnicodeScalarView(text.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }))
        let cut = maskNumbersInText(String(line.prefix(160))).trimmingCharacters(in: .whitespaces.union(.punctuationCharacters))
        return cut.isEmpty ? nil : cut
    }

    private static func describe(_ error: any Error) -> String {
        guard let e = error as? URLError else { return "the request failed" }
        switch e.code {
        case .timedOut: return "timed out"
        case .cannotConnectToHost, .networkConnectionLost, .notConnectedToInternet: return "cannot connect"
        case .cannotFindHost, .dnsLookupFailed: return "unknown host"
        case .cancelled: return "cancelled"
        default: return "network error \(e.code.rawValue)"
        }
    }

    /// What came back, reduced to Sendable values inside URLSession's callback.
    struct Answer: Sendable {
        var status: Int?
        var body: Data?
        var error: String?
    }

    /// The callback's answer and a semaphore the waiting turn blocks on.
    private final class AnswerBox: Sendable {
        private let slot = Mutex<Answer?>(nil)
        private let ready = DispatchSemaphore(value: 0)
        func set(_ a: Answer) { slot.withLock { $0 = a }; ready.signal() }
        func wait(seconds: Double) -> Bool { ready.wait(timeout: .now() + seconds) == .success }
        var value: Answer? { slot.withLock { $0 } }
    }

    /// A signed request goes to the URL the domain names, and nowhere else.
    private final class RefuseRedirects: NSObject, URLSessionTaskDelegate, Sendable {
        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
            completionHandler(nil)
        }
    }
}
