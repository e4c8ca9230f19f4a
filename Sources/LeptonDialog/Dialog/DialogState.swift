import Foundation
import LeptonText

/// What the language-understanding step says about one user turn.
public struct NLUResult: Codable, Equatable, Sendable {
    /// The user's text (the transcript for audio).
    public var text: String
    /// Intents ranked by confidence, best first (may be empty: then the turn is a fallback).
    public var ranking: [IntentScore]
    public var entities: [Entity]

    public init(text: String, ranking: [IntentScore], entities: [Entity]) {
        self.text = text; self.ranking = ranking; self.entities = entities
    }
}

/// Conversation state kept between turns (stored as JSON in the session store).
public struct DialogState: Codable, Equatable, Sendable {
    /// Completed turns.
    public var turn: Int = 0
    /// Slot values (normalised: "250.00 USD", "2026-03-03", "landlord").
    public var slots: [String: String] = [:]
    /// The form being filled, if any, and the slot just asked for.
    public var activeForm: String?
    public var requestedSlot: String?
    /// The form is complete and the bot asked the user to confirm it.
    public var awaitingConfirmation = false
    /// Fallbacks in a row; reaching the domain's `handoff_after` hands the session to a human.
    public var fallbacks = 0
    /// A human agent has been asked to take over.
    public var handedOff = false
    /// The last recognised intent (after fallback decisions).
    public var lastIntent: String?
    /// The last backend action the session ran and how it ended: a failed or refused action is
    /// recorded as such, never as done.
    public var lastAction: ActionRecord?
    /// The two handler intents the agent just asked the caller to choose between ("Do you want
    /// to X or Y?"); the next turn's answer picks one (see ``DialogEngine``).
    public var clarifying: [ClarifyOption]?

    public init() {}
}

/// One choice of a clarifying question: a handler intent and the topic it was reached through.
public struct ClarifyOption: Codable, Equatable, Sendable {
    public var intent: String
    public var topic: String?
    /// Its confidence when the question was asked (reported as the turn's confidence when chosen).
    public var confidence: Double?
    public init(intent: String, topic: String?, confidence: Double? = nil) { self.intent = intent; self.topic = topic; self.confidence = confidence }
}

/// What the dialog engine did in one turn.
public struct DialogTurn: Codable, Equatable, Sendable {
    /// The text to say to the user.
    public var reply: String
    /// The intent the engine acted on ("nlu_fallback" when it did not understand).
    public var intent: String
    /// Its confidence from the classifier.
    public var confidence: Double
    /// The model's fine label the intent was reached through (`pin_blocked` for `change_pin`);
    /// nil for a fallback or a domain without topics.
    public var topic: String? = nil
    /// The response templates used, in order (for tests and analytics).
    public var responses: [String]
    /// Events: "form_started:transfer_form", "slot:amount", "invalid:amount",
    /// "confirmed:transfer_form", "cancelled:…", "refused:…", "failed:…" (the form's backend
    /// action refused or failed), "action:transfer:confirmed|refused|failed|unavailable",
    /// "fallback", "handoff", "clarify:A|B" (a clarifying question between handlers A and B),
    /// "clarified:A" (the answer chose A).
    public var events: [String]
}
