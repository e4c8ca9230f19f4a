/// `text` with the characters HTML gives a meaning replaced by their entities, safe in element
/// content and in quoted attribute values: the one HTML escaper of the code base (the consoles'
/// pages and lepton-diagnose's reports both use it).
public func htmlEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
