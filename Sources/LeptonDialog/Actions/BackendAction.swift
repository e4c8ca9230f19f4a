import Crypto
import Foundation
import LeptonText

extension Domain {
    /// Something the bot does in the bank's systems (block a card, send money) when an intent or a
    /// form completes: the turn POSTs a signed request to the action's endpoint and its reply
    /// depends on the answer (see ``BackendClient``). Declared under `actions:`:
    ///
    /// ```yaml
    /// actions:
    ///   block_card: {url: "http://127.0.0.1:8089/block-card", key_file: backend.key, timeout: 3,
    ///                slots: [account_type, last_four]}
    ///   transfer: {}          # no backend connected: the bot says so and hands the caller to a human
    /// intents:
    ///   lost_or_stolen_card: {response: utter_card_blocked, action: block_card}
    /// forms:
    ///   transfer_form: {required: [amount, recipient], done: utter_transfer_done, action: transfer}
    /// ```
    ///
    /// The intent's `response` (a form's `done`) is said only when the backend confirms. A refusal
    /// says `utter_<action>_refused` (else `utter_action_refused`; `{reason}` is the backend's
    /// reason); a failure (timeout, connection error, non-2xx, an answer that is not
    /// `{"status": "confirmed" | "refused"}`) says `utter_<action>_failed` (else
    /// `utter_action_failed`) and hands off to a human; an action with no `url` says
    /// `utter_<action>_unavailable` (else its failed response) and hands off too. None of them may
    /// claim the action happened.
    public struct BackendAction: Sendable {
        /// Where and how the action is requested.
        public struct Endpoint: Sendable {
            /// `http` or `https`, with a host and no user or password.
            public var url: URL
            /// The HMAC-SHA256 key: the key file's bytes without the trailing newline.
            public var key: Data
            /// Seconds the turn waits for the answer before giving up (0.1...10).
            public var timeout: Double
        }

        public var name: String
        /// nil: no backend is connected for this action (`block_card: {}`).
        public var endpoint: Endpoint?
        /// The slots the request carries (`slots:`); nil = every slot the turn or form has.
        public var slots: [String]?

        /// The keys an action's mapping may have.
        static let keys: Set<String> = ["url", "key_file", "timeout", "slots"]
        /// Longest wait for an answer: the call runs inside the turn's store transaction (so the
        /// outcome is stored with the turn), and other turns on the same store wait meanwhile; it
        /// stays well below the store's 15 s busy timeout.
        public static let maxTimeout = 10.0
        /// Shortest acceptable HMAC key.
        public static let minKeyBytes = 16
    }

    /// The response said when `action` was refused.
    public func refusedResponse(_ action: String) -> String? {
        ["utter_\(action)_refused", "utter_action_refused"].first { responses[$0] != nil }
    }

    /// The response said when `action` failed (no answer, an error, an answer not understood).
    public func failedResponse(_ action: String) -> String? {
        ["utter_\(action)_failed", "utter_action_failed"].first { responses[$0] != nil }
    }

    /// The response said when no backend is connected for `action`.
    public func unavailableResponse(_ action: String) -> String? {
        responses["utter_\(action)_unavailable"] != nil ? "utter_\(action)_unavailable" : failedResponse(action)
    }

    /// Reads the `actions:` mapping. Key files are relative to `folder` (the domain file's).
    static func parseActions(_ value: Any, folder: URL, bad: (String) -> ChatError) throws -> [String: BackendAction] {
        guard let all = value as? [String: Any] else { throw bad("`actions` must be a mapping of action names to {url, key_file, timeout}") }
        var out: [String: BackendAction] = [:]
        for (name, v) in all {
            let at = "actions.\(name)"
            guard name.range(of: "^[a-z][a-z0-9_]{0,63}$", options: .regularExpression) != nil else {
                throw bad("\(at): an action name is lower-case letters, digits and _ (at most 64)")
            }
            guard let m = v as? [String: Any] else { throw bad("\(at) must be a mapping ({} when no backend is connected)") }
            if let unknown = m.keys.sorted().first(where: { !BackendAction.keys.contains($0) }) {
                throw bad("\(at): unknown key `\(unknown)` (expected url, key_file, timeout, slots)")
            }
            var action = BackendAction(name: name)
            if let s = m["slots"] {
                guard let list = s as? [String] else { throw bad("\(at).slots must be a list of slot names") }
                action.slots = list
            }
            if let u = m["url"] {
                guard let text = u as? String, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                      scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty,
                      url.user == nil, url.password == nil, url.fragment == nil else {
                    throw bad("\(at).url must be an http:// or https:// URL with a host and no user, password or #fragment")
                }
                guard let keyFile = m["key_file"] as? String, !keyFile.isEmpty else {
                    throw bad("\(at).key_file is missing: the file holding the HMAC key the requests are signed with")
                }
                var timeout = 5.0
                if let t = m["timeout"] {
                    guard let x = number(t), x >= 0.1, x <= BackendAction.maxTimeout else {
                        throw bad("\(at).timeout must be seconds in 0.1...\(Int(BackendAction.maxTimeout))")
                    }
                    timeout = x
                }
                let key = try readKey(keyFile, folder: folder, at: at, bad: bad)
                action.endpoint = BackendAction.Endpoint(url: url, key: key, timeout: timeout)
            } else if m["key_file"] != nil || m["timeout"] != nil {
                throw bad("\(at): key_file and timeout need a url")
            }
            out[name] = action
        }
        return out
    }

