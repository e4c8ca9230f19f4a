// XMLDocument+XPath.swift: XPath 1.0 queries on documents and nodes (libxml2's evaluator).

import CLibXML2
import Foundation

/// The result of an XPath expression.
public enum XPathValue: CustomStringConvertible {
    case nodes([XMLNode])
    case string(String)
    case number(Double)
    case boolean(Bool)

    public var description: String {
        switch self {
        case .nodes(let nodes): return "\(nodes.count) node(s)"
        case .string(let s): return "\"\(s)\""
        case .number(let x): return "\(x)"
        case .boolean(let b): return "\(b)"
        }
    }
}

extension XMLDocument {
    /// Evaluates `expression` with the document as context.
    /// - Parameter namespaces: prefix → URI bindings usable in the expression (XPath 1.0 has no
    ///   default namespace: GraphML's elements need e.g. `["g": "http://graphml.graphdrawing.org/xmlns"]`
    ///   and `//g:node`).
    /// - Throws: ``XMLError/invalidXPath(expression:message:)`` with libxml2's message.
    public func evaluate(_ expression: String, namespaces: [String: String] = [:]) throws -> XPathValue {
        try XPathEvaluator.evaluate(expression, in: self, context: nil, namespaces: namespaces)
    }

    /// The nodes `expression` selects, in document order.
    public func nodes(_ expression: String, namespaces: [String: String] = [:]) throws -> [XMLNode] {
        try XPathEvaluator.nodes(evaluate(expression, namespaces: namespaces), expression)
    }

    /// The normalised text of each selected node (or the single string/number/boolean result).
    public func strings(_ expression: String, namespaces: [String: String] = [:]) throws -> [String] {
        XPathEvaluator.strings(try evaluate(expression, namespaces: namespaces))
    }

    /// The normalised text of the first selected node (or the string/number/boolean result);
    /// `nil` when nothing is selected.
    public func string(_ expression: String, namespaces: [String: String] = [:]) throws -> String? {
        try strings(expression, namespaces: namespaces).first
    }

    /// The numeric value of `expression` (e.g. `count(//parentImage)`).
    public func number(_ expression: String, namespaces: [String: String] = [:]) throws -> Double {
        switch try evaluate(expression, namespaces: namespaces) {
        case .number(let x): return x
        case .boolean(let b): return b ? 1 : 0
        case .string(let s): return Double(s) ?? .nan
        case .nodes(let nodes): return nodes.first.flatMap { Double($0.text) } ?? .nan
        }
    }
}

extension XMLNode {
    /// Evaluates `expression` with this node as the context node (so `./x` and `x` are relative).
    public func evaluate(_ expression: String, namespaces: [String: String] = [:]) throws -> XPathValue {
        try XPathEvaluator.evaluate(expression, in: document, context: pointer, namespaces: namespaces)
    }

    /// The nodes `expression` selects relative to this node.
    public func nodes(_ expression: String, namespaces: [String: String] = [:]) throws -> [XMLNode] {
        try XPathEvaluator.nodes(evaluate(expression, namespaces: namespaces), expression)
    }

    /// The normalised text of the first node `expression` selects relative to this node.
    public func string(_ expression: String, namespaces: [String: String] = [:]) throws -> String? {
        XPathEvaluator.strings(try evaluate(expression, namespaces: namespaces)).first
    }
}

enum XPathEvaluator {
    static func evaluate(_ expression: String, in document: XMLDocument, context: xmlNodePtr?,
                         namespaces: [String: String]) throws -> XPathValue {
        guard let ctx = xmlXPathNewContext(document.doc) else {
            throw XMLError.invalidXPath(expression: expression, message: "cannot create an XPath context")
        }
        defer { xmlXPathFreeContext(ctx) }
        // libxml2 reports XPath errors through the calling thread's structured-error handler
        // (thread-local state); capture the message there for the duration of this call instead
        // of letting it print to stderr.
        final class MessageBox { var message: String? }
        let box = MessageBox()
        xmlSetStructuredErrorFunc(Unmanaged.passUnretained(box).toOpaque()) { userData, error in
            guard let userData, let error else { return }
            let box = Unmanaged<MessageBox>.fromOpaque(userData).takeUnretainedValue()
            guard box.message == nil else { return }
            let text = error.pointee.message.map { String(cString: $0) } ?? "error"
            box.message = text.trimmingCharacters(in: .whitespacesAndNewlines) + " (at offset \(error.pointee.int1))"
        }
        defer { xmlSetStructuredErrorFunc(nil, nil) }
        if let context { ctx.pointee.node = context }
        for (prefix, uri) in namespaces where xmlXPathRegisterNs(ctx, prefix, uri) != 0 {
            throw XMLError.invalidXPath(expression: expression, message: "cannot bind namespace prefix '\(prefix)'")
        }
        guard let object = xmlXPathEvalExpression(expression, ctx) else {
            let message = withExtendedLifetime(box) { box.message } ?? "evaluation failed"
            throw XMLError.invalidXPath(expression: expression, message: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        defer { xmlXPathFreeObject(object) }
        switch object.pointee.type {
        case XPATH_NODESET:
            var out: [XMLNode] = []
            if let set = object.pointee.nodesetval, let table = set.pointee.nodeTab {
                for i in 0..<Int(set.pointee.nodeNr) {
                    // Namespace nodes are copies owned by the result object: not exposed.
                    guard let node = table[i], node.pointee.type != XML_NAMESPACE_DECL else { continue }
                    out.append(XMLNode(node, document: document))
                }
            }
            return .nodes(out)
        case XPATH_STRING:
            return .string(object.pointee.stringval.map { String(cString: $0) } ?? "")
        case XPATH_NUMBER:
            return .number(object.pointee.floatval)
        case XPATH_BOOLEAN:
            return .boolean(object.pointee.boolval != 0)
        default:
            throw XMLError.invalidXPath(expression: expression, message: "unsupported result type \(object.pointee.type.rawValue)")
        }
    }

    static func nodes(_ value: XPathValue, _ expression: String) throws -> [XMLNode] {
        guard case .nodes(let nodes) = value else {
            throw XMLError.invalidXPath(expression: expression, message: "evaluates to \(value), not a node set")
        }
        return nodes
    }

    static func strings(_ value: XPathValue) -> [String] {
        switch value {
        case .nodes(let nodes): return nodes.map(\.text)
        case .string(let s): return [XMLNode.normalizeWhitespace(s)]
        case .number(let x): return [x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)]
        case .boolean(let b): return [b ? "true" : "false"]
        }
    }
}
