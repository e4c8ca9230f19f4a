import Foundation
import LeptonImage

/// A scan ready for the classifier and for display, with no patient data attached.
public struct LoadedScan: Sendable {
    /// Gray display image in [0, 1], box-reduced to at most ``ScanLoader/maxDisplaySide`` per side
    /// (what the HTML page and the heatmap overlay show).
    public let display: PlanarImage
    /// Grayscale in [0, 1], `[size, size]` (resized when the file is not already that size).
    public let modelInput: [Float]
    /// "png" or "dicom".
    public let format: String
    /// Modality from a DICOM header (e.g. "CR"), empty for PNG.
    public let modality: String
    /// Identifiers from a DICOM header, only for salted hashing; never printed.
    let identity: [String]
    /// Person names from the DICOM header (`^`-separated components), only to scrub report text.
    var names: [String] = []
    /// Body Part Examined (0018,0015) and View Position (0018,5101) from a DICOM header, empty when
    /// not stated (and for PNG): what ``ScanGate`` checks.
    public var bodyPart = ""
    public var view = ""
}

/// Reads PNG or DICOM scans (by content: the DICM marker or a PNG signature).
public enum ScanLoader {
    /// Largest side of the display image kept per scan. Decoding reduces to it on the fly (PNG) or
    /// right after rendering (DICOM), so memory follows this size, not the file's claimed one.
    public static let maxDisplaySide = 1024

    /// Person-name attributes whose values are scrubbed from report text of the same study:
    /// PatientName, ReferringPhysicianName, PerformingPhysicianName, OperatorsName.
    static let personNameTags = [DICOMTag.patientName, DICOMTag(0x0008, 0x0090), DICOMTag(0x0008, 0x1050), DICOMTag(0x0008, 0x1070)]

    /// Loads `url` and prepares it for a classifier with square input `size`; `frame` (0-based)
    /// picks the frame of a multi-frame DICOM file (a PNG has only frame 0).
    public static func load(_ url: URL, size: Int, frame: Int = 0) throws -> LoadedScan {
        try load(url, height: size, width: size, frame: frame)
    }

    /// Loads `url` for a classifier with input `height` × `width` (see ``load(_:size:frame:)``).
    public static func load(_ url: URL, height: Int, width: Int, frame: Int = 0) throws -> LoadedScan {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DiagnoseError.badScan(file: url.path, reason: error.localizedDescription)
        }
        let bytes = [UInt8](data.prefix(132))
        let isPNG = bytes.count >= 8 && bytes[0] == 0x89 && bytes[1] == 0x50 && bytes[2] == 0x4E && bytes[3] == 0x47
        let display: PlanarImage
        var modality = ""
        var identity: [String] = []
        var names: [String] = []
        var format = "png"
        var bodyPart = "", view = ""
        do {
            if isPNG {
                guard frame == 0 else { throw DICOMError.frameOutOfRange(file: url.path, frame: frame, frames: 1) }
                display = try PNGDecoder.decodeGray(data: data, name: url.path, maxSide: maxDisplaySide).image
            } else {
                let ds = try DICOMDataSet(bytes: [UInt8](data), file: url.path)
                identity = [ds.string(.patientID) ?? "", ds.string(.patientName) ?? "", ds.string(.studyInstanceUID) ?? ""]
                names = personNameTags.compactMap { ds.string($0) }.filter { !$0.isEmpty }
                let img = try DICOMImage(dataSet: ds, frame: frame)
                // Rendered and reduced pixel by pixel: no full-size rendering or float image.
                let gray = img.grayscaleReduced(maxSide: maxDisplaySide)
                display = try PlanarImage(width: gray.width, height: gray.height, channels: 1, pixels: gray.pixels)
                modality = img.modality
                format = "dicom"
                bodyPart = (ds.string(DICOMTag(0x0018, 0x0015)) ?? "").trimmingCharacters(in: .whitespaces)
                view = (ds.string(DICOMTag(0x0018, 0x5101)) ?? "").trimmingCharacters(in: .whitespaces)
            }
        } catch {
            // DICOMError and ImageError start with the path; badScan adds it once.
            let text = "\(error)"
            throw DiagnoseError.badScan(file: url.path, reason: text.hasPrefix(url.path + ": ") ? String(text.dropFirst(url.path.count + 2)) : text)
        }
        var gray = display
        if gray.width != width || gray.height != height {
            do { gray = try gray.resizedBilinear(width: width, height: height) } catch {
                throw DiagnoseError.badScan(file: url.path, reason: "cannot resize: \(error)")
            }
        }
        return LoadedScan(display: display, modelInput: gray.pixels, format: format, modality: modality, identity: identity, names: names,
                          bodyPart: bodyPart, view: view)
    }
}
