import Foundation
import LeptonText

/// An entity marked in a training example: `[text](entity)`, `[text](entity:value)` or
/// `[text]{"entity": "…", "value": "…", "role": "…"}`.
public struct AnnotatedEntity: Codable, Equatable, Sendable {
    /// The entity type.
    public var entity: String
    /// The normalised value (the marked text when none is given).
    public var value: String
    /// Character offsets of the marked text in the plain example, `start..<end`.
    public var start: Int
    public var end: Int
    /// Optional role ("from", "to").
    public var role: String?
}

/// One training example: plain text (annotations removed), its intent, its entities.
public struct NLUExample: Equatable, Sendable {
    public var text: String
    public var intent: String
    public var entities: [AnnotatedEntity]
}

/// Intent training data in the formats a bot engineer knows: Rasa-style `nlu.yml` and CSV.
///
/// `nlu.yml` (Rasa 3 layout) holds a top-level `nlu:` list whose items are one of
/// ```yaml
/// - intent: transfer_money
///   examples: |
///     - send [50 dollars](amount) to [my landlord](recipient)
///     - move money [from savings]{"entity": "account_type", "value": "savings", "role": "from"}
/// - synonym: savings
///   examples: |
///     - saving account
/// - regex: account_number
///   examples: |
///     - \d{8,12}
/// - lookup: recipient
///   examples: |
///     - landlord
/// ```
/// CSV files have a header naming a text column (`text`) and a label column (`category`,
/// `intent` or `label`), as BANKING77's `train.csv`; quoted fields may contain commas, quotes
/// (doubled) and newlines.
///
/// `lepton-chat train --data FILE` calls ``NLUData/load(_:)`` and trains on ``labeledTexts``.
public struct NLUData: Sendable {
    /// Training examples in file order.
    public var examples: [NLUExample] = []
    /// Synonyms: lower-cased surface form → normalised value.
    public var synonyms: [String: String] = [:]
    /// Regular expressions per entity type (ICU syntax, as NSRegularExpression).
    public var regexes: [String: [String]] = [:]
    /// Lookup tables: entity type → phrases.
    public var lookups: [String: [String]] = [:]
    /// Sentences for the speech recognizer's domain language model (`asr-corpus.txt`, see
    /// ``RecognizerCorpus``): every example text of the files read, in file order. A recipe's
    /// `repeat`, `relabel` and `others_per_intent` do not apply to it (the out-of-scope rows are
    /// still the domain's language); a source marked `asr_corpus: false` (recognizer output)
    /// adds none.
    public var corpusTexts: [String] = []

    public init() {}

    /// `(text, label)` pairs for intent training, in file order.
    public var labeledTexts: [(text: String, label: String)] { examples.map { ($0.text, $0.intent) } }

    /// The intent names in order of first appearance.
    public var intents: [String] {
        var seen = Set<String>(), out: [String] = []
        for e in examples where seen.insert(e.intent).inserted { out.append(e.intent) }
        return out
    }

    /// Reads `url`: `.yml`/`.yaml` as Rasa NLU data, `.csv` as `text,category` rows.
    /// - Throws: ``ChatError/badTrainingData(file:reason:)`` naming the file and the line or item.
    public static func load(_ url: URL) throws -> NLUData {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ChatError.badTrainingData(file: url.path, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ChatError.badTrainingData(file: url.path, reason: "not UTF-8 text")
        }
        switch url.pathExtension.lowercased() {
        case "yml", "yaml":
            let root = try yamlRoot(text, file: url.path)
            if let recipe = root as? [String: Any], let sources = recipe["sources"] {
                return try loadRecipe(sources, file: url)
            }
            var data = try parseYAML(root, file: url.path)
            data.corpusTexts = data.examples.map(\.text)
            return data
        case "csv":
            var data = try parseCSV(text, file: url.path)
            data.corpusTexts = data.examples.map(\.text)
            return data
        default: throw ChatError.badTrainingData(file: url.path, reason: "unknown extension (expected .yml, .yaml or .csv)")
        }
    }

