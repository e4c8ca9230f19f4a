import Foundation

/// Where the site's salt for subject IDs comes from, and its creation on first use.
extension Privacy {
    /// The environment variable that overrides any salt file.
    public static let saltEnvironmentVariable = "LEPTON_DIAGNOSE_SALT"

    /// `$XDG_CONFIG_HOME/lepton/diagnose-salt`, else `~/.config/lepton/diagnose-salt`; nil without a home.
    public static func defaultSaltFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let x = environment["XDG_CONFIG_HOME"], x.hasPrefix("/") {
            return URL(fileURLWithPath: x).appendingPathComponent("lepton/diagnose-salt")
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return URL(fileURLWithPath: home).appendingPathComponent(".config/lepton/diagnose-salt")
    }

    /// The site's privacy settings: the salt from `$LEPTON_DIAGNOSE_SALT` when set and non-empty,
    /// else from `saltFile` (default ``defaultSaltFile(environment:)``), which is created with 256
    /// random bits and mode 0600 (its folder 0700) when it does not exist yet. Creation is atomic
    /// (written aside, then hard-linked into place), so concurrent first runs agree on one salt.
    /// - Throws: `DiagnoseError.saltFile` when the file cannot be read or created, or holds no salt.
    public static func site(saltFile: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Privacy {
        if let s = environment[saltEnvironmentVariable], !s.isEmpty { return Privacy(salt: s) }
        guard let file = saltFile ?? defaultSaltFile(environment: environment) else {
            throw DiagnoseError.saltFile(path: "(none)", reason: "no salt for subject IDs: set $HOME, \(saltEnvironmentVariable) or --salt-file")
        }
        if !FileManager.default.fileExists(atPath: file.path) { try createSalt(at: file) }
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw DiagnoseError.saltFile(path: file.path, reason: "cannot read it: \(error.localizedDescription)")
        }
        let salt = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !salt.isEmpty else { throw DiagnoseError.saltFile(path: file.path, reason: "it is empty; delete it to make a new one") }
        return Privacy(salt: salt)
    }

    static func createSalt(at file: URL) throws {
        let dir = file.deletingLastPathComponent()
        func fail(_ what: String) -> DiagnoseError {
            DiagnoseError.saltFile(path: file.path, reason: "cannot create it (\(what): \(String(cString: strerror(errno))))")
        }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw DiagnoseError.saltFile(path: file.path, reason: "cannot create its folder: \(error.localizedDescription)")
        }
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<4).map { _ -> String in let s = String(rng.next(), radix: 16); return String(repeating: "0", count: 16 - s.count) + s }.joined()
        let temp = dir.appendingPathComponent(".diagnose-salt.\(getpid()).\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw fail("open") }
        let bytes = Array((salt + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        defer { unlink(temp.path) }
        guard written == bytes.count, synced == 0 else { throw fail("write") }
        // link() fails if another process created the file first: then its salt is the site's.
        if link(temp.path, file.path) != 0 && errno != EEXIST { throw fail("link") }
    }
}
