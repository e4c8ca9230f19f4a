// AudioFileProbe.swift: checks made before libsndfile sees a file, and the mapping of its failures.

import Foundation

/// Pre-open checks: existence, size, magic bytes and the RIFF `data` chunk size.
///
/// libsndfile quietly clamps a WAV `data` chunk that claims more bytes than the file holds;
/// a hostile header (billions of frames) or a cut-off download would then decode as if nothing
/// were wrong. These checks turn both into typed errors.
enum AudioFileProbe {
    /// Size of the regular file at `path`.
    static func regularFileSize(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw AudioError.fileNotFound(path: path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw AudioError.fileNotFound(path: path) }
        return Int(st.st_size)
    }

    /// Up to `count` leading bytes of the file.
    static func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw AudioError.readFailed(path: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
        guard n >= 0 else { throw AudioError.readFailed(path: path, detail: String(cString: strerror(errno))) }
        return Array(bytes.prefix(n))
    }

    /// Whether the leading bytes carry the signature of a container libsndfile knows.
    static func hasAudioMagic(_ head: [UInt8]) -> Bool {
        guard head.count >= 4 else { return false }
        let tag = String(decoding: head.prefix(4), as: UTF8.self)
        let known: Set<String> = ["RIFF", "RIFX", "RF64", "FORM", "fLaC", "OggS", ".snd", "dns.", "caff",
                                  "riff", "NIST", "wvpk", "MThd", "Crea", "2BIT", "SDS\u{0}", "IMPM", "ID3\u{2}",
                                  "ID3\u{3}", "ID3\u{4}"]
        if known.contains(tag) { return true }
        // MPEG audio frame sync: 11 set bits.
        return head[0] == 0xFF && (head[1] & 0xE0) == 0xE0
    }

    /// Maps a failed `sf_open` to a typed error.
    ///
    /// Without a known signature the bytes are "not audio". With one, libsndfile's message decides:
    /// an encoding or layout it does not implement is "unsupported", a header that stops short is
    /// "truncated", anything else is "malformed".
    static func classifyOpenFailure(path: String, head: [UInt8], fileSize: Int, message: String) -> AudioError {
        let lower = message.lowercased()
        guard hasAudioMagic(head) else { return .notAudio(path: path, detail: message) }
        if lower.contains("not supported") || lower.contains("unsupported") || lower.contains("not implemented")
            || lower.contains("not yet supported") || lower.contains("too many channels") {
            return .unsupported(path: path, detail: message)
        }
        if fileSize < 64 || lower.contains("short") || lower.contains("end of file") || lower.contains("truncat") {
            return .truncated(path: path, detail: "\(message) (\(fileSize) bytes)")
        }
        return .malformed(path: path, detail: message)
    }

    /// For RIFF/WAVE files: walks the chunk list and checks that the `data` chunk fits in the file.
    ///
    /// Streaming writers leave the size 0 or 0xFFFFFFFF when they cannot seek back; those are
    /// accepted (libsndfile then reads to the end of the file).
    static func checkRIFF(path: String, fileSize: Int, limits: AudioLimits) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw AudioError.readFailed(path: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        func bytes(at offset: Int, count: Int) -> [UInt8]? {
            var b = [UInt8](repeating: 0, count: count)
            let n = b.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? b : nil
        }
        func le32(_ b: [UInt8], _ i: Int) -> Int {
            Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
        }
        guard let header = bytes(at: 0, count: 12) else { return }  // too short: let libsndfile judge
        guard header[0...3] == [0x52, 0x49, 0x46, 0x46][...], header[8...11] == [0x57, 0x41, 0x56, 0x45][...] else { return }
        var offset = 12
        var bytesPerSecond = 0
        var chunks = 0
        while offset + 8 <= fileSize, chunks < 10_000 {
            chunks += 1
            guard let chunk = bytes(at: offset, count: 8) else { break }
            let id = String(decoding: chunk[0..<4], as: UTF8.self)
            let size = le32(chunk, 4)
            let available = fileSize - (offset + 8)
            if id == "fmt ", size >= 16, let fmt = bytes(at: offset + 8, count: 16) {
                bytesPerSecond = le32(fmt, 8)
            }
            if id == "data" {
                if size == 0 || size == 0xFFFF_FFFF || size <= available { return }
                let seconds = bytesPerSecond > 0 ? Double(size) / Double(bytesPerSecond) : 0
                if seconds > limits.maxDurationSeconds {
                    throw AudioError.absurdLength(path: path, seconds: seconds, limitSeconds: limits.maxDurationSeconds)
                }
                throw AudioError.truncated(path: path,
                                           detail: "the data chunk declares \(size) bytes but the file holds \(available)")
            }
            if size > available {
                throw AudioError.truncated(path: path, detail: "chunk '\(id)' declares \(size) bytes but the file holds \(available)")
            }
            offset += 8 + size + (size & 1)
        }
        throw AudioError.truncated(path: path, detail: "no data chunk in the RIFF/WAVE file")
    }

