import Foundation
import LeptonFiles

/// Reads and writes the safetensors format (Hugging Face): an 8-byte little-endian header length
/// `N`, `N` bytes of JSON header, then the tensor data.
///
/// The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` with offsets
/// relative to the start of the data section; an optional `"__metadata__"` maps strings to strings.
/// The reader trusts nothing: the length is bounded by the file size (and 100 MB), the header must
/// be a JSON object, every dtype × shape must equal its byte range, and the ranges must tile the data
/// section exactly (no overlap, no gap, nothing past the end). A hostile file yields a
/// ``WeightFormatError``, never a crash or an out-of-bounds read.
public enum Safetensors {
    /// Largest header accepted (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    /// Reads `url` (memory-mapped) into a ``WeightStore``.
    public static func read(_ url: URL) throws -> WeightStore {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw WeightFormatError.cannotRead(file: url.path, reason: (error as NSError).localizedDescription)
        }
        return try parse(data, source: url.path)
    }

    /// Parses a whole safetensors file already in memory; `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws -> WeightStore {
        func bad(_ reason: String) -> WeightFormatError { .invalidHeader(file: source, reason: reason) }
        let size = data.count
        guard size >= 8 else { throw bad("file is \(size) bytes, too short for the 8-byte header length") }
        let base = data.startIndex
        let rawLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard rawLength <= UInt64(maxHeaderBytes) else { throw bad("header length \(rawLength) exceeds the \(maxHeaderBytes)-byte limit") }
        let headerLength = Int(rawLength)
        guard headerLength <= size - 8 else {
            throw bad("header length \(headerLength) runs past the end of the \(size)-byte file")
        }
        guard headerLength >= 2 else { throw bad("header length \(headerLength) is too short for a JSON object") }
        let headerBytes = data[(base + 8)..<(base + 8 + headerLength)]
        guard headerBytes.first == UInt8(ascii: "{") else { throw bad("header does not start with '{'") }

        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: headerBytes)
        } catch let e as WeightFormatError {
            throw e
        } catch {
            throw bad("header is not valid JSON of the expected form (\(describe(error)))")
        }

        let dataStart = 8 + headerLength
        let dataSize = size - dataStart
        // Validate every tensor, then check that the byte ranges tile the data section.
        var checked: [(name: String, begin: Int, end: Int, dtype: WeightDType, shape: [Int])] = []
        checked.reserveCapacity(header.tensors.count)
        for (name, t) in header.tensors {
            func badTensor(_ reason: String) -> WeightFormatError { .invalidTensor(file: source, weight: name, reason: reason) }
            guard let dtype = WeightDType(rawValue: t.dtype) else {
                throw WeightFormatError.unsupportedDType(file: source, weight: name, dtype: t.dtype)
            }
            guard t.data_offsets.count == 2 else { throw badTensor("data_offsets must have 2 entries, has \(t.data_offsets.count)") }
            let (begin, end) = (t.data_offsets[0], t.data_offsets[1])
            guard begin >= 0, end >= begin else { throw badTensor("data_offsets [\(begin), \(end)] are not an increasing range") }
            guard end <= dataSize else { throw badTensor("data_offsets [\(begin), \(end)] run past the \(dataSize)-byte data section") }
            guard t.shape.allSatisfy({ $0 >= 0 }) else { throw badTensor("negative extent in shape \(t.shape)") }
            guard let n = WeightEntry.elementCount(t.shape) else { throw badTensor("shape \(t.shape) overflows") }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, bytes == end - begin else {
                throw badTensor("\(dtype.rawValue) \(t.shape) needs \(overflow ? "too many" : String(bytes)) bytes but data_offsets span \(end - begin)")
            }
            checked.append((name, begin, end, dtype, t.shape))
        }
        checked.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        for t in checked {
            if t.begin < cursor { throw WeightFormatError.invalidTensor(file: source, weight: t.name, reason: "data_offsets [\(t.begin), \(t.end)] overlap another tensor") }
            if t.begin > cursor { throw WeightFormatError.invalidTensor(file: source, weight: t.name, reason: "gap of \(t.begin - cursor) bytes before data_offsets [\(t.begin), \(t.end)]") }
            cursor = t.end
        }
        guard cursor == dataSize else { throw bad("tensors cover \(cursor) bytes but the data section has \(dataSize)") }

        var entries: [String: WeightEntry] = [:]
        for t in checked {
            let r = (base + dataStart + t.begin)..<(base + dataStart + t.end)
            entries[t.name] = try WeightEntry(dtype: t.dtype, shape: t.shape, bytes: data, range: r)
        }
        return WeightStore(source: source, entries: entries, metadata: header.metadata)
    }

    /// Serialises `weights` (sorted by name, packed without padding) and `metadata` to safetensors bytes.
    public static func encode(_ weights: [String: WeightEntry], metadata: [String: String] = [:]) -> Data {
        let names = weights.keys.sorted()
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{" + metadata.keys.sorted().map { "\(jsonStringLiteral($0)):\(jsonStringLiteral(metadata[$0]!))" }.joined(separator: ",") + "}"
            first = false
        }
        var offset = 0
        for name in names {
            let w = weights[name]!
            if !first { json += "," }
            first = false
            json += "\(jsonStringLiteral(name)):{\"dtype\":\"\(w.dtype.rawValue)\",\"shape\":[\(w.shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(offset),\(offset + w.byteCount)]}"
            offset += w.byteCount
        }
        json += "}"
        var header = Data(json.utf8)
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(header)
        for name in names { weights[name]!.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes `weights` to `url` atomically (a temporary file in the same folder, then a rename).
    public static func write(_ weights: [String: WeightEntry], metadata: [String: String] = [:], to url: URL) throws {
        try writeFileAtomically(encode(weights, metadata: metadata), to: url)
    }

    /// Writes Float32 tensors (each stored as `dtype`, F32 by default) to `url` atomically.
    public static func write(tensors: [String: Tensor], as dtype: WeightDType = .f32, metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.mapValues { WeightEntry(encoding: $0, as: dtype) }, metadata: metadata, to: url)
    }

    // MARK: Header decoding

    struct TensorHeader: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct Header: Decodable {
        var tensors: [(String, TensorHeader)] = []
        var metadata: [String: String] = [:]
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for key in c.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try c.decode([String: String].self, forKey: key)
                } else {
                    tensors.append((key.stringValue, try c.decode(TensorHeader.self, forKey: key)))
                }
            }
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let ctx): return ctx.debugDescription
        case DecodingError.keyNotFound(let key, let ctx): return "missing \"\(key.stringValue)\" at \(path(ctx))"
        case DecodingError.typeMismatch(_, let ctx): return "wrong type at \(path(ctx)): \(ctx.debugDescription)"
        case DecodingError.valueNotFound(_, let ctx): return "null at \(path(ctx))"
        default: return "\(error)"
        }
    }

    static func path(_ ctx: DecodingError.Context) -> String {
        ctx.codingPath.map(\.stringValue).joined(separator: ".")
    }
}

/// Writes `data` to `url` with ``AtomicFile`` (a unique temporary file in the same folder, flushed,
/// then renamed; removed on failure), reporting a failure as a ``WeightFormatError`` naming `url`.
public func writeFileAtomically(_ data: Data, to url: URL) throws {
    do { try AtomicFile.write(data, to: url) } catch {
        throw WeightFormatError.cannotWrite(file: error.path, reason: error.reason)
    }
}
