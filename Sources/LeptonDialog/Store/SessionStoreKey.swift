import Crypto
import Foundation
import LeptonText

/// The secret a session store's contents are sealed with (`--store-key-file K`).
///
/// The file holds 32 random bytes, raw or as 64 hexadecimal digits; make one with
/// `head -c 32 /dev/urandom > K`. Two keys are derived from it with HKDF-SHA256: one seals values
/// (AES-GCM), one names sessions (HMAC-SHA256 of the session id), so neither use weakens the other.
public struct SessionStoreKey: Sendable {
    // Kept as bytes: swift-crypto's SymmetricKey is not Sendable, and a store is shared by threads.
    private let sealingBytes: [UInt8]
    private let namingBytes: [UInt8]
    var sealing: SymmetricKey { SymmetricKey(data: sealingBytes) }
    var naming: SymmetricKey { SymmetricKey(data: namingBytes) }

    /// A key from its 32 bytes.
    /// - Throws: ``ChatError/storeKey(_:)`` for any other length.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw ChatError.storeKey("expected 32 bytes, got \(bytes.count)") }
        let master = SymmetricKey(data: bytes)
        func derive(_ label: String) -> [UInt8] {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Data(label.utf8), outputByteCount: 32).withUnsafeBytes { Array($0) }
        }
        sealingBytes = derive("lepton-chat-store seal v1")
        namingBytes = derive("lepton-chat-store name v1")
    }

    /// Reads a key file: exactly 32 raw bytes, or 64 hexadecimal digits (surrounding whitespace ignored).
    /// - Throws: ``ChatError/storeKey(_:)`` naming the file (missing, unreadable, wrong length).
    public static func read(file: String) throws -> SessionStoreKey {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ChatError.storeKey("cannot read key file \(file)")
        }
        if data.count == 32 { return try SessionStoreKey(bytes: Array(data)) }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count == 64, let bytes = hexBytes(text) { return try SessionStoreKey(bytes: bytes) }
        throw ChatError.storeKey("key file \(file) must hold 32 bytes or 64 hex digits (got \(data.count) bytes); "
                                 + "make one with: head -c 32 /dev/urandom > \(file)")
    }

    private static func hexBytes(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let hi = it.next() {
            guard let lo = it.next(), let h = nibble(hi), let l = nibble(lo) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// How a store turns sessions and turns into the strings it writes, and back: in clear without a
/// key; with one, every personal value sealed and the session id replaced by a keyed hash.
///
/// Sealed: the state JSON (slots hold entity values), each turn's text, entities and reply, each
/// as `sealed:v1:` + base64(AES-GCM nonce ‖ ciphertext ‖ tag) with a fresh random nonce. The
/// value's place (session row, turn, column) is authenticated too, so a sealed value moved to
/// another row or column does not open. Clear: turn numbers, intent names, confidences, times.
///
/// Session ids: with a key the row id is HMAC-SHA256(id), hex. Callers choose ids (a phone
/// number, a customer number), so a clear id could itself be personal data; the keyed hash still
/// finds the row, but whoever reads the database without the key learns nothing from it.
public struct StoredValueCodec: Sendable {
    public let key: SessionStoreKey?
    /// The store as named in errors (file path, or URL without its password).
    public let location: String

    public init(key: SessionStoreKey?, location: String) { self.key = key; self.location = location }

    private static let sealedPrefix = "sealed:v1:"
    private static let checkPlaintext = "lepton-chat-store key check"

    /// The id under which `session` is stored.
    public func rowID(_ session: String) -> String {
        guard let key else { return session }
        let mac = HMAC<SHA256>.authenticationCode(for: Data(session.utf8), using: key.naming)
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    public func seal(_ text: String, _ place: String) throws -> String {
        guard let key else { return text }
        let box = try AES.GCM.seal(Data(text.utf8), using: key.sealing, authenticating: Data(place.utf8))
        guard let combined = box.combined else { throw ChatError.storeKey("sealing failed") }
        return Self.sealedPrefix + combined.base64EncodedString()
    }

    public func open(_ stored: String, _ place: String) throws -> String {
        let sealed = stored.hasPrefix(Self.sealedPrefix)
        guard let key else {
            if sealed { throw ChatError.storeKey("\(location) is encrypted: give its key (--store-key-file)") }
            return stored
        }
        guard sealed, let data = Data(base64Encoded: String(stored.dropFirst(Self.sealedPrefix.count))) else {
            throw ChatError.store(file: location, reason: "a value at \(place) is not sealed")
        }
        do {
            let plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key.sealing, authenticating: Data(place.utf8))
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw ChatError.storeKey("\(location): a value at \(place) does not open with this key")
        }
    }

    // MARK: Rows

    public func encodeState(_ state: DialogState, row: String) throws -> String {
        try seal(String(decoding: try JSONEncoder().encode(state), as: UTF8.self), "\(row)/state")
    }

    public func decodeState(_ stored: String, row: String, session: String) throws -> DialogState {
        let json = try open(stored, "\(row)/state")
        do { return try JSONDecoder().decode(DialogState.self, from: Data(json.utf8)) } catch {
            throw ChatError.store(file: location, reason: "session \(session): unreadable state")
        }
    }

    /// The text, entities (JSON) and reply columns of an already masked record.
    public func encodeTurn(_ r: TurnRecord, row: String) throws -> (text: String, entities: String, reply: String) {
        let place = "\(row)/\(r.turn)"
        let ents = String(decoding: try JSONEncoder().encode(r.entities), as: UTF8.self)
        return (try seal(r.text, place + "/text"), try seal(ents, place + "/entities"), try seal(r.reply, place + "/reply"))
    }

    public func decodeTurn(turn: Int, text: String, intent: String, confidence: Double, entities: String, reply: String,
                    row: String) throws -> TurnRecord {
        let place = "\(row)/\(turn)"
        let ents = (try? JSONDecoder().decode([Entity].self, from: Data(try open(entities, place + "/entities").utf8))) ?? []
        return TurnRecord(turn: turn, text: try open(text, place + "/text"), intent: intent, confidence: confidence,
                          entities: ents, reply: try open(reply, place + "/reply"))
    }

    // MARK: Key check

    /// Checks this codec's key against the store's key-check value (`stored`, nil when the store
    /// has none) and returns the value to record when the store should adopt the key now.
    ///
    /// - A sealed store opened without a key, or with another key: a clear error, before any turn.
    /// - A key given to a store that already holds clear sessions: refused (mixing clear and
    ///   sealed rows would hide which is which); encryption needs a new store.
    public func checkKey(stored: String?, storeHasSessions: Bool) throws -> String? {
        switch (stored, key) {
        case (nil, nil): return nil
        case (.some, nil): throw ChatError.storeKey("\(location) is encrypted: give its key (--store-key-file)")
        case (nil, .some):
            if storeHasSessions {
                throw ChatError.storeKey("\(location) holds unencrypted sessions; use a new store with --store-key-file")
            }
            return try seal(Self.checkPlaintext, "key-check")
        case let (.some(value), .some):
            let plain: String
            do { plain = try open(value, "key-check") } catch {
                throw ChatError.storeKey("\(location) was encrypted with another key")
            }
            guard plain == Self.checkPlaintext else { throw ChatError.storeKey("\(location) was encrypted with another key") }
            return nil
        }
    }
}
