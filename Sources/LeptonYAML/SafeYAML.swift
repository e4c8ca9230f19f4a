import Foundation
// libyaml's event parser, which Yams is built on (Yams vendors it as the CYaml module). Its
// parser keeps its own heap stacks, so walking events cannot overflow the call stack the way
// Yams's recursive composer does on deeply nested input.
import CYaml
import Yams

/// The one place chat files (NLU data, recipes, domains) are read as YAML.
///
/// `Yams.load` expands every alias into a full copy and composes nodes recursively: a 393-byte
/// "billion laughs" (9 levels of 9 aliases) grows to gigabytes, and 100,000 nested `[` overflow
/// the stack. So the text is first walked as libyaml events, which are cheap and bounded by the
/// input's size: nesting depth, the node count with every alias counted at its expanded size
/// (memoised per anchor, so the walk itself never expands anything), and the nodes added by
/// aliases are all checked against small limits before Yams builds anything.
public enum SafeYAML {
    /// Limits for chat files; the shipped files are far below each (nlu.yml: 14 KB, depth 4).
    public struct Limits: Sendable {
        /// Largest accepted text, in bytes.
        public var maxBytes = 16 << 20
        /// Deepest nesting of sequences and mappings (XML reports are capped at 256 too).
        public var maxDepth = 256
        /// Most nodes once every alias is expanded.
        public var maxNodes = 2_000_000
        /// Most nodes that aliases may add by expansion (a bomb needs millions).
        public var maxAliasNodes = 100_000
        public init() {}
    }

    /// Why a text was refused before parsing; one line.
    public struct LimitExceeded: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses `text` (one YAML document) to Swift values as `Yams.load` does, after checking `limits`.
    /// - Throws: ``LimitExceeded`` naming the limit, or Yams's parse error.
    public static func load(_ text: String, limits: Limits = Limits()) throws -> Any? {
        try check(text, limits: limits)
        return try Yams.load(yaml: text)
    }

    /// Walks `text`'s events and throws ``LimitExceeded`` when a limit is passed. Syntax errors
    /// are left to Yams (which reports them with line and column): the walk just stops there.
    public static func check(_ text: String, limits: Limits = Limits()) throws {
        let bytes = Array(text.utf8)
        guard bytes.count <= limits.maxBytes else {
            throw LimitExceeded(description: "YAML text of \(bytes.count) bytes exceeds the \(limits.maxBytes)-byte limit")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw LimitExceeded(description: "cannot start the YAML parser (out of memory)") }
        defer { yaml_parser_delete(&parser) }
        try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            // Expanded size of each open collection, with its anchor; expanded size of each anchor.
            var open: [(anchor: String?, nodes: Int)] = []
            // Per open collection: is it a mapping, and how many child nodes has it started? In a
            // mapping even-numbered children are keys. Yams force-unwraps every key as a string,
            // so a sequence or mapping used as a key (`? [a]` or `{[a]: b}`) trapped (found by
            // lepton-fuzz): such keys are refused here. Anchors of collections are remembered so an
            // alias of one is refused as a key too.
            var shape: [(isMapping: Bool, children: Int)] = []
            var collectionAnchors = Set<String>()
            func startNode(isCollection: Bool) throws {
                guard !shape.isEmpty else { return }
                if shape[shape.count - 1].isMapping, shape[shape.count - 1].children % 2 == 0, isCollection {
                    throw LimitExceeded(description: "YAML mapping key is a list or mapping (only plain keys are supported)")
                }
                shape[shape.count - 1].children += 1
            }
            var anchorNodes: [String: Int] = [:]
            var total = 0, aliasNodes = 0
            func anchorName(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            // Adds a finished node of `size` expanded nodes to its parent (or to the document).
            func add(_ size: Int) throws {
                if open.isEmpty { total = total &+ size } else { open[open.count - 1].nodes = min(open[open.count - 1].nodes + size, Int.max / 4) }
                // A collection's count only grows into the total, so checking it early bounds the walk.
                if total > limits.maxNodes || (open.last?.nodes ?? 0) > limits.maxNodes {
                    throw LimitExceeded(description: "YAML has more than \(limits.maxNodes) nodes with its aliases expanded")
                }
            }
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return }   // a syntax error: Yams reports it
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SCALAR_EVENT:
                    try startNode(isCollection: false)
                    if let a = anchorName(event.data.scalar.anchor) { anchorNodes[a] = 1; collectionAnchors.remove(a) }
                    try add(1)
                case YAML_ALIAS_EVENT:
                    try startNode(isCollection: anchorName(event.data.alias.anchor).map { collectionAnchors.contains($0) } ?? false)
                    let size = anchorName(event.data.alias.anchor).flatMap { anchorNodes[$0] } ?? 1
                    aliasNodes = min(aliasNodes + size, Int.max / 4)
                    guard aliasNodes <= limits.maxAliasNodes else {
                        throw LimitExceeded(description: "YAML aliases expand to more than \(limits.maxAliasNodes) nodes (an alias bomb?)")
                    }
                    try add(size)
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT
                        ? anchorName(event.data.sequence_start.anchor) : anchorName(event.data.mapping_start.anchor)
                    try startNode(isCollection: true)
                    shape.append((event.type == YAML_MAPPING_START_EVENT, 0))
                    if let anchor { collectionAnchors.insert(anchor) }
                    open.append((anchor, 1))
                    guard open.count <= limits.maxDepth else {
                        throw LimitExceeded(description: "YAML nesting deeper than \(limits.maxDepth) levels")
                    }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let done = open.popLast() else { return }
                    shape.removeLast()
                    if let a = done.anchor { anchorNodes[a] = done.nodes }
                    try add(done.nodes)
                default:
                    break
                }
            }
        }
    }
}