    /// The key file's bytes (one trailing newline dropped), refused when missing, short or
    /// readable by other users.
    private static func readKey(_ path: String, folder: URL, at: String, bad: (String) -> ChatError) throws -> Data {
        // Symlinks resolved: mounted secrets are often links to the real file.
        let url = (path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)).resolvingSymlinksInPath()
        // A regular, small file only: a key_file naming /dev/zero or a fifo must not hang the load.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else {
            throw bad("\(at).key_file: cannot read \(url.path)")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular, let size = attributes[.size] as? Int, size <= 4096 else {
            throw bad("\(at).key_file: \(url.path) is not a regular file of at most 4096 bytes")
        }
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw bad("\(at).key_file: \(url.path) is readable by other users (chmod 600 it)")
        }
        guard var key = FileManager.default.contents(atPath: url.path) else {
            throw bad("\(at).key_file: cannot read \(url.path)")
        }
        while let last = key.last, last == 0x0A || last == 0x0D { key.removeLast() }
        guard key.count >= BackendAction.minKeyBytes else {
            throw bad("\(at).key_file: \(url.path) holds \(key.count) bytes; an HMAC key needs at least \(BackendAction.minKeyBytes)")
        }
        return key
    }

    /// Checks what intents and forms say about actions: the action is declared, its slots exist,
    /// and the responses its outcomes need are there.
    func checkActions(bad: (String) -> ChatError) throws {
        for (name, a) in intents.sorted(by: { $0.key < $1.key }) {
            guard let act = a.action else { continue }
            guard actions[act] != nil else { throw bad("intents.\(name) uses unknown action \(act) (declare it under `actions`)") }
            guard a.response != nil, a.form == nil, !a.handoff else {
                throw bad("intents.\(name): an action needs a `response` (said when the backend confirms) and no form or handoff")
            }
        }
        for (name, f) in forms.sorted(by: { $0.key < $1.key }) {
            if let act = f.action, actions[act] == nil { throw bad("forms.\(name) uses unknown action \(act) (declare it under `actions`)") }
        }
        for (name, a) in actions.sorted(by: { $0.key < $1.key }) {
            for s in a.slots ?? [] where slots[s] == nil { throw bad("actions.\(name).slots: unknown slot \(s)") }
            guard failedResponse(name) != nil else { throw bad("actions.\(name): missing response utter_\(name)_failed (or utter_action_failed)") }
            if a.endpoint != nil, refusedResponse(name) == nil {
                throw bad("actions.\(name): missing response utter_\(name)_refused (or utter_action_refused)")
            }
        }
    }
}

/// The JSON body of an action request (keys in snake_case).
///
/// Card and account numbers travel only as their last four digits: every run of six or more
/// digits in a slot value is masked before the request is made.
public struct ActionRequest: Codable, Sendable, Equatable {
    public var action: String
    public var session: String
    /// The turn (0-based) that runs the action.
    public var turn: Int
    /// The same for the same session, turn and action: a turn played again (a retried store
    /// transaction, a client retrying) asks for the same thing, and the backend can answer it once.
    public var idempotencyKey: String
    /// Slot values as the dialog keeps them ("250.00 USD", "landlord", "1234").
    public var slots: [String: String]

    enum CodingKeys: String, CodingKey { case action, session, turn, idempotencyKey = "idempotency_key", slots }

    /// SHA-256 of the session, turn and action, as 32 hex digits.
    public static func idempotencyKey(session: String, turn: Int, action: String) -> String {
        let digest = SHA256.hash(data: Data("lepton-action\u{0}\(session)\u{0}\(turn)\u{0}\(action)".utf8))
        return digest.prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}

/// What the backend answered to an action request.
public enum ActionOutcome: Sendable, Equatable {
    /// `{"status": "confirmed"}`: the action was performed.
    case confirmed
    /// `{"status": "refused", "reason": "..."}`: the backend would not do it.
    case refused(reason: String?)
    /// No usable answer: the cause (for the state and logs, never said to the caller).
    case failed(String)
    /// No backend is connected for the action.
    case unavailable

    /// `confirmed`, `refused`, `failed` or `unavailable` (the event's last part).
    public var status: String {
        switch self {
        case .confirmed: "confirmed"
        case .refused: "refused"
        case .failed: "failed"
        case .unavailable: "unavailable"
        }
    }
}

/// The last action a session ran and how it ended (kept in ``DialogState``).
public struct ActionRecord: Codable, Equatable, Sendable {
    public var action: String
    public var turn: Int
    /// `confirmed`, `refused`, `failed` or `unavailable`.
    public var status: String
    /// The refusal's reason or the failure's cause (numbers masked).
    public var detail: String?
    public var idempotencyKey: String

    enum CodingKeys: String, CodingKey { case action, turn, status, detail, idempotencyKey = "idempotency_key" }
}
