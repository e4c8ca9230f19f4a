import Foundation

/// Errors of the chat library (NLU data, domain files, the session store, the agent).
///
/// Each case carries enough context (file, line, key) for the program to print one clear line.
public enum ChatError: Error, CustomStringConvertible, Sendable {
    /// A training-data file (nlu.yml or CSV) could not be read or is malformed.
    case badTrainingData(file: String, reason: String)
    /// A domain file could not be read or is malformed.
    case badDomain(file: String, reason: String)
    /// The session store failed (`file`: the SQLite file, or the PostgreSQL URL without its password).
    case store(file: String, reason: String)
    /// The session store's database cannot be reached now (down, refusing connections, timed
    /// out). Retrying later may work: a service answers 503, and the store reconnects on its own.
    case storeUnavailable(String)
    /// The store's key: unreadable key file, or a sealed store opened without its key or with another key.
    case storeKey(String)
    /// The user's input cannot be processed (empty text, unreadable audio...).
    case badInput(String)
    /// The agent folder (model, domain) is missing or incomplete.
    case agentNotFound(String)
    /// The reply could not be spoken (`--speak`): synthesizer missing or failed, file not written.
    case speech(String)

    public var description: String {
        switch self {
        case let .badTrainingData(file, reason): return "training data \(file): \(reason)"
        case let .badDomain(file, reason): return "domain \(file): \(reason)"
        case let .store(file, reason): return "session store \(file): \(reason)"
        case let .storeUnavailable(reason): return "session store unavailable: \(reason)"
        case let .storeKey(reason): return "session store key: \(reason)"
        case let .badInput(reason): return "bad input: \(reason)"
        case let .agentNotFound(reason): return "agent not found: \(reason)"
        case let .speech(reason): return "speech output: \(reason)"
        }
    }
}
