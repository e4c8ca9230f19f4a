import Foundation

/// Why a training log could not be written.
public enum TrainingLogError: Error, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason): return "cannot write training log \(path): \(reason)"
        }
    }
}

/// Writes scalar summaries as a TensorBoard event file (`events.out.tfevents.<time>.<host>`).
///
/// The format is TFRecord framing — `uint64 length`, `uint32 masked CRC32C(length)`, `data`,
/// `uint32 masked CRC32C(data)`, little-endian — around `tensorflow.Event` protocol buffers, which
/// are encoded here by hand (the fields used: `wall_time` 1 double, `step` 2 int64,
/// `file_version` 3 string, `summary` 5 → `Summary.value` 1 → `tag` 1 string, `simple_value` 2 float).
/// Records are appended and flushed as they come, so TensorBoard can watch a running job.
public final class TensorBoardWriter {
    public let fileURL: URL
    private let handle: FileHandle

    /// Creates `directory` if needed and starts a new event file in it.
    public init(directory: URL) throws(TrainingLogError) {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw .cannotWrite(path: directory.path, reason: error.localizedDescription)
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let stamp = Int(Date().timeIntervalSince1970)
        var url = directory.appendingPathComponent("events.out.tfevents.\(stamp).\(host)")
        var n = 1
        while FileManager.default.fileExists(atPath: url.path) {
            url = directory.appendingPathComponent("events.out.tfevents.\(stamp).\(host).\(n)"); n += 1
        }
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let h = try? FileHandle(forWritingTo: url) else {
            throw .cannotWrite(path: url.path, reason: "cannot create the file")
        }
        fileURL = url
        handle = h
        try write(Self.event(wallTime: Date().timeIntervalSince1970, step: 0, fileVersion: "brain.Event:2"))
    }

    deinit { try? handle.close() }

    /// Appends one event holding `scalars` (tag → value) at `step`.
    public func add(scalars: [(String, Float)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws(TrainingLogError) {
        try write(Self.event(wallTime: wallTime, step: step, scalars: scalars))
    }

    private func write(_ event: [UInt8]) throws(TrainingLogError) {
        do { try handle.write(contentsOf: Self.record(event)) } catch {
            throw .cannotWrite(path: fileURL.path, reason: error.localizedDescription)
        }
    }

    // MARK: Encoding (internal, tested byte for byte)

    /// A TFRecord frame around `data`.
    static func record(_ data: [UInt8]) -> Data {
        var out = [UInt8]()
        out.reserveCapacity(data.count + 16)
        let len = littleEndian(UInt64(data.count))
        out += len
        out += littleEndian(maskedCRC32C(len))
        out += data
        out += littleEndian(maskedCRC32C(data))
        return Data(out)
    }

    /// An encoded `Event` message.
    static func event(wallTime: Double, step: Int, fileVersion: String? = nil, scalars: [(String, Float)] = []) -> [UInt8] {
        var e: [UInt8] = [0x09] + littleEndian(wallTime.bitPattern)          // field 1, fixed64
        if step != 0 { e += [0x10] + varint(UInt64(bitPattern: Int64(step))) } // field 2, varint
        if let v = fileVersion { e += lengthDelimited(3, Array(v.utf8)) }
        if !scalars.isEmpty {
            var summary: [UInt8] = []
            for (tag, value) in scalars {
                let val = lengthDelimited(1, Array(tag.utf8)) + [0x15] + littleEndian(value.bitPattern) // tag, simple_value
                summary += lengthDelimited(1, val)
            }
            e += lengthDelimited(5, summary)
        }
        return e
    }

    static func lengthDelimited(_ field: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        varint(field << 3 | 2) + varint(UInt64(bytes.count)) + bytes
    }

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }

    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc = crc32cTable[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked CRC: rotate right by 15 and add a constant.
    static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        let c = crc32c(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }

    static let crc32cTable: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }
}