    /// For Ogg files: the last page must be whole and carry the end-of-stream flag.
    ///
    /// A cut-off Ogg file still opens, and libsndfile decodes whatever pages remain as if they
    /// were the whole recording (half a call gave half the text and exit 0). A complete stream
    /// ends with a page whose header flags end-of-stream (0x04) and which ends at the file's end.
    /// The last page is found by searching back for the "OggS" capture pattern and confirming
    /// the candidate with the page's CRC (random data can contain the pattern).
    static func checkOggEnd(path: String, fileSize: Int) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw AudioError.readFailed(path: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        // A page is at most 27 + 255 + 255 * 255 bytes, so the last one starts in the last 65,307.
        let tailCount = min(fileSize, 27 + 255 + 255 * 255)
        let start = fileSize - tailCount
        var tail = [UInt8](repeating: 0, count: tailCount)
        let n = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, tailCount, off_t(start)) }
        guard n == tailCount else { throw AudioError.readFailed(path: path, detail: "cannot read the end of the file") }
        var i = tailCount - 27
        while i >= 0 {
            if tail[i] == 0x4F, tail[i + 1] == 0x67, tail[i + 2] == 0x67, tail[i + 3] == 0x53, tail[i + 4] == 0,
               let length = oggPageLength(tail, at: i) {
                if i + length < tailCount {
                    throw AudioError.truncated(path: path, detail: "the file ends in the middle of an Ogg page (\(tailCount - i - length) bytes after the last whole page)")
                }
                if tail[i + 5] & 0x04 == 0 {
                    throw AudioError.truncated(path: path, detail: "the Ogg stream stops before its last page (cut at \(fileSize) bytes)")
                }
                return
            }
            i -= 1
        }
        throw AudioError.truncated(path: path, detail: "no whole Ogg page at the end of the file (cut at \(fileSize) bytes)")
    }

    /// Length of the Ogg page at `bytes[at...]` when it is whole and its CRC matches, else nil.
    static func oggPageLength(_ bytes: [UInt8], at offset: Int) -> Int? {
        guard offset + 27 <= bytes.count else { return nil }
        let segments = Int(bytes[offset + 26])
        guard offset + 27 + segments <= bytes.count else { return nil }
        let body = bytes[(offset + 27)..<(offset + 27 + segments)].reduce(0) { $0 + Int($1) }
        let length = 27 + segments + body
        guard offset + length <= bytes.count else { return nil }
        let stored = UInt32(bytes[offset + 22]) | UInt32(bytes[offset + 23]) << 8 | UInt32(bytes[offset + 24]) << 16 | UInt32(bytes[offset + 25]) << 24
        // Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, over the page
        // with its CRC field read as zero (RFC 3533 section 6).
        var crc: UInt32 = 0
        for k in 0..<length {
            let byte = (22..<26).contains(k) ? 0 : bytes[offset + k]
            crc ^= UInt32(byte) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1 }
        }
        return crc == stored ? length : nil
    }
}
