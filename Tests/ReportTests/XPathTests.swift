// XPath and navigation on a hand-written GraphML document.

import Foundation
import XCTest
import LeptonReport

final class XPathTests: XCTestCase {
    static let graphML = """
    <?xml version="1.0" encoding="UTF-8"?>
    <graphml xmlns="http://graphml.graphdrawing.org/xmlns">
      <key id="w" for="edge" attr.name="weight" attr.type="double"/>
      <key id="lbl" for="node" attr.name="label" attr.type="string"/>
      <graph id="G" edgedefault="directed">
        <node id="n0"><data key="lbl">Cardiomegaly</data></node>
        <node id="n1"><data key="lbl">Pleural   effusion</data></node>
        <node id="n2"><data key="lbl">Opacity</data></node>
        <edge id="e0" source="n0" target="n1"><data key="w">0.5</data></edge>
        <edge id="e1" source="n1" target="n2"><data key="w">1.25</data></edge>
      </graph>
    </graphml>
    """
    let ns = ["g": "http://graphml.graphdrawing.org/xmlns"]

    func testGraphMLQueries() throws {
        let doc = try XMLDocument(string: Self.graphML, name: "tiny.graphml")
        XCTAssertEqual(doc.root?.name, "graphml")
        XCTAssertEqual(doc.root?.namespaceURI, "http://graphml.graphdrawing.org/xmlns")
        // XPath 1.0 needs a prefix for the default namespace.
        XCTAssertEqual(try doc.nodes("//node").count, 0)
        let nodes = try doc.nodes("//g:node", namespaces: ns)
        XCTAssertEqual(nodes.compactMap { $0.attribute("id") }, ["n0", "n1", "n2"])
        XCTAssertEqual(try doc.strings("//g:node/g:data[@key='lbl']", namespaces: ns), ["Cardiomegaly", "Pleural effusion", "Opacity"])
        XCTAssertEqual(try doc.number("count(//g:edge)", namespaces: ns), 2)
        XCTAssertEqual(try doc.number("sum(//g:edge/g:data[@key='w'])", namespaces: ns), 1.75)
        XCTAssertEqual(try doc.string("//g:edge[@source='n1']/@target", namespaces: ns), "n2")
        XCTAssertEqual(try doc.string("string(//g:graph/@edgedefault)", namespaces: ns), "directed")
        if case .boolean(let b) = try doc.evaluate("count(//g:key) = 2", namespaces: ns) { XCTAssertTrue(b) } else { XCTFail("boolean") }
        // Relative queries from a node.
        let edge = try doc.nodes("//g:edge", namespaces: ns)[1]
        XCTAssertEqual(try edge.string("g:data", namespaces: ns), "1.25")
        XCTAssertEqual(try edge.nodes("../g:node", namespaces: ns).count, 3)
        XCTAssertEqual(edge.attributes.map(\.name), ["id", "source", "target"])
        XCTAssertEqual(edge.parent?.attribute("id"), "G")
        XCTAssertEqual(edge.line, 10)
        XCTAssertEqual(try doc.nodes("//g:graph", namespaces: ns).first?.children.count, 5)
        XCTAssertEqual(try doc.nodes("//g:graph", namespaces: ns).first?.children(named: "edge").count, 2)
        // Attribute nodes returned by XPath expose their value as text.
        XCTAssertEqual(try doc.nodes("//g:key/@attr.name", namespaces: ns).map(\.text), ["weight", "label"])
        XCTAssertEqual(try doc.nodes("//g:key/@id", namespaces: ns).first?.kind, .attribute)
        XCTAssertNil(try doc.string("//g:nothing", namespaces: ns))
    }

    func testXPathErrorsAreTyped() throws {
        let doc = try XMLDocument(string: Self.graphML)
        assertXMLError(try doc.nodes("//g:node["), "syntax error") {
            if case .invalidXPath(let expression, let message) = $0 { return expression == "//g:node[" && message.contains("Invalid expression") } else { return false }
        }
        assertXMLError(try doc.nodes("//undefined:node"), "undefined prefix") {
            if case .invalidXPath(_, let message) = $0 { return message.contains("Undefined namespace prefix") } else { return false }
        }
        assertXMLError(try doc.nodes("count(//g:node)", namespaces: ns), "number is not nodes") {
            if case .invalidXPath = $0 { return true } else { return false }
        }
        assertXMLError(try doc.nodes("nosuchfunction()"), "unknown function") { if case .invalidXPath = $0 { return true } else { return false } }
    }

    /// Nodes keep their document alive after the document variable is gone.
    func testNodesOutliveDocumentVariable() throws {
        var node: XMLNode?
        do {
            let doc = try XMLDocument(string: "<r><a x='1'>hello   world</a></r>")
            node = try doc.nodes("//a").first
        }
        XCTAssertEqual(node?.text, "hello world")
        XCTAssertEqual(node?.attribute("x"), "1")
        XCTAssertEqual(XMLNode.normalizeWhitespace("  a \t\n b  "), "a b")
    }
}
