import Hummingbird
import LeptonEngine
import NIOCore

/// A service's web console: the page a person opens at `/`, calling the same JSON routes a client
/// would (with the API key the page keeps in session storage).
///
/// The page is the app's own body HTML, script and style, held as Swift string constants (no bundle
/// resources: a container copies one binary). ``ModelService`` wraps the body in a full document with
/// the shared header (title, API-key form), the shared error box
/// (`<div role="alert" data-testid="error">`) and the shared script and style (`lepton.js`,
/// `lepton.css`, see ``ConsoleAssets``), and serves it all without the API key: the files hold no
/// data, and the page needs them to ask for the key.
///
/// The content security policy forbids inline scripts, inline style attributes and every other
/// origin: a page's script attaches its handlers with `addEventListener`, and builds what it shows
/// with `Lepton.el` (text content only, never HTML from the service).
public struct ConsolePage: Sendable {
    /// The page's title (its `<title>` and the header's heading; plain text).
    public let title: String
    /// The body's HTML, placed in `<main>` after the shared error box.
    public let html: String
    /// The page's own JavaScript, served as `/console/page.js` after `/console/lepton.js`.
    public let script: String
    /// The page's own CSS, served as `/console/page.css` after `/console/lepton.css`.
    public let style: String

    public init(title: String, html: String, script: String, style: String = "") {
        self.title = title
        self.html = html
        self.script = script
        self.style = style
    }

    /// The whole HTML document served at `/`.
    public var document: String {
        let title = htmlEscaped(self.title)
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/console/lepton.css">
        <link rel="stylesheet" href="/console/page.css">
        <script src="/console/lepton.js" defer></script>
        <script src="/console/page.js" defer></script>
        </head>
        <body>
        <header class="lepton-header">
        <h1>\(title)</h1>
        <details class="lepton-key" data-testid="key-panel">
        <summary>API key</summary>
        <form class="lepton-key-form" data-testid="key-form">
        <label for="lepton-key-input">API key (kept in this tab only)</label>
        <input id="lepton-key-input" data-testid="key-input" type="password" autocomplete="off" spellcheck="false">
        <button type="submit" data-testid="key-save">Save</button>
        <button type="button" data-testid="key-forget">Forget</button>
        <output data-testid="key-status" aria-live="polite"></output>
        </form>
        </details>
        </header>
        <main>
        <div role="alert" data-testid="error" class="lepton-error" hidden></div>
        \(html)
        </main>
        </body>
        </html>

        """
    }

}

/// The console's routes: `GET /` and the four files under `/console/`.
enum ConsoleRoutes {
    /// The paths served without the API key (and while the models load).
    static let paths: Set<String> = ["/", "/console/lepton.css", "/console/lepton.js", "/console/page.css", "/console/page.js"]

    /// Scripts only from the service itself, no inline script or style attribute; images and
    /// sound also from `data:` and `blob:` URLs the page makes (a heatmap, a recording).
    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static func add(_ page: ConsolePage, to router: Router<BasicRequestContext>) {
        let files: [(String, String, String)] = [
            ("/", page.document, "text/html; charset=utf-8"),
            ("/console/lepton.css", ConsoleAssets.style, "text/css; charset=utf-8"),
            ("/console/lepton.js", ConsoleAssets.script, "text/javascript; charset=utf-8"),
            ("/console/page.css", page.style, "text/css; charset=utf-8"),
            ("/console/page.js", page.script, "text/javascript; charset=utf-8"),
        ]
        for (path, text, type) in files {
            // Made once: each answer shares the buffer's storage.
            let bytes = ByteBuffer(string: text)
            router.get(RouterPath(path)) { _, _ -> Response in
                var fields = HTTPFields()
                fields[.contentType] = type
                fields[.cacheControl] = "no-cache"
                fields[.contentSecurityPolicy] = contentSecurityPolicy
                fields[.xContentTypeOptions] = "nosniff"
                fields[.referrerPolicy] = "no-referrer"
                return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: bytes))
            }
        }
    }
}

extension HTTPFields.Element.Name {
    static let referrerPolicy = HTTPFields.Element.Name("Referrer-Policy")!
}
