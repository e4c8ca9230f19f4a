import Foundation
import LeptonImage

/// A scan ready for the classifier and for display, with no patient data attached.
public struct LoadedScan: Sendable {
    /// Display image in [0, 1], 1 or 3 channels, full resolution.
    public let display: PlanarImage
    /// Grayscale in [0, 1], `[size, size]` (resized when the file is not already that size).
    public let modelInput: [Float]
    /// "png" or "dicom".
    public let format: String
    /// Modality from a DICOM header (e.g. "CR"), empty for PNG.
    public let modality: String
    /// Identifiers from a DICOM header, only for salted hashing; never printed.
    let identity: [String]
}

/// Reads PNG or DICOM scans (by content: the DICM marker or a PNG signature).
public enum ScanLoader {
    /// Loads `url` and prepares it for a classifier with square input `size`.
    public static func load(_ url: URL, size: Int) throws -> LoadedScan {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DiagnoseError.badScan(file: url.path, reason: error.localizedDescription)
        }
        let bytes = [UInt8](data.prefix(132))
        let isPNG = bytes.count >= 8 && bytes[0] == 0x89 && bytes[1] == 0x50 && bytes[2] == 0x4E && bytes[3] == 0x47
        let display: PlanarImage
        var modality = ""
        var identity: [String] = []
        var format = "png"
        do {
            if isPNG {
                display = try PNGDecoder.decode(data: data, name: url.path).normalized
            } else {
                let ds = try DICOMDataSet(bytes: [UInt8](data), file: url.path)
                let img = try DICOMImage(dataSet: ds)
                let (px, ch) = img.rendered()
                var planar = [Float](repeating: 0, count: px.count)
                let n = img.rows * img.columns
                for i in 0..<n { for c in 0..<ch { planar[c * n + i] = Float(px[i * ch + c]) / 255 } }
                display = try PlanarImage(width: img.columns, height: img.rows, channels: ch, pixels: planar)
                modality = img.modality
                identity = [ds.string(.patientID) ?? "", ds.string(.patientName) ?? "", ds.string(.studyInstanceUID) ?? ""]
                format = "dicom"
            }
        } catch let e as DICOMError {
            throw DiagnoseError.badScan(file: url.path, reason: e.description.replacingOccurrences(of: url.path + ": ", with: ""))
        } catch {
            throw DiagnoseError.badScan(file: url.path, reason: "\(error)")
        }
        var gray = display.grayscale()
        if gray.width != size || gray.height != size {
            do { gray = try gray.resizedBilinear(width: size, height: size) } catch {
                throw DiagnoseError.badScan(file: url.path, reason: "cannot resize: \(error)")
            }
        }
        return LoadedScan(display: display, modelInput: gray.pixels, format: format, modality: modality, identity: identity)
    }
}
