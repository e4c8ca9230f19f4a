import Foundation

/// Writes `data` to `url` through a temporary file in the same folder and a rename, so a crash
/// or a full disk never leaves a half-written output in place of a good one. The temporary name
/// holds the pid and a random part, so concurrent writers (threads or processes) never share
/// one, and it is removed when anything fails.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let dir = url.deletingLastPathComponent()
    let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
    do {
        try data.write(to: tmp)
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw CLIFailure.input("cannot write \(url.path): \((error as NSError).localizedDescription)")
    }
    if rename(tmp.path, url.path) != 0 {
        let err = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: tmp)
        throw CLIFailure.input("cannot write \(url.path): \(err)")
    }
}
