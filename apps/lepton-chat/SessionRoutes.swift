import Foundation
import Hummingbird
import LeptonCLI
import LeptonDialog
import LeptonServer
import LeptonText

/// The read routes over the session store, for the call console and for supervisors' tools:
///   GET /v1/sessions?limit=N   the N (default 20, at most 200) sessions played last, newest first
///   GET /v1/sessions/{id}      one session's turns as stored (card numbers masked); 404 unknown
enum SessionRoutes {
    static let defaultLimit = 20
    static let maximumLimit = 200

    /// The sessions' list as the route answers it.
    struct Listing: Encodable {
        var sessions: [SessionSummary]
    }

    /// One session's conversation as the route answers it.
    struct Conversation: Encodable {
        var session: String
        var turns: [TurnRecord]
    }

    static func add(to router: Router<BasicRequestContext>, service: ModelService<ServeCommand.Loaded>) {
        router.get("/v1/sessions") { request, _ -> Response in
            let limit = try RequestInput.query(request, "limit", as: Int.self) ?? defaultLimit
            guard (1...maximumLimit).contains(limit) else {
                throw ServiceError.badRequest("query parameter limit=\(limit) must be 1...\(maximumLimit)")
            }
            let json = try await service.work { loaded in
                try chatErrors { try jsonLine(Listing(sessions: try loaded.agent.store.recentSessions(limit: limit))) }
            }
            return .json(json)
        }
        router.get("/v1/sessions/{id}") { _, context -> Response in
            let session = try sessionID(context)
            let json = try await service.work { loaded -> String? in
                try chatErrors {
                    let store = loaded.agent.store
                    let turns = try store.history(of: session)
                    if turns.isEmpty, try store.state(of: session) == nil { return nil }
                    return try jsonLine(Conversation(session: session, turns: turns.map(\.masked)))
                }
            }
            guard let json else { throw ServiceError(.notFound, "no session \(session) in the store") }
            return .json(json)
        }
    }

    /// The `{id}` path parameter, checked: 1 to 128 of A-Z a-z 0-9 . _ - (400 otherwise).
    static func sessionID(_ context: BasicRequestContext) throws -> String {
        let session = try context.parameters.require("id")
        guard (1...128).contains(session.count),
              session.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) })
        else { throw ServiceError.badRequest("session id must be 1 to 128 of A-Z a-z 0-9 . _ -") }
        return session
    }
}

extension TurnRecord {
    /// The record as a service may show it: card and account numbers masked in the text, the
    /// reply and the entities (the store masks the text and entities already; a reply can quote
    /// the caller).
    var masked: TurnRecord {
        var r = maskedForStorage
        r.reply = maskNumbersInText(r.reply)
        return r
    }
}