    /// Merges `other` after `self` (examples appended, tables unioned).
    public mutating func merge(_ other: NLUData) {
        examples += other.examples
        corpusTexts += other.corpusTexts
        synonyms.merge(other.synonyms) { a, _ in a }
        regexes.merge(other.regexes) { $0 + $1 }
        lookups.merge(other.lookups) { $0 + $1 }
    }

    /// An entity extractor that also knows this data's lookup tables, synonyms and regexes.
    public func makeExtractor(referenceDay: Day = Day(Date())) -> EntityExtractor {
        var x = EntityExtractor(referenceDay: referenceDay)
        for (type, phrases) in lookups {
            var table: [String: String] = [:]
            for p in phrases { table[p.lowercased()] = synonyms[p.lowercased()] ?? p }
            x.lookups[type] = table
        }
        x.synonyms = synonyms
        x.regexes = regexes
        return x
    }

    // MARK: Recipes

    /// A training recipe combines files and renames their intents:
    /// ```yaml
    /// sources:
    ///   - file: nlu.yml                      # paths relative to the recipe
    ///     repeat: 2                          # optional: use the examples n times (weight)
    ///   - file: ../../../shared/data/banking77/train.csv
    ///     relabel: {card_payment_not_recognised: dispute_charge}
    ///     others: keep                       # keep | drop | an intent: what intents not in relabel become
    ///     others_per_intent: 8               # optional: at most this many examples of each of them
    ///   - file: asr-heard.csv
    ///     asr_corpus: false                  # optional: not a sentence source for the recognizer's language model
    ///   - file: ../../../shared/data/banking77/train.csv
    ///     exclude: [splits/validation.csv]   # optional: drop rows whose text is in these files (held-out splits)
    /// ```
    /// `others: nlu_fallback` with a small `others_per_intent` teaches the model what is *out of
    /// scope* (other banking requests) instead of relying on its confidence alone.
    /// `$VAR` at the start of a path is replaced by the environment variable.
    static func loadRecipe(_ sources: Any, file: URL) throws -> NLUData {
        guard let list = sources as? [Any], !list.isEmpty else {
            throw ChatError.badTrainingData(file: file.path, reason: "`sources` must be a non-empty list")
        }
        var out = NLUData()
        for (n, raw) in list.enumerated() {
            guard let item = raw as? [String: Any], var path = item["file"] as? String else {
                throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1) needs `file`")
            }
            if path.hasPrefix("$"), let slash = path.firstIndex(of: "/") {
                let name = String(path[path.index(after: path.startIndex)..<slash])
                guard let value = ProcessInfo.processInfo.environment[name] else {
                    throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1): environment variable \(name) is not set")
                }
                path = value + path[slash...]
            }
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
                : file.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
            guard url.pathExtension.lowercased() == "csv"
                    || ((try? String(contentsOf: url, encoding: .utf8)).flatMap { try? yamlRoot($0, file: url.path) } as? [String: Any])?["sources"] == nil else {
                throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1): recipes cannot include recipes")
            }
            var part = try load(url)
            if let v = item["asr_corpus"] {
                guard let keep = v as? Bool else {
                    throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1): `asr_corpus` must be true or false")
                }
                if !keep { part.corpusTexts = [] }
            }
            if let v = item["exclude"] {
                guard let files = v as? [String], !files.isEmpty else {
                    throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1): `exclude` must be a list of files")
                }
                var held = Set<String>()
                for f in files {
                    let u = f.hasPrefix("/") ? URL(fileURLWithPath: f) : file.deletingLastPathComponent().appendingPathComponent(f).standardizedFileURL
                    held.formUnion(try load(u).examples.map(\.text))
                }
                // Held-out rows stay out of the recognizer's sentences too.
                part.examples.removeAll { held.contains($0.text) }
                part.corpusTexts.removeAll { held.contains($0) }
            }
            var relabel: [String: String] = [:]
            for (k, v) in (item["relabel"] as? [String: Any]) ?? [:] { relabel[k] = "\(v)" }
            let others = (item["others"] as? String) ?? "keep"
            guard !others.isEmpty, !others.contains(where: \.isWhitespace) else {
                throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1): `others` must be keep, drop or an intent name")
            }
            let cap = item["others_per_intent"] as? Int ?? Int.max
            guard cap >= 1, item["others_per_intent"] == nil || item["others_per_intent"] is Int else {
                throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1): `others_per_intent` must be an integer ≥ 1")
            }
            var taken: [String: Int] = [:]
            part.examples = part.examples.compactMap { e in
                if let to = relabel[e.intent] { var e = e; e.intent = to; return e }
                if others == "drop" { return nil }
                taken[e.intent, default: 0] += 1
                if taken[e.intent]! > cap { return nil }
                if others == "keep" { return e }
                var renamed = e
                renamed.intent = others
                return renamed
            }
            let times = (item["repeat"] as? Int) ?? 1
            guard (1...20).contains(times) else {
                throw ChatError.badTrainingData(file: file.path, reason: "source \(n + 1): `repeat` must be 1...20")
            }
            let examples = part.examples
            for _ in 1..<times { part.examples += examples }
            out.merge(part)
        }
        return out
    }

    // MARK: YAML

    /// The YAML document in `text`, read within ``SafeYAML``'s limits.
    static func yamlRoot(_ text: String, file: String) throws -> Any? {
        do { return try SafeYAML.load(text) } catch let e as SafeYAML.LimitExceeded {
            throw ChatError.badTrainingData(file: file, reason: e.description)
        } catch {
            throw ChatError.badTrainingData(file: file, reason: "invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
    }

    static func parseYAML(_ root: Any?, file: String) throws -> NLUData {
        guard let top = root as? [String: Any], let items = top["nlu"] as? [Any] else {
            throw ChatError.badTrainingData(file: file, reason: "expected a top-level `nlu:` list")
        }
        var out = NLUData()
        for (n, raw) in items.enumerated() {
            guard let item = raw as? [String: Any] else {
                throw ChatError.badTrainingData(file: file, reason: "nlu item \(n + 1) is not a mapping")
            }
            let examples = try exampleLines(item["examples"], file: file, item: n + 1)
            if let intent = item["intent"] as? String {
                for line in examples {
                    let (plain, ents) = try parseAnnotated(line, file: file, intent: intent)
                    guard !plain.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                    out.examples.append(NLUExample(text: plain, intent: intent, entities: ents))
                }
            } else if let value = item["synonym"] as? String {
                for line in examples { out.synonyms[line.lowercased()] = value }
            } else if let name = item["regex"] as? String {
                for line in examples {
                    do { _ = try NSRegularExpression(pattern: line) } catch {
                        throw ChatError.badTrainingData(file: file, reason: "regex \(name): invalid pattern \(line)")
                    }
                    out.regexes[name, default: []].append(line)
                }
            } else if let name = item["lookup"] as? String {
                out.lookups[name, default: []] += examples
            } else {
                throw ChatError.badTrainingData(file: file, reason: "nlu item \(n + 1) has none of intent/synonym/regex/lookup")
            }
        }
        // Annotated values are synonyms too (Rasa does the same).
        for e in out.examples {
            for a in e.entities {
                let surface = String(Array(e.text)[a.start..<a.end]).lowercased()
                if surface != a.value.lowercased() && out.synonyms[surface] == nil { out.synonyms[surface] = a.value }
            }
        }
        return out
    }

    /// `examples` is either a block string of `- line` items or a YAML list of strings.
    static func exampleLines(_ v: Any?, file: String, item: Int) throws -> [String] {
        if let block = v as? String {
            return block.split(whereSeparator: \.isNewline).compactMap { line -> String? in
                let s = line.trimmingCharacters(in: .whitespaces)
                guard s.hasPrefix("-") else { return nil }
                return s.dropFirst().trimmingCharacters(in: .whitespaces)
            }
        }
        if let list = v as? [Any] {
            return list.compactMap { ($0 as? String) ?? ($0 as? [String: Any])?["text"] as? String }
        }
        throw ChatError.badTrainingData(file: file, reason: "nlu item \(item): `examples` missing or not a list")
    }

    /// Removes annotation markup from `line` and returns the plain text and its entities.
    static func parseAnnotated(_ line: String, file: String, intent: String) throws -> (String, [AnnotatedEntity]) {
        let chars = Array(line)
        var plain: [Character] = []
        var ents: [AnnotatedEntity] = []
        var i = 0
        while i < chars.count {
            if chars[i] == "[", let close = chars[i...].firstIndex(of: "]"), close + 1 < chars.count,
               chars[close + 1] == "(" || chars[close + 1] == "{" {
                let inner = Array(chars[(i + 1)..<close])
                let start = plain.count
                plain += inner
                let spec: String
                var j = close + 1
                if chars[j] == "(" {
                    guard let end = chars[j...].firstIndex(of: ")") else {
                        throw ChatError.badTrainingData(file: file, reason: "intent \(intent): unclosed ( in: \(line)")
                    }
                    spec = String(chars[(j + 1)..<end])
                    j = end + 1
                    let parts = spec.split(separator: ":", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                    guard let name = parts.first, !name.isEmpty else {
                        throw ChatError.badTrainingData(file: file, reason: "intent \(intent): empty entity name in: \(line)")
                    }
                    ents.append(AnnotatedEntity(entity: name, value: parts.count > 1 ? parts[1] : String(inner),
                                                start: start, end: plain.count, role: nil))
                } else {
                    guard let end = chars[j...].firstIndex(of: "}") else {
                        throw ChatError.badTrainingData(file: file, reason: "intent \(intent): unclosed { in: \(line)")
                    }
                    spec = String(chars[j...end])
                    j = end + 1
                    guard let obj = (try? JSONSerialization.jsonObject(with: Data(spec.utf8))) as? [String: Any],
                          let name = obj["entity"] as? String else {
                        throw ChatError.badTrainingData(file: file, reason: "intent \(intent): bad entity JSON \(spec) in: \(line)")
                    }
                    ents.append(AnnotatedEntity(entity: name, value: (obj["value"] as? String) ?? String(inner),
                                                start: start, end: plain.count, role: obj["role"] as? String))
                }
                i = j
            } else {
                plain.append(chars[i]); i += 1
            }
        }
        return (String(plain), ents)
    }

    // MARK: CSV

    static func parseCSV(_ text: String, file: String) throws -> NLUData {
        let rows = try csvRows(text, file: file)
        guard let header = rows.first else { throw ChatError.badTrainingData(file: file, reason: "empty file") }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let ti = names.firstIndex(of: "text"),
              let li = names.firstIndex(where: { ["category", "intent", "label"].contains($0) }) else {
            throw ChatError.badTrainingData(file: file, reason: "header must name a `text` and a `category`/`intent`/`label` column, got \(header)")
        }
        var out = NLUData()
        for (n, row) in rows.enumerated().dropFirst() {
            if row.count == 1 && row[0].isEmpty { continue }
            guard row.count == header.count else {
                throw ChatError.badTrainingData(file: file, reason: "row \(n + 1) has \(row.count) fields, header has \(header.count)")
            }
            let label = row[li].trimmingCharacters(in: .whitespaces)
            guard !label.isEmpty else { throw ChatError.badTrainingData(file: file, reason: "row \(n + 1) has an empty label") }
            out.examples.append(NLUExample(text: row[ti], intent: label, entities: []))
        }
        return out
    }

    /// RFC 4180 fields: quotes around fields, `""` inside quotes, newlines inside quotes.
    static func csvRows(_ text: String, file: String) throws -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var inQuotes = false
        var chars = Array(text)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" { field.append("\""); i += 1 } else { inQuotes = false }
                } else { field.append(c) }
            } else if c == "\"" && field.isEmpty {
                inQuotes = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\n" || c == "\r\n" || c == "\r" {
                row.append(field); rows.append(row); row = []; field = ""
            } else {
                field.append(c)
            }
            i += 1
        }
        if inQuotes { throw ChatError.badTrainingData(file: file, reason: "unterminated quoted field at end of file") }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}
